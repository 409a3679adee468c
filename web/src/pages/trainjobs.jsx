// trainjobs.jsx: train jobs: the list, the create form, and a job's detail
// with its sub jobs (one per model, with trial counts), the plot of score
// against trial number, and the sortable trials table. Refreshed by the
// JobStatus and TrialUpdate events of /events.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api } from '../api.js';
import {
  ErrorBox,
  Field,
  LineChart,
  Loading,
  SortHeader,
  StatusBadge,
  useResource,
} from '../components.jsx';
import { debounce, useLiveEvents, useLiveRefresh } from '../events.js';
import { TRAIN_JOB, JobFacts, JobTitle, ListTable, TaskSelect, useStop } from '../forms.jsx';
import { navigate } from '../nav.js';
import {
  TASKS,
  durationSeconds,
  formatDuration,
  formatKnobs,
  formatScore,
  formatTime,
  listOf,
  parseJsonField,
  scoreSeries,
  sortTrials,
  trialCounts,
  trialNo,
} from '../util.js';

const jobHash = (job) => `#/jobs/${encodeURIComponent(job.app)}/${encodeURIComponent(job.app_version)}`;

export function TrainJobs() {
  const jobs = useResource(() => api.trainJobs(), []);
  const list = listOf(jobs.data, 'train_jobs', 'jobs');
  useLiveRefresh(jobs.reload, (event) => event.type === 'JobStatus' && event.data.kind !== 'INFERENCE');

  return (
    <>
      <div class="title-row">
        <h1>Train jobs</h1>
        <a class="button" href="#/jobs/new">
          New train job
        </a>
      </div>
      <ListTable
        id="train-jobs-table"
        caption="Your train jobs"
        resource={jobs}
        items={list}
        what="train jobs"
        empty="No train jobs yet."
        columns={['App', 'Version', 'Task', 'Status', 'Started', 'Stopped']}
        row={(job) => (
          <tr key={job.id}>
            <th scope="row">
              <a href={jobHash(job)}>{job.app}</a>
            </th>
            <td class="num">{job.app_version}</td>
            <td>{job.task}</td>
            <td>
              <StatusBadge status={job.status} />
            </td>
            <td>{formatTime(job.datetime_started)}</td>
            <td>{formatTime(job.datetime_stopped)}</td>
          </tr>
        )}
      />
    </>
  );
}

