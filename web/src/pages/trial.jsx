// trial.jsx: one trial: its facts (model, knobs, score, status, times), the
// template's metric plots drawn from GET /trials/{id}/logs {plots, metrics,
// messages}, and its log messages. LogLine and TrialUpdate events for this
// trial refresh it live.
import { Fragment } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api } from '../api.js';
import { ErrorBox, LineChart, Loading, StatusBadge, useResource } from '../components.jsx';
import { debounce, useLiveEvents } from '../events.js';
import {
  durationSeconds,
  formatDuration,
  formatKnobValue,
  formatScore,
  formatTime,
  listOf,
  plotSeries,
  trialNo,
} from '../util.js';

export function TrialDetail({ id }) {
  const trial = useResource(() => api.trial(id), [id]);
  const logs = useResource(() => api.trialLogs(id), [id]);
  const jobs = useResource(() => api.trainJobs(), []);
  const [liveLines, setLiveLines] = useState([]);
  const refreshTrial = useMemo(() => debounce(trial.reload, 300), [trial.reload]);
  const refreshLogs = useMemo(() => debounce(logs.reload, 300), [logs.reload]);
  useEffect(() => () => (refreshTrial.cancel(), refreshLogs.cancel()), [refreshTrial, refreshLogs]);
  useEffect(() => setLiveLines([]), [logs.data]);

  useLiveEvents((event) => {
    const d = event.data;
    if (d.trial_id !== id) return;
    if (event.type === 'LogLine') {
      setLiveLines((lines) => [...lines, { time: d.time, message: d.message }]);
      refreshLogs();
    } else if (event.type === 'TrialUpdate') {
      refreshTrial();
      refreshLogs();
    }
  });

  const t = trial.data && trial.data.trial ? trial.data.trial : trial.data;
  const job = t ? listOf(jobs.data, 'train_jobs', 'jobs').find((j) => j.id === (t.train_job_id || t.job_id)) : null;
  const app = t && t.app ? t.app : job ? job.app : null;
  const version = t && t.app_version !== undefined ? t.app_version : job ? job.app_version : null;
  const plots = logs.data && Array.isArray(logs.data.plots) ? logs.data.plots : [];
  const metrics = logs.data && Array.isArray(logs.data.metrics) ? logs.data.metrics : [];
  const messages = [...(logs.data && Array.isArray(logs.data.messages) ? logs.data.messages : []), ...liveLines];
  const drawn = useMemo(() => plots.map((plot) => plotSeries(plot, metrics)), [logs.data]);
  const number = t ? trialNo(t) : null;

  return (
    <>
      <p class="crumbs">
        <a href="#/jobs">Train jobs</a>
        {app !== null ? (
          <>
            {' › '}
            <a href={`#/jobs/${encodeURIComponent(app)}/${encodeURIComponent(version)}`}>
              {app} v{version}
            </a>
          </>
        ) : null}
        {' › '}trial {number ?? ''}
      </p>
      <h1>
        Trial {number ?? ''} {t && t.model_name ? <span class="muted">of {t.model_name}</span> : null}
      </h1>
      <ErrorBox error={trial.error} label="Could not load the trial" />
      {trial.loading && !t ? <Loading what="the trial" /> : null}
      {t ? (
        <section class="card" aria-labelledby="trial-facts-title">
          <h2 id="trial-facts-title" class="visually-hidden">
            Facts
          </h2>
          <dl class="facts">
            <dt>Status</dt>
            <dd id="trial-status">
              <StatusBadge status={t.status} />
            </dd>
            <dt>Score</dt>
            <dd id="trial-score">{formatScore(t.score) || '—'}</dd>
            <dt>Started</dt>
            <dd>{formatTime(t.datetime_started) || '—'}</dd>
            <dt>Stopped</dt>
            <dd>{formatTime(t.datetime_stopped) || '—'}</dd>
            <dt>Duration</dt>
            <dd>{formatDuration(durationSeconds(t.datetime_started, t.datetime_stopped)) || '—'}</dd>
            {t.error ? (
              <>
                <dt>Error</dt>
                <dd>{t.error}</dd>
              </>
            ) : null}
          </dl>
          <h3>Knobs</h3>
          {t.knobs && Object.keys(t.knobs).length ? (
            <dl class="facts knob-list" id="trial-knobs">
              {Object.entries(t.knobs).map(([key, value]) => (
                <Fragment key={key}>
                  <dt>{key}</dt>
                  <dd>{formatKnobValue(value)}</dd>
                </Fragment>
              ))}
            </dl>
          ) : (
            <p class="muted">No knobs.</p>
          )}
        </section>
      ) : null}

      <section aria-labelledby="plots-title">
        <h2 id="plots-title">Metrics</h2>
        <ErrorBox error={logs.error} label="Could not load the trial's logs" />
        {logs.loading && !logs.data ? <Loading what="metrics" /> : null}
        {logs.data && drawn.length === 0 ? <p class="muted">This trial has logged no plots yet.</p> : null}
        <div class="plots">
          {drawn.map((plot, index) => (
            <LineChart key={index} id={'plot-' + index} title={plot.title} xLabel={plot.xLabel} series={plot.series} />
          ))}
        </div>
      </section>

      <section aria-labelledby="messages-title">
        <h2 id="messages-title">Log</h2>
        {messages.length === 0 ? (
          <p class="muted">No messages yet.</p>
        ) : (
          <ol class="log" role="log" aria-label="Trial log messages" id="trial-log">
            {messages.map((m, index) => (
              <li key={index}>
                <time>{formatTime(m.time)}</time> {m.level && m.level !== 'INFO' ? <strong>{m.level} </strong> : null}
                {m.message}
              </li>
            ))}
          </ol>
        )}
      </section>
    </>
  );
}
