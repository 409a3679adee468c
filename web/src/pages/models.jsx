// models.jsx: the models the user can use (GET /models/available) and, for
// model developers and admins, the upload form (POST /models, multipart).
import { useRef, useState } from 'preact/hooks';
import { api } from '../api.js';
import { ErrorBox, Field, Loading, useResource } from '../components.jsx';
import { DeleteButton, FormCard, TaskSelect, UploadButtons, UploadStatus, useDelete, useUpload } from '../forms.jsx';
import { TASKS, formatTime, listOf, parseJsonField } from '../util.js';

const DEVELOPERS = ['SUPERADMIN', 'ADMIN', 'MODEL_DEVELOPER'];

function UploadModel({ onDone }) {
  const [name, setName] = useState('');
  const [task, setTask] = useState(TASKS[0]);
  const [modelClass, setModelClass] = useState('');
  const [access, setAccess] = useState('PRIVATE');
  const [dependencies, setDependencies] = useState('');
  const [dockerImage, setDockerImage] = useState('');
  const [file, setFile] = useState(null);
  const [error, setError] = useState(null);
  const [done, setDone] = useState(null);
  const sending = useUpload();
  const fileInput = useRef(null);

  const submit = async (event) => {
    event.preventDefault();
    setError(null);
    setDone(null);
    if (!name.trim()) return setError('Give the model a name.');
    if (!file) return setError('Choose the model template file (.so) to upload.');
    let deps;
    try {
      deps = parseJsonField(dependencies, 'Dependencies', null);
    } catch (err) {
      return setError(err);
    }
    const form = new FormData();
    form.append('name', name.trim());
    form.append('task', task);
    form.append('model_class', modelClass.trim() || name.trim());
    form.append('access_right', access);
    if (deps !== null) form.append('dependencies', JSON.stringify(deps));
    if (dockerImage.trim()) form.append('docker_image', dockerImage.trim());
    form.append('model_file_bytes', file, file.name);
    try {
      const answer = await sending.send('/models', form, file.size);
      setDone(`Uploaded model ${(answer && answer.name) || name}.`);
      setName('');
      setModelClass('');
      setFile(null);
      if (fileInput.current) fileInput.current.value = '';
      onDone();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <FormCard
      id="upload-model"
      title="Upload a model template"
      onSubmit={submit}
      after={<UploadStatus id="model-progress" sending={sending} file={file} error={error} done={done} />}
    >
      <Field id="model-name" label="Name">
        <input id="model-name" value={name} required onInput={(e) => setName(e.currentTarget.value)} />
      </Field>
      <TaskSelect id="model-task" value={task} onChange={setTask} />
      <Field id="model-class" label="Model class" hint="The template's name; the model's name when empty">
        <input id="model-class" value={modelClass} aria-describedby="model-class-hint" onInput={(e) => setModelClass(e.currentTarget.value)} />
      </Field>
      <Field id="model-access" label="Access">
        <select id="model-access" value={access} onChange={(e) => setAccess(e.currentTarget.value)}>
          <option value="PRIVATE">Private (only you)</option>
          <option value="PUBLIC">Public (every user)</option>
        </select>
      </Field>
      <Field id="model-deps" label="Dependencies (JSON, optional)" hint='e.g. {"libxgboost0": "1.7"}'>
        <input id="model-deps" value={dependencies} aria-describedby="model-deps-hint" onInput={(e) => setDependencies(e.currentTarget.value)} />
      </Field>
      <Field id="model-image" label="Container image (optional)">
        <input id="model-image" value={dockerImage} onInput={(e) => setDockerImage(e.currentTarget.value)} />
      </Field>
      <Field id="model-file" label="Template file (.so)">
        <input id="model-file" type="file" accept=".so" ref={fileInput} onChange={(e) => setFile(e.currentTarget.files[0] || null)} />
      </Field>
      <UploadButtons upload={sending} />
    </FormCard>
  );
}

export function Models({ session }) {
  const { data, error, loading, reload } = useResource(() => api.models(), []);
  const deleting = useDelete('model', api.deleteModel, reload);
  const models = listOf(data, 'models');
  const developer = DEVELOPERS.includes(session.user_type);

  return (
    <>
      <h1>Models</h1>
      {developer ? (
        <UploadModel onDone={reload} />
      ) : (
        <p class="muted">Model templates are uploaded by model developers; here are the ones you can use.</p>
      )}
      <section aria-labelledby="models-title">
        <h2 id="models-title">Available models</h2>
        <ErrorBox error={error} label="Could not list models" />
        <ErrorBox error={deleting.error} label="Could not delete" />
        {loading && !data ? <Loading what="models" /> : null}
        {data && models.length === 0 ? <p class="muted">No models available yet.</p> : null}
        {models.length > 0 ? (
          <div class="table-wrap">
            <table id="models-table">
              <caption class="visually-hidden">Available models</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Task</th>
                  <th scope="col">Class</th>
                  <th scope="col">Access</th>
                  <th scope="col">Uploaded</th>
                  {developer ? (
                    <th scope="col">
                      <span class="visually-hidden">Actions</span>
                    </th>
                  ) : null}
                </tr>
              </thead>
              <tbody>
                {models.map((m) => (
                  <tr key={m.id}>
                    <th scope="row">{m.name}</th>
                    <td>{m.task}</td>
                    <td>{m.model_class}</td>
                    <td>{m.access_right}</td>
                    <td>{formatTime(m.datetime_created)}</td>
                    {developer ? (
                      <td>
                        {m.user_id === session.user_id || session.user_type !== 'MODEL_DEVELOPER' ? (
                          <DeleteButton name={m.name} onClick={() => deleting.remove(m)} />
                        ) : null}
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </section>
    </>
  );
}
