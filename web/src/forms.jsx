// forms.jsx: the pieces the pages' forms and job pages share: a form in a
// card, the task picker, an upload with its progress and cancel button, a
// delete button for a table row, and a job page's title with its stop button.
import { useRef, useState } from 'preact/hooks';
import { upload } from './api.js';
import { ErrorBox, Field, Loading, Notice, StatusBadge, UploadProgress } from './components.jsx';
import { TASKS, formatTime } from './util.js';

// A form in a card under its own heading; `after` is shown below the form.
export function FormCard({ id, title, onSubmit, after, children }) {
  return (
    <section class="card" aria-labelledby={id + '-title'}>
      <h2 id={id + '-title'}>{title}</h2>
      <form onSubmit={onSubmit} class="grid-form">
        {children}
      </form>
      {after}
    </section>
  );
}

// A labelled select of the tasks.
export function TaskSelect({ id, value, onChange }) {
  return (
    <Field id={id} label="Task">
      <select id={id} value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        {TASKS.map((t) => (
          <option key={t} value={t}>
            {t}
          </option>
        ))}
      </select>
    </Field>
  );
}

// One multipart upload at a time: the file chosen, the progress ({sent,
// total} or null), and the outcome (error, or the notice `done`).
export function useUpload() {
  const [file, setFile] = useState(null);
  const [progress, setProgress] = useState(null);
  const [error, setError] = useState(null);
  const [done, setDone] = useState(null);
  const current = useRef(null);
  const fileInput = useRef(null);
  // Clears the last outcome, as a new submission starts.
  const begin = () => {
    setError(null);
    setDone(null);
  };
  // Uploads form to path. On success shows notice(answer), forgets the file
  // and resolves to admin's answer; on failure shows why and resolves to
  // undefined.
  const send = async (path, form, notice) => {
    setProgress({ sent: 0, total: file.size });
    current.current = upload(path, form, (sent, total) => setProgress({ sent, total }));
    try {
      const answer = await current.current.promise;
      setDone(notice(answer));
      setFile(null);
      if (fileInput.current) fileInput.current.value = '';
      return answer;
    } catch (err) {
      setError(err);
      return undefined;
    } finally {
      current.current = null;
      setProgress(null);
    }
  };
  const cancel = () => current.current && current.current.abort();
  return { file, setFile, fileInput, progress, error, setError, done, begin, send, cancel };
}

// The file picker of an upload form.
export function FileField({ id, label, hint, accept, upload: { fileInput, setFile } }) {
  return (
    <Field id={id} label={label} hint={hint}>
      <input
        id={id}
        type="file"
        accept={accept}
        ref={fileInput}
        aria-describedby={hint ? id + '-hint' : undefined}
        onChange={(e) => setFile(e.currentTarget.files[0] || null)}
      />
    </Field>
  );
}

// The submit button of an upload form, and Cancel while it uploads.
export function UploadButtons({ upload: { progress, cancel } }) {
  return (
    <div class="actions">
      <button type="submit" disabled={!!progress}>
        Upload
      </button>
      {progress ? (
        <button type="button" class="secondary" onClick={cancel}>
          Cancel upload
        </button>
      ) : null}
    </div>
  );
}

// Below an upload form: the progress bar while it uploads, then what went
// wrong or what was uploaded.
export function UploadStatus({ id, upload: { progress, file, error, done } }) {
  return (
    <>
      {progress ? <UploadProgress id={id} sent={progress.sent} total={progress.total} name={file ? file.name : ''} /> : null}
      <ErrorBox error={error} label="Upload failed" />
      <Notice>{done}</Notice>
    </>
  );
}

// Deleting the rows of a list: remove(item) asks, calls `call(item.id)`
// and reloads; error is what went wrong.
export function useDelete(what, call, reload) {
  const [error, setError] = useState(null);
  const remove = async (item) => {
    if (!window.confirm(`Delete ${what} ${item.name}?`)) return;
    setError(null);
    try {
      await call(item.id);
      reload();
    } catch (err) {
      setError(err);
    }
  };
  return { remove, error };
}