export function NewTrainJob() {
  const [app, setApp] = useState('');
  const [task, setTask] = useState(TASKS[0]);
  const [trainId, setTrainId] = useState('');
  const [valId, setValId] = useState('');
  const [modelIds, setModelIds] = useState([]);
  const [trialCount, setTrialCount] = useState('5');
  const [hours, setHours] = useState('0.1');
  const [gpus, setGpus] = useState('0');
  const [trainArgs, setTrainArgs] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const datasets = useResource(() => api.datasets(task), [task]);
  const models = useResource(() => api.models(task), [task]);
  const datasetList = listOf(datasets.data, 'datasets');
  const modelList = listOf(models.data, 'models');

  // Preselect sensible datasets (names ending in train / val) and every model.
  useEffect(() => {
    const find = (word) => datasetList.find((d) => String(d.name).toLowerCase().includes(word));
    if (!datasetList.some((d) => d.id === trainId))
      setTrainId((find('train') || datasetList[0] || {}).id || '');
    if (!datasetList.some((d) => d.id === valId))
      setValId((find('val') || datasetList[1] || datasetList[0] || {}).id || '');
  }, [datasets.data]);
  useEffect(() => {
    setModelIds((ids) => ids.filter((id) => modelList.some((m) => m.id === id)));
  }, [models.data]);

  const toggleModel = (id, on) => setModelIds((ids) => (on ? [...ids, id] : ids.filter((x) => x !== id)));

  const submit = async (event) => {
    event.preventDefault();
    setError(null);
    if (!app.trim()) return setError('Give the app a name.');
    if (!trainId || !valId) return setError('Choose a training and a validation dataset of this task.');
    if (modelIds.length === 0) return setError('Choose at least one model.');
    const budget = {};
    const count = Number(trialCount);
    const time = Number(hours);
    const gpuCount = Number(gpus);
    if (trialCount !== '' && (!Number.isInteger(count) || count < 1))
      return setError('Trials per model must be a whole number of at least 1.');
    if (hours !== '' && !(time > 0)) return setError('Time budget must be more than 0 hours.');
    if (!Number.isInteger(gpuCount) || gpuCount < 0) return setError('GPUs must be a whole number, 0 or more.');
    if (trialCount !== '') budget.MODEL_TRIAL_COUNT = count;
    if (hours !== '') budget.TIME_HOURS = time;
    budget.GPU_COUNT = gpuCount;
    let args;
    try {
      args = parseJsonField(trainArgs, 'Train arguments', {});
    } catch (err) {
      return setError(err);
    }
    setBusy(true);
    try {
      const answer = await api.createTrainJob({
        app: app.trim(),
        task,
        train_dataset_id: trainId,
        val_dataset_id: valId,
        budget,
        model_ids: modelIds,
        train_args: args,
      });
      navigate(jobHash({ app: answer.app || app.trim(), app_version: answer.app_version }));
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  const datasetSelect = (id, label, value, set) => (
    <Field id={id} label={label}>
      <select id={id} value={value} onChange={(e) => set(e.currentTarget.value)}>
        {datasetList.length === 0 ? <option value="">No datasets of this task</option> : null}
        {datasetList.map((d) => (
          <option key={d.id} value={d.id}>
            {d.name} ({formatTime(d.datetime_created) || d.id})
          </option>
        ))}
      </select>
    </Field>
  );

  return (
    <>
      <h1>New train job</h1>
      <form onSubmit={submit} class="card grid-form" aria-label="New train job">
        <Field id="job-app" label="App name">
          <input id="job-app" value={app} required onInput={(e) => setApp(e.currentTarget.value)} />
        </Field>
        <TaskSelect id="job-task" value={task} onChange={setTask} />
        {datasetSelect('job-train-dataset', 'Training dataset', trainId, setTrainId)}
        {datasetSelect('job-val-dataset', 'Validation dataset', valId, setValId)}
        <ErrorBox error={datasets.error} label="Could not list datasets" />
        <fieldset class="wide">
          <legend>Models</legend>
          <ErrorBox error={models.error} label="Could not list models" />
          {models.data && modelList.length === 0 ? <p class="muted">No models available for this task.</p> : null}
          {modelList.map((m) => (
            <label key={m.id} class="check">
              <input
                type="checkbox"
                name="model"
                value={m.id}
                checked={modelIds.includes(m.id)}
                onChange={(e) => toggleModel(m.id, e.currentTarget.checked)}
              />
              {m.name} <span class="muted">({m.model_class})</span>
            </label>
          ))}
        </fieldset>
        <fieldset class="wide">
          <legend>Budget</legend>
          <div class="grid-form inner">
            <Field id="job-trials" label="Trials per model (MODEL_TRIAL_COUNT)">
              <input id="job-trials" type="number" min="1" step="1" value={trialCount} onInput={(e) => setTrialCount(e.currentTarget.value)} />
            </Field>
            <Field id="job-hours" label="Time (TIME_HOURS)">
              <input id="job-hours" type="number" min="0" step="0.01" value={hours} onInput={(e) => setHours(e.currentTarget.value)} />
            </Field>
            <Field id="job-gpus" label="GPUs (GPU_COUNT)">
              <input id="job-gpus" type="number" min="0" step="1" value={gpus} onInput={(e) => setGpus(e.currentTarget.value)} />
            </Field>
          </div>
        </fieldset>
        <Field id="job-args" wide label="Train arguments (JSON, optional)" hint='e.g. {"target": "target"} for the class column of a CSV'>
          <textarea id="job-args" rows="2" value={trainArgs} aria-describedby="job-args-hint" onInput={(e) => setTrainArgs(e.currentTarget.value)} />
        </Field>
        <div class="wide">
          <ErrorBox error={error} label="Could not create the train job" />
        </div>
        <div class="actions wide">
          <button type="submit" disabled={busy}>
            {busy ? 'Creating…' : 'Create train job'}
          </button>
          <a href="#/jobs" class="button secondary">
            Cancel
          </a>
        </div>
      </form>
    </>
  );
}

function TrialsTable({ trials, modelNames }) {
  const [sort, setSort] = useState({ column: 'no', direction: 'ascending' });
  const sorted = sortTrials(trials, sort.column, sort.direction);
  const name = (t) => t.model_name || modelNames[t.model_id] || t.model_id || '';
  return (
    <div class="table-wrap">
      <table id="trials-table">
        <caption class="visually-hidden">Trials, sortable by each column</caption>
        <thead>
          <tr>
            <SortHeader column="no" label="No." sort={sort} onSort={setSort} />
            <SortHeader column="model" label="Model" sort={sort} onSort={setSort} />
            <SortHeader column="knobs" label="Knobs" sort={sort} onSort={setSort} />
            <SortHeader column="score" label="Score" sort={sort} onSort={setSort} />
            <SortHeader column="status" label="Status" sort={sort} onSort={setSort} />
            <SortHeader column="duration" label="Duration" sort={sort} onSort={setSort} />
          </tr>
        </thead>
        <tbody>
          {sorted.map((t) => (
            <tr key={t.id} data-trial-id={t.id}>
              <th scope="row">
                <a href={'#/trials/' + encodeURIComponent(t.id)} aria-label={`Trial ${trialNo(t) ?? ''}`}>
                  {trialNo(t) ?? '?'}
                </a>
              </th>
              <td>{name(t)}</td>
              <td class="knobs">{formatKnobs(t.knobs)}</td>
              <td class="num">{formatScore(t.score)}</td>
              <td>
                <StatusBadge status={t.status} />
              </td>
              <td class="num">{formatDuration(durationSeconds(t.datetime_started, t.datetime_stopped))}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function TrainJobDetail({ app, version }) {
  const job = useResource(() => api.trainJob(app, version), [app, version]);
  const trials = useResource(() => api.trials(app, version), [app, version]);
  const models = useResource(() => api.models(), []);
  const [live, setLive] = useState({}); // trial id -> fields from TrialUpdate events
  const stopper = useStop(() => api.stopTrainJob(app, version), job.reload);
  const refreshJob = useMemo(() => debounce(job.reload, 300), [job.reload]);
  const refreshTrials = useMemo(() => debounce(trials.reload, 300), [trials.reload]);
  useEffect(() => () => (refreshJob.cancel(), refreshTrials.cancel()), [refreshJob, refreshTrials]);

  const record = job.data && job.data.train_job ? job.data.train_job : job.data;
  const subJobs = record ? listOf(record.sub_train_jobs || [], 'sub_train_jobs') : [];
  const modelNames = {};
  for (const m of listOf(models.data, 'models')) modelNames[m.id] = m.name;

  useLiveEvents((event) => {
    if (!record) return;
    const d = event.data;
    if (event.type === 'TrialUpdate' && (d.job === record.id || subJobs.some((s) => s.id === d.sub_train_job_id))) {
      // Show the change at once, then read the trial list again.
      setLive((prev) => ({ ...prev, [d.trial_id]: d }));
      refreshTrials();
    } else if (
      event.type === 'JobStatus' &&
      (d.id === record.id || subJobs.some((s) => s.id === d.id || s.id === d.sub_train_job_id))
    ) {
      refreshJob();
      refreshTrials();
    }
  });

  // Trials as listed, overlaid with newer live updates (and trials only
  // known from events so far).
  const merged = useMemo(() => {
    const list = listOf(trials.data, 'trials').map((t) => ({ ...t }));
    const byId = new Map(list.map((t) => [t.id, t]));
    for (const [id, d] of Object.entries(live)) {
      const known = byId.get(id);
      if (known) {
        if (d.status && known.status !== d.status) {
          const rank = ['PENDING', 'RUNNING', 'COMPLETED', 'ERRORED', 'PRUNED'];
          if (rank.indexOf(d.status) > rank.indexOf(known.status)) known.status = d.status;
        }
        if (known.score === undefined || known.score === null) if (d.score !== undefined) known.score = d.score;
      } else {
        const added = {
          id,
          no: d.trial_no,
          model_name: d.model_name,
          sub_train_job_id: d.sub_train_job_id,
          status: d.status,
          score: d.score,
        };
        list.push(added);
        byId.set(id, added);
      }
    }
    return list;
  }, [trials.data, live]);

  const series = useMemo(() => scoreSeries(merged), [merged]);

  const budget = record && record.budget ? record.budget : {};
  const all = trialCounts(merged);

  return (
    <>
      <JobTitle page={TRAIN_JOB} app={app} version={version} job={job} record={record} stopper={stopper} />
      {record ? (
        <JobFacts
          id="job-summary"
          title="Summary"
          statusId="job-status"
          record={record}
          more={
            <>
              <dt>Trials</dt>
              <dd id="job-trial-count">
                {all.total} ({all.RUNNING} running, {all.COMPLETED} completed, {all.ERRORED} errored
                {all.PRUNED ? `, ${all.PRUNED} pruned` : ''})
              </dd>
            </>
          }
        >
          <dt>Task</dt>
          <dd>{record.task}</dd>
          <dt>Budget</dt>
          <dd>
            {Object.entries(budget)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ')}
          </dd>
        </JobFacts>
      ) : null}

      {subJobs.length > 0 ? (
        <section aria-labelledby="subjobs-title">
          <h2 id="subjobs-title">Models (sub jobs)</h2>
          <div class="table-wrap">
            <table id="sub-jobs-table">
              <caption class="visually-hidden">One sub job per model, with trial counts</caption>
              <thead>
                <tr>
                  <th scope="col">Model</th>
                  <th scope="col">Status</th>
                  <th scope="col">Trials</th>
                  <th scope="col">Running</th>
                  <th scope="col">Completed</th>
                  <th scope="col">Errored</th>
                  <th scope="col">Best score</th>
                </tr>
              </thead>
              <tbody>
                {subJobs.map((s) => {
                  const mine = merged.filter((t) => t.sub_train_job_id === s.id);
                  const counts = trialCounts(mine);
                  const scores = mine.map((t) => Number(t.score)).filter((x) => Number.isFinite(x) && x !== null);
                  return (
                    <tr key={s.id}>
                      <th scope="row">{s.model_name || modelNames[s.model_id] || s.model_id}</th>
                      <td>
                        <StatusBadge status={s.status} />
                      </td>
                      <td class="num">{counts.total}</td>
                      <td class="num">{counts.RUNNING}</td>
                      <td class="num">{counts.COMPLETED}</td>
                      <td class="num">{counts.ERRORED}</td>
                      <td class="num">{scores.length ? formatScore(Math.max(...scores)) : ''}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        </section>
      ) : null}

      <section aria-labelledby="score-plot-title">
        <h2 id="score-plot-title">Score by trial</h2>
        <LineChart id="score-chart" title="Score against trial number" xLabel="trial" yLabel="score" series={series} scatter />
      </section>

      <section aria-labelledby="trials-title">
        <h2 id="trials-title">Trials</h2>
        <ErrorBox error={trials.error} label="Could not list trials" />
        {trials.loading && !trials.data ? <Loading what="trials" /> : null}
        {trials.data && merged.length === 0 ? (
          <p class="muted" id="no-trials">
            No trials yet. They appear here as they start.
          </p>
        ) : null}
        {merged.length > 0 ? <TrialsTable trials={merged} modelNames={modelNames} /> : null}
      </section>
    </>
  );
}
