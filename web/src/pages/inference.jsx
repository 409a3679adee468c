// inference.jsx: inference jobs: the list, the create form (deploy the best
// trials of a train job), and a job's detail with its status, predictor_host
// and a box that sends a query to predictor_host/predict and shows the
// prediction. JobStatus events of kind INFERENCE refresh it live.
import { useEffect, useState } from 'preact/hooks';
import { api, predict } from '../api.js';
import { ErrorBox, Field, StatusBadge, useResource } from '../components.jsx';
import { useLiveRefresh } from '../events.js';
import { FormCard, INFERENCE_JOB, JobFacts, JobTitle, ListTable, isActive, useStop } from '../forms.jsx';
import { navigate } from '../nav.js';
import { formatTime, listOf } from '../util.js';

const jobHash = (job) => `#/inference/${encodeURIComponent(job.app)}/${encodeURIComponent(job.app_version)}`;

function CreateInferenceJob({ onCreated }) {
  const trainJobs = useResource(() => api.trainJobs(), []);
  const apps = [...new Set(listOf(trainJobs.data, 'train_jobs', 'jobs').map((j) => j.app))];
  const [app, setApp] = useState('');
  const [version, setVersion] = useState('-1');
  const [maxTrials, setMaxTrials] = useState('2');
  const [replicas, setReplicas] = useState('1');
  const [gpus, setGpus] = useState('0');
  const [token, setToken] = useState(false);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (!app && apps.length) setApp(apps[0]);
  }, [trainJobs.data]);

  const submit = async (event) => {
    event.preventDefault();
    setError(null);
    if (!app) return setError('Choose the app whose train job to deploy.');
    const v = Number(version);
    const m = Number(maxTrials);
    const r = Number(replicas);
    const g = Number(gpus);
    if (!Number.isInteger(v) || (v < 1 && v !== -1)) return setError('App version must be -1 (latest) or a version number.');
    if (!Number.isInteger(m) || m < 1) return setError('Trials to deploy must be a whole number of at least 1.');
    if (!Number.isInteger(r) || r < 1) return setError('Replicas must be a whole number of at least 1.');
    if (!Number.isInteger(g) || g < 0) return setError('GPUs must be a whole number, 0 or more.');
    setBusy(true);
    try {
      const answer = await api.createInferenceJob({
        app,
        app_version: v,
        max_trials: m,
        replicas: r,
        budget: { GPU_COUNT: g },
        auth: token ? 'token' : 'open',
      });
      onCreated(answer, app);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <FormCard id="new-inference" title="Deploy a train job" onSubmit={submit}>
      <Field id="infer-app" label="App">
        <select id="infer-app" value={app} onChange={(e) => setApp(e.currentTarget.value)}>
          {apps.length === 0 ? <option value="">No train jobs yet</option> : null}
          {apps.map((a) => (
            <option key={a} value={a}>
              {a}
            </option>
          ))}
        </select>
      </Field>
      <Field id="infer-version" label="App version" hint="-1: the latest">
        <input id="infer-version" type="number" step="1" min="-1" value={version} aria-describedby="infer-version-hint" onInput={(e) => setVersion(e.currentTarget.value)} />
      </Field>
      <Field id="infer-max-trials" label="Best trials to deploy">
        <input id="infer-max-trials" type="number" min="1" step="1" value={maxTrials} onInput={(e) => setMaxTrials(e.currentTarget.value)} />
      </Field>
      <Field id="infer-replicas" label="Replicas per trial">
        <input id="infer-replicas" type="number" min="1" step="1" value={replicas} onInput={(e) => setReplicas(e.currentTarget.value)} />
      </Field>
      <Field id="infer-gpus" label="GPUs (GPU_COUNT)">
        <input id="infer-gpus" type="number" min="0" step="1" value={gpus} onInput={(e) => setGpus(e.currentTarget.value)} />
      </Field>
      <label class="check wide">
        <input id="infer-auth-token" type="checkbox" checked={token} onChange={(e) => setToken(e.currentTarget.checked)} />
        Queries need a serving key (auth: token; issue keys on the job's page)
      </label>
      <div class="wide">
        <ErrorBox error={trainJobs.error} label="Could not list train jobs" />
        <ErrorBox error={error} label="Could not deploy" />
      </div>
      <div class="actions wide">
        <button type="submit" disabled={busy}>
          {busy ? 'Deploying…' : 'Deploy'}
        </button>
      </div>
    </FormCard>
  );
}

export function InferenceJobs() {
  const jobs = useResource(() => api.inferenceJobs(), []);
  const list = listOf(jobs.data, 'inference_jobs', 'jobs');
  useLiveRefresh(jobs.reload, (event) => event.type === 'JobStatus' && event.data.kind !== 'TRAIN');
  const onCreated = (answer, app) => {
    navigate(jobHash({ app: answer.app || app, app_version: answer.app_version }));
  };

  return (
    <>
      <h1>Inference jobs</h1>
      <CreateInferenceJob onCreated={onCreated} />
      <section aria-labelledby="inference-list-title">
        <h2 id="inference-list-title">Your inference jobs</h2>
        <ListTable
          id="inference-jobs-table"
          caption="Your inference jobs"
          resource={jobs}
          items={list}
          what="inference jobs"
          empty="No inference jobs yet."
          columns={['App', 'Version', 'Status', 'Predictor', 'Started']}
          row={(job) => (
            <tr key={job.id}>
              <th scope="row">
                <a href={jobHash(job)}>{job.app}</a>
              </th>
              <td class="num">{job.app_version}</td>
              <td>
                <StatusBadge status={job.status} />
              </td>
              <td class="id">{job.predictor_host || '—'}</td>
              <td>{formatTime(job.datetime_started)}</td>
            </tr>
          )}
        />
      </section>
    </>
  );
}

// A few words on a prediction: the likeliest class of a probability vector.
function describe(prediction) {
  if (Array.isArray(prediction) && prediction.length > 1 && prediction.every((p) => typeof p === 'number')) {
    let best = 0;
    prediction.forEach((p, i) => {
      if (p > prediction[best]) best = i;
    });
    return `Most likely class: ${best} (probability ${prediction[best].toFixed(3)})`;
  }
  if (typeof prediction === 'number') return `Predicted value: ${prediction}`;
  return null;
}

// The serving keys of a job with auth: token: issue (the key is shown once),
// list, revoke.
function ServingKeys({ app, version }) {
  const keys = useResource(() => api.servingKeys(app, version), [app, version]);
  const [label, setLabel] = useState('');
  const [issued, setIssued] = useState(null);
  const [error, setError] = useState(null);
  const issue = async (event) => {
    event.preventDefault();
    setError(null);
    try {
      setIssued(await api.createServingKey(app, version, label.trim()));
      setLabel('');
      keys.reload();
    } catch (err) {
      setError(err);
    }
  };
  const revoke = async (id) => {
    setError(null);
    try {
      await api.revokeServingKey(app, version, id);
      keys.reload();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <section class="card" aria-labelledby="keys-title">
      <h2 id="keys-title">Serving keys</h2>
      <p class="muted">This job answers only queries with a key: the header Authorization: Bearer KEY.</p>
      <form onSubmit={issue}>
        <Field id="key-label" label="Label">
          <input id="key-label" value={label} onInput={(e) => setLabel(e.currentTarget.value)} />
        </Field>
        <div class="actions">
          <button type="submit">Issue a key</button>
        </div>
      </form>
      {issued ? (
        <div id="issued-key" role="status">
          <p>Your new key, shown this once (only its hash is kept):</p>
          <pre class="id">{issued.key}</pre>
        </div>
      ) : null}
      <ErrorBox error={keys.error || error} label="Serving keys" />
      <ul id="serving-keys" class="plain">
        {listOf(keys.data, 'keys').map((k) => (
          <li key={k.id}>
            <span class="id">{k.id}</span> {k.label || ''} {formatTime(k.datetime_created)}{' '}
            <button type="button" onClick={() => revoke(k.id)}>
              Revoke
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}

function QueryBox({ predictorHost, ready, token }) {
  const [key, setKey] = useState('');
  const [text, setText] = useState('');
  const [several, setSeveral] = useState(false);
  const [answer, setAnswer] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event) => {
    event.preventDefault();
    setError(null);
    setAnswer(null);
    let query;
    try {
      query = JSON.parse(text);
    } catch (err) {
      return setError(`The query is not valid JSON: ${err.message}`);
    }
    if (several && !Array.isArray(query)) return setError('To send several queries, write a JSON array of queries.');
    setBusy(true);
    try {
      setAnswer(await predict(predictorHost, query, several, token ? key.trim() : null));
    } catch (err) {
      setError(err);
    }
    setBusy(false);
  };

  const predictions = answer ? (several ? answer.predictions || [] : [answer.prediction]) : [];
  return (
    <section class="card" aria-labelledby="query-title">
      <h2 id="query-title">Send a query</h2>
      {!ready ? <p class="muted">The predictor answers once the job is RUNNING.</p> : null}
      <form onSubmit={submit}>
        <Field
          id="query-text"
          label="Query (JSON)"
          hint='A tabular query is an object of features, e.g. {"sepal length (cm)": 5.1, ...}; images are arrays of pixel rows; tagging takes an array of tokens.'
        >
          <textarea id="query-text" rows="5" value={text} aria-describedby="query-text-hint" onInput={(e) => setText(e.currentTarget.value)} />
        </Field>
        {token ? (
          <Field id="query-key" label="Serving key">
            <input id="query-key" type="password" value={key} onInput={(e) => setKey(e.currentTarget.value)} />
          </Field>
        ) : null}
        <label class="check">
          <input type="checkbox" checked={several} onChange={(e) => setSeveral(e.currentTarget.checked)} />
          Several queries (a JSON array, one prediction each)
        </label>
        <div class="actions">
          <button type="submit" disabled={busy || !predictorHost}>
            {busy ? 'Predicting…' : 'Predict'}
          </button>
        </div>
      </form>
      <ErrorBox error={error} label="Prediction failed" />
      <div aria-live="polite">
        {answer ? (
          <div id="prediction" class="prediction">
            <h3>Prediction</h3>
            {predictions.map((p, i) => {
              const words = describe(p);
              return words ? (
                <p key={i} class="prediction-words">
                  {several ? `Query ${i + 1}: ` : ''}
                  {words}
                </p>
              ) : null;
            })}
            <pre>{JSON.stringify(several ? answer.predictions : answer.prediction, null, 2)}</pre>
          </div>
        ) : null}
      </div>
    </section>
  );
}

export function InferenceJobDetail({ app, version }) {
  const job = useResource(() => api.inferenceJob(app, version), [app, version]);
  const stopper = useStop(() => api.stopInferenceJob(app, version), job.reload);
  const record = job.data && job.data.inference_job ? job.data.inference_job : job.data;
  useLiveRefresh(
    job.reload,
    (event) =>
      (event.type === 'JobStatus' && (!record || event.data.id === record.id || event.data.kind === 'INFERENCE')) ||
      (event.type === 'ServiceStatus' && record && event.data.job_id === record.id),
  );
  const live = isActive(record);
  const workers = record ? listOf(record.workers || [], 'workers') : [];

  return (
    <>
      <JobTitle page={INFERENCE_JOB} app={app} version={version} job={job} record={record} stopper={stopper} />
      {record ? (
        <>
          <JobFacts
            id="inference-facts"
            title="Facts"
            statusId="inference-status"
            record={record}
            more={
              workers.length ? (
                <>
                  <dt>Deployed trials</dt>
                  <dd>
                    <ul class="plain">
                      {[...new Set(workers.map((w) => w.trial_id))].map((trialId) => (
                        <li key={trialId}>
                          <a href={'#/trials/' + encodeURIComponent(trialId)}>{trialId}</a>
                        </li>
                      ))}
                    </ul>
                  </dd>
                </>
              ) : null
            }
          >
            <dt>Predictor host</dt>
            <dd id="predictor-host" class="id">
              {record.predictor_host || '—'}
            </dd>
          </JobFacts>
          {live && record.auth === 'token' ? <ServingKeys app={app} version={version} /> : null}
          {live ? (
            <QueryBox predictorHost={record.predictor_host} ready={record.status === 'RUNNING'} token={record.auth === 'token'} />
          ) : null}
        </>
      ) : null}
    </>
  );
}