// A table row's Delete button, named for screen readers.
export function DeleteButton({ name, onClick }) {
  return (
    <button type="button" class="link danger" onClick={onClick}>
      Delete<span class="visually-hidden"> {name}</span>
    </button>
  );
}

// Stopping a job: stop() calls `call` then `reload`; stopping while it
// runs, error when it failed.
export function useStop(call, reload) {
  const [error, setError] = useState(null);
  const [stopping, setStopping] = useState(false);
  const stop = async () => {
    setError(null);
    setStopping(true);
    try {
      await call();
      reload();
    } catch (err) {
      setError(err);
    }
    setStopping(false);
  };
  return { stop, stopping, error };
}

// Whether a job (or service) is still at work: STARTED or RUNNING.
export function isActive(record) {
  return !!record && (record.status === 'STARTED' || record.status === 'RUNNING');
}

// The two kinds of job page: what they are called and where their list is.
export const TRAIN_JOB = { kind: 'train job', listHref: '#/jobs', listLabel: 'Train jobs' };
export const INFERENCE_JOB = { kind: 'inference job', listHref: '#/inference', listLabel: 'Inference jobs' };

// A job page's top: the crumbs back to the list, the title, a stop button
// while the job is active, and the errors of loading and stopping it. page
// is TRAIN_JOB or INFERENCE_JOB; job the resource, record the job itself.
export function JobTitle({ page: { kind, listHref, listLabel }, app, version, job, record, stopper }) {
  const Kind = kind[0].toUpperCase() + kind.slice(1);
  return (
    <>
      <p class="crumbs">
        <a href={listHref}>{listLabel}</a> › {app} v{version}
      </p>
      <div class="title-row">
        <h1>
          {Kind} {app} <span class="muted">v{version}</span>
        </h1>
        {isActive(record) ? (
          <button type="button" class="danger" onClick={stopper.stop} disabled={stopper.stopping}>
            {stopper.stopping ? 'Stopping…' : `Stop ${kind}`}
          </button>
        ) : null}
      </div>
      <ErrorBox error={job.error} label={`Could not load the ${kind}`} />
      <ErrorBox error={stopper.error} label={`Could not stop the ${kind}`} />
      {job.loading && !record ? <Loading what={`the ${kind}`} /> : null}
    </>
  );
}

// A job's facts as a definition list in a card (titled for screen readers
// only): its status (in #statusId), then `children`, then when it started
// and stopped, then `more`.
export function JobFacts({ id, title, statusId, record, children, more }) {
  return (
    <section class="card" aria-labelledby={id + '-title'}>
      <h2 id={id + '-title'} class="visually-hidden">
        {title}
      </h2>
      <dl class="facts">
        <dt>Status</dt>
        <dd id={statusId}>
          <StatusBadge status={record.status} />
        </dd>
        {children}
        <dt>Started</dt>
        <dd>{formatTime(record.datetime_started)}</dd>
        <dt>Stopped</dt>
        <dd>{formatTime(record.datetime_stopped) || '—'}</dd>
        {more}
      </dl>
    </section>
  );
}

// A resource's list: its loading error (and `errors`, e.g. of deleting), a
// note while it first loads, `empty` when it holds nothing, else a table
// with a visually hidden caption, one header cell per column (a string, or
// {hidden: 'Actions'} for a column named only for screen readers), and
// row(item) for each item.
export function ListTable({ id, caption, resource, items, what, errors, empty, columns, row }) {
  const { data, error, loading } = resource;
  return (
    <>
      <ErrorBox error={error} label={`Could not list ${what}`} />
      {errors}
      {loading && !data ? <Loading what={what} /> : null}
      {data && items.length === 0 ? <p class="muted">{empty}</p> : null}
      {items.length > 0 ? (
        <div class="table-wrap">
          <table id={id}>
            <caption class="visually-hidden">{caption}</caption>
            <thead>
              <tr>
                {columns.map((c, i) => (
                  <th key={i} scope="col">
                    {typeof c === 'string' ? c : <span class="visually-hidden">{c.hidden}</span>}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>{items.map(row)}</tbody>
          </table>
        </div>
      ) : null}
    </>
  );
}
