// forms.jsx: the pieces the pages' forms and job pages share: a form in a
// card, the task picker, an upload with its progress and cancel button, a
// delete button for a table row, and a job page's title with its stop button.
import { useRef, useState } from 'preact/hooks';
import { upload } from './api.js';
import { ErrorBox, Field, Loading, Notice, UploadProgress } from './components.jsx';
import { TASKS } from './util.js';

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

// One multipart upload at a time, with its progress ({sent, total} or
// null). send(path, form, size) resolves to admin's answer.
export function useUpload() {
  const [progress, setProgress] = useState(null);
  const current = useRef(null);
  const send = async (path, form, size) => {
    setProgress({ sent: 0, total: size });
    current.current = upload(path, form, (sent, total) => setProgress({ sent, total }));
    try {
      return await current.current.promise;
    } finally {
      current.current = null;
      setProgress(null);
    }
  };
  const cancel = () => current.current && current.current.abort();
  return { progress, send, cancel };
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
export function UploadStatus({ id, sending: { progress }, file, error, done }) {
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

// A job page's top: the crumbs back to the list, the title, a stop button
// while the job runs, and the errors of loading and stopping it. kind is
// "train job" or "inference job".
export function JobTitle({ kind, listHref, listLabel, app, version, job, record, canStop, stopper }) {
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
        {canStop ? (
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
