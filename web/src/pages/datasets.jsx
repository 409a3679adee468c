// datasets.jsx: the user's datasets (GET /datasets) and the upload form
// (POST /datasets, multipart, with a progress bar from XHR upload events).
import { useRef, useState } from 'preact/hooks';
import { api, upload } from '../api.js';
import { ErrorBox, Field, Loading, Notice, UploadProgress, useResource } from '../components.jsx';
import { TASKS, formatBytes, formatTime, listOf } from '../util.js';

function UploadDataset({ onDone }) {
  const [name, setName] = useState('');
  const [task, setTask] = useState(TASKS[0]);
  const [file, setFile] = useState(null);
  const [progress, setProgress] = useState(null);
  const [error, setError] = useState(null);
  const [done, setDone] = useState(null);
  const current = useRef(null);
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
    setProgress({ sent: 0, total: file.size });
    current.current = upload('/datasets', form, (sent, total) => setProgress({ sent, total }));
    try {
      const answer = await current.current.promise;
      setDone(`Uploaded dataset ${answer && answer.name ? answer.name : name} (${formatBytes(answer && answer.size_bytes !== undefined ? answer.size_bytes : file.size)}).`);
      setName('');
      setFile(null);
      if (fileInput.current) fileInput.current.value = '';
      onDone();
    } catch (err) {
      setError(err);
    } finally {
      current.current = null;
      setProgress(null);
    }
  };

  return (
    <section class="card" aria-labelledby="upload-dataset-title">
      <h2 id="upload-dataset-title">Upload a dataset</h2>
      <form onSubmit={submit} class="grid-form">
        <Field id="dataset-name" label="Name">
          <input id="dataset-name" value={name} required onInput={(e) => setName(e.currentTarget.value)} />
        </Field>
        <Field id="dataset-task" label="Task">
          <select id="dataset-task" value={task} onChange={(e) => setTask(e.currentTarget.value)}>
            {TASKS.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </Field>
        <Field id="dataset-file" label="File" hint="CSV for tabular tasks, zip for images and tagging">
          <input
            id="dataset-file"
            type="file"
            ref={fileInput}
            aria-describedby="dataset-file-hint"
            onChange={(e) => setFile(e.currentTarget.files[0] || null)}
          />
        </Field>
        <div class="actions">
          <button type="submit" disabled={!!progress}>
            Upload
          </button>
          {progress ? (
            <button type="button" class="secondary" onClick={() => current.current && current.current.abort()}>
              Cancel upload
            </button>
          ) : null}
        </div>
      </form>
      {progress ? (
        <UploadProgress id="dataset-progress" sent={progress.sent} total={progress.total} name={file ? file.name : ''} />
      ) : null}
      <ErrorBox error={error} label="Upload failed" />
      <Notice>{done}</Notice>
    </section>
  );
}

export function Datasets() {
  const { data, error, loading, reload } = useResource(() => api.datasets(), []);
  const [deleteError, setDeleteError] = useState(null);
  const datasets = listOf(data, 'datasets');

  const remove = async (dataset) => {
    if (!window.confirm(`Delete dataset ${dataset.name}?`)) return;
    setDeleteError(null);
    try {
      await api.deleteDataset(dataset.id);
      reload();
    } catch (err) {
      setDeleteError(err);
    }
  };

  return (
    <>
      <h1>Datasets</h1>
      <UploadDataset onDone={reload} />
      <section aria-labelledby="datasets-title">
        <h2 id="datasets-title">Your datasets</h2>
        <ErrorBox error={error} label="Could not list datasets" />
        <ErrorBox error={deleteError} label="Could not delete" />
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
                      <button type="button" class="link danger" onClick={() => remove(d)}>
                        Delete<span class="visually-hidden"> {d.name}</span>
                      </button>
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
