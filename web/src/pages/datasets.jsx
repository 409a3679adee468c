// datasets.jsx: the user's datasets (GET /datasets) and the upload form
// (POST /datasets, multipart, with a progress bar from XHR upload events).
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { ErrorBox, Field, useResource } from '../components.jsx';
import { DeleteButton, FileField, FormCard, ListTable, TaskSelect, UploadButtons, UploadStatus, useDelete, useUpload } from '../forms.jsx';
import { TASKS, formatBytes, formatTime, listOf } from '../util.js';

function UploadDataset({ onDone }) {
  const [name, setName] = useState('');
  const [task, setTask] = useState(TASKS[0]);
  const sending = useUpload();

  const submit = async (event) => {
    event.preventDefault();
    sending.begin();
    const file = sending.file;
    if (!name.trim()) return sending.setError('Give the dataset a name.');
    if (!file) return sending.setError('Choose a dataset file to upload.');
    const form = new FormData();
    form.append('name', name.trim());
    form.append('task', task);
    form.append('dataset', file, file.name);
    const answer = await sending.send(
      '/datasets',
      form,
      (a) => `Uploaded dataset ${a && a.name ? a.name : name} (${formatBytes(a && a.size_bytes !== undefined ? a.size_bytes : file.size)}).`,
    );
    if (answer === undefined) return;
    setName('');
    onDone();
  };

  return (
    <FormCard id="upload-dataset" title="Upload a dataset" onSubmit={submit} after={<UploadStatus id="dataset-progress" upload={sending} />}>
      <Field id="dataset-name" label="Name">
        <input id="dataset-name" value={name} required onInput={(e) => setName(e.currentTarget.value)} />
      </Field>
      <TaskSelect id="dataset-task" value={task} onChange={setTask} />
      <FileField id="dataset-file" label="File" hint="CSV for tabular tasks, zip for images and tagging" upload={sending} />
      <UploadButtons upload={sending} />
    </FormCard>
  );
}

export function Datasets() {
  const datasets = useResource(() => api.datasets(), []);
  const deleting = useDelete('dataset', api.deleteDataset, datasets.reload);
  const list = listOf(datasets.data, 'datasets');

  return (
    <>
      <h1>Datasets</h1>
      <UploadDataset onDone={datasets.reload} />
      <section aria-labelledby="datasets-title">
        <h2 id="datasets-title">Your datasets</h2>
        <ListTable
          id="datasets-table"
          caption="Your datasets"
          resource={datasets}
          items={list}
          what="datasets"
          errors={<ErrorBox error={deleting.error} label="Could not delete" />}
          empty="No datasets yet: upload one above."
          columns={['Name', 'Task', 'Size', 'Uploaded', 'Id', { hidden: 'Actions' }]}
          row={(d) => (
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
          )}
        />
      </section>
    </>
  );
}
