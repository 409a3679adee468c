// datasets.jsx: the user's datasets (GET /datasets) and the upload form
// (POST /datasets, multipart, with a progress bar from XHR upload events).
import { useRef, useState } from 'preact/hooks';
import { api } from '../api.js';
import { ErrorBox, Field, Loading, useResource } from '../components.jsx';
import { DeleteButton, FormCard, TaskSelect, UploadButtons, UploadStatus, useDelete, useUpload } from '../forms.jsx';
import { TASKS, formatBytes, formatTime, listOf } from '../util.js';

function UploadDataset({ onDone }) {
  const [name, setName] = useState('');
  const [task, setTask] = useState(TASKS[0]);
  const [file, setFile] = useState(null);
  const [error, setError] = useState(null);
  const [done, setDone] = useState(null);
  const sending = useUpload();
  const fileInput = useRef(null);

  const submit = async (event) => {
    event.preventDefault();
    setError(null);
    setDone(null);
    if (!name.trim()) return setError('Give the dataset a name.');
    if (!file) return setError('Choose a dataset file to upload.');
    const form = new FormData();
    form.append('name', name.trim());
    form.append('task', task);
    form.append('dataset', file, file.name);
    try {
      const answer = await sending.send('/datasets', form, file.size);
      setDone(`Uploaded dataset ${answer && answer.name ? answer.name : name} (${formatBytes(answer && answer.size_bytes !== undefined ? answer.size_bytes : file.size)}).`);
      setName('');
      setFile(null);
      if (fileInput.current) fileInput.current.value = '';
      onDone();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <FormCard
      id="upload-dataset"
      title="Upload a dataset"
      onSubmit={submit}
      after={<UploadStatus id="dataset-progress" sending={sending} file={file} error={error} done={done} />}
    >
      <Field id="dataset-name" label="Name">
        <input id="dataset-name" value={name} required onInput={(e) => setName(e.currentTarget.value)} />
      </Field>
      <TaskSelect id="dataset-task" value={task} onChange={setTask} />
      <Field id="dataset-file" label="File" hint="CSV for tabular tasks, zip for images and tagging">
        <input
          id="dataset-file"
          type="file"
          ref={fileInput}
          aria-describedby="dataset-file-hint"
          onChange={(e) => setFile(e.currentTarget.files[0] || null)}
        />
      </Field>
      <UploadButtons upload={sending} />
    </FormCard>
  );
}

export function Datasets() {
  const { data, error, loading, reload } = useResource(() => api.datasets(), []);
  const deleting = useDelete('dataset', api.deleteDataset, reload);
  const datasets = listOf(data, 'datasets');

  return (
    <>
      <h1>Datasets</h1>
      <UploadDataset onDone={reload} />
      <section aria-labelledby="datasets-title">
        <h2 id="datasets-title">Your datasets</h2>
        <ErrorBox error={error} label="Could not list datasets" />
        <ErrorBox error={deleting.error} label="Could not delete" />
        {loading && !data ? <Loading what="datasets" /> : null}
        {data && datasets.length === 0 ? <p class="muted">No datasets yet: upload one above.</p> : null}
        {datasets.length > 0 ? (
          <div class="table-wrap">
            <table id="datasets-table">
              <caption class="visually-hidden">Your datasets</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Task</th>
                  <th scope="col">Size</th>
                  <th scope="col">Uploaded</th>
                  <th scope="col">Id</th>
                  <th scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {datasets.map((d) => (
                  <tr key={d.id}>
                    <th scope="row">{d.name}</th>
                    <td>{d.task}</td>
                    <td class="num">{formatBytes(d.size_bytes)}</td>
                    <td>{formatTime(d.datetime_created)}</td>
                    <td class="id">{d.id}</td>
                    <td>
                      <DeleteButton name={d.name} onClick={() => deleting.remove(d)} />
                    </td>
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
