// models.jsx: the models the user can use (GET /models/available) and, for
// model developers and admins, the upload form (POST /models, multipart).
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { ErrorBox, Field, useResource } from '../components.jsx';
import { DeleteButton, FileField, FormCard, ListTable, TaskSelect, UploadButtons, UploadStatus, useDelete, useUpload } from '../forms.jsx';
import { TASKS, formatTime, listOf, parseJsonField } from '../util.js';

const DEVELOPERS = ['SUPERADMIN', 'ADMIN', 'MODEL_DEVELOPER'];

function UploadModel({ onDone }) {
  const [name, setName] = useState('');
  const [task, setTask] = useState(TASKS[0]);
  const [modelClass, setModelClass] = useState('');
  const [access, setAccess] = useState('PRIVATE');
  const [dependencies, setDependencies] = useState('');
  const [dockerImage, setDockerImage] = useState('');
  const sending = useUpload();

  const submit = async (event) => {
    event.preventDefault();
    sending.begin();
    const file = sending.file;
    if (!name.trim()) return sending.setError('Give the model a name.');
    if (!file) return sending.setError('Choose the model template file (.so) to upload.');
    let deps;
    try {
      deps = parseJsonField(dependencies, 'Dependencies', null);
    } catch (err) {
      return sending.setError(err);
    }
    const form = new FormData();
    form.append('name', name.trim());
    form.append('task', task);
    form.append('model_class', modelClass.trim() || name.trim());
    form.append('access_right', access);
    if (deps !== null) form.append('dependencies', JSON.stringify(deps));
    if (dockerImage.trim()) form.append('docker_image', dockerImage.trim());
    form.append('model_file_bytes', file, file.name);
    const answer = await sending.send('/models', form, (a) => `Uploaded model ${(a && a.name) || name}.`);
    if (answer === undefined) return;
    setName('');
    setModelClass('');
    onDone();
  };

  return (
    <FormCard
      id="upload-model"
      title="Upload a model template"
      onSubmit={submit}
      after={<UploadStatus id="model-progress" upload={sending} />}
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
      <FileField id="model-file" label="Template file (.so)" accept=".so" upload={sending} />
      <UploadButtons upload={sending} />
    </FormCard>
  );
}

export function Models({ session }) {
  const models = useResource(() => api.models(), []);
  const deleting = useDelete('model', api.deleteModel, models.reload);
  const list = listOf(models.data, 'models');
  const developer = DEVELOPERS.includes(session.user_type);

  return (
    <>
      <h1>Models</h1>
      {developer ? (
        <UploadModel onDone={models.reload} />
      ) : (
        <p class="muted">Model templates are uploaded by model developers; here are the ones you can use.</p>
      )}
      <section aria-labelledby="models-title">
        <h2 id="models-title">Available models</h2>
        <ListTable
          id="models-table"
          caption="Available models"
          resource={models}
          items={list}
          what="models"
          errors={<ErrorBox error={deleting.error} label="Could not delete" />}
          empty="No models available yet."
          columns={['Name', 'Task', 'Class', 'Access', 'Uploaded', ...(developer ? [{ hidden: 'Actions' }] : [])]}
          row={(m) => (
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
          )}
        />
      </section>
    </>
  );
}
