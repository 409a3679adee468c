// util.js: pure helpers of the web admin (formatting, sorting, counting,
// turning trial logs into plot series). No DOM here, so vitest runs them.

export const TASKS = [
  'TABULAR_CLASSIFICATION',
  'TABULAR_REGRESSION',
  'IMAGE_CLASSIFICATION',
  'POS_TAGGING',
];

export const TRIAL_STATES = ['PENDING', 'RUNNING', 'COMPLETED', 'ERRORED', 'PRUNED'];

// A list out of an answer that is either an array or {key: [...]}.
export function listOf(answer, ...keys) {
  if (Array.isArray(answer)) return answer;
  if (answer && typeof answer === 'object') {
    for (const key of keys) if (Array.isArray(answer[key])) return answer[key];
    for (const value of Object.values(answer)) if (Array.isArray(value)) return value;
  }
  return [];
}

export function formatBytes(bytes) {
  const n = Number(bytes);
  if (!Number.isFinite(n) || n < 0) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return (unit === 0 ? String(value) : value.toFixed(value < 10 ? 1 : 0)) + ' ' + units[unit];
}

export function formatTime(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return date.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

// Seconds between two ISO times (the second defaults to now); null if unknown.
export function durationSeconds(started, stopped, now = Date.now()) {
  if (!started) return null;
  const begin = new Date(started).getTime();
  const end = stopped ? new Date(stopped).getTime() : now;
  if (!Number.isFinite(begin) || !Number.isFinite(end)) return null;
  return Math.max(0, (end - begin) / 1000);
}

export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '';
  if (seconds < 60) return seconds.toFixed(seconds < 10 ? 1 : 0) + ' s';
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

// A score for display: numbers with 4 significant decimals, '' when unset.
export function formatScore(score) {
  if (score === null || score === undefined || score === '') return '';
  const n = Number(score);
  if (!Number.isFinite(n)) return String(score);
  return Number.isInteger(n) ? String(n) : n.toFixed(4);
}

// A knob's value for display: floats to 4 significant digits.
export function formatKnobValue(value) {
  if (typeof value === 'number' && !Number.isInteger(value)) return String(Number(value.toPrecision(4)));
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export function formatKnobs(knobs) {
  if (!knobs || typeof knobs !== 'object') return '';
  return Object.entries(knobs)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? JSON.stringify(value) : formatKnobValue(value)}`)
    .join(', ');
}

// The trial number, whichever name the API gives it.
export function trialNo(trial) {
  const no = trial.no ?? trial.trial_no;
  return no === undefined || no === null ? null : Number(no);
}

// The value of a trial's column for sorting.
export function trialSortValue(trial, column, now = Date.now()) {
  switch (column) {
    case 'no':
      return trialNo(trial);
    case 'score': {
      const n = Number(trial.score);
      return trial.score === null || trial.score === undefined || !Number.isFinite(n) ? null : n;
    }
    case 'duration':
      return durationSeconds(trial.datetime_started, trial.datetime_stopped, now);
    case 'knobs':
      return formatKnobs(trial.knobs);
    case 'model':
      return trial.model_name || trial.model_id || '';
    default:
      return trial[column] ?? null;
  }
}

// A sorted copy of the trials; unknown values (null) always go last.
export function sortTrials(trials, column, direction = 'ascending', now = Date.now()) {
  const sign = direction === 'descending' ? -1 : 1;
  return trials
    .map((trial, index) => ({ trial, index, value: trialSortValue(trial, column, now) }))
    .sort((a, b) => {
      if (a.value === null && b.value === null) return a.index - b.index;
      if (a.value === null) return 1;
      if (b.value === null) return -1;
      let order;
      if (typeof a.value === 'number' && typeof b.value === 'number') order = a.value - b.value;
      else order = String(a.value).localeCompare(String(b.value));
      return order === 0 ? a.index - b.index : sign * order;
    })
    .map((entry) => entry.trial);
}

// Trial counts by state for one sub train job (or every trial when
// subJobId is null): {total, PENDING, RUNNING, COMPLETED, ERRORED, PRUNED}.
export function trialCounts(trials, subJobId = null) {
  const counts = { total: 0 };
  for (const state of TRIAL_STATES) counts[state] = 0;
  for (const trial of trials) {
    if (subJobId !== null && trial.sub_train_job_id !== subJobId) continue;
    counts.total++;
    if (trial.status in counts) counts[trial.status]++;
  }
  return counts;
}

// Points {x: trial number, y: score} of scored trials, one series per model.
export function scoreSeries(trials) {
  const series = new Map();
  for (const trial of trials) {
    const score = Number(trial.score);
    const no = trialNo(trial);
    if (trial.score === null || trial.score === undefined || !Number.isFinite(score) || no === null)
      continue;
    const name = trial.model_name || trial.model_id || 'model';
    if (!series.has(name)) series.set(name, []);
    series.get(name).push({ x: no, y: score });
  }
  for (const points of series.values()) points.sort((a, b) => a.x - b.x);
  return [...series.entries()].map(([label, data]) => ({ label, data }));
}

// The series of one plot definition {title, metrics: [names], x_axis} over
// the metrics log [{time, name: value, ...}]: x is the x_axis metric when the
// plot names one, else the entry's position. Returns {title, xLabel, series}.
export function plotSeries(plot, metrics) {
  const names = Array.isArray(plot && plot.metrics) ? plot.metrics : [];
  const xAxis = plot && plot.x_axis ? String(plot.x_axis) : null;
  const series = names.map((name) => ({ label: String(name), data: [] }));
  let position = 0;
  for (const entry of Array.isArray(metrics) ? metrics : []) {
    if (!entry || typeof entry !== 'object') continue;
    const values = entry.metrics && typeof entry.metrics === 'object' ? { ...entry, ...entry.metrics } : entry;
    const hasAny = names.some((name) => Number.isFinite(Number(values[name])) && values[name] !== null);
    if (!hasAny) continue;
    let x = position++;
    if (xAxis) {
      x = Number(values[xAxis]);
      if (!Number.isFinite(x) || values[xAxis] === null) continue;
    }
    names.forEach((name, index) => {
      const y = Number(values[name]);
      if (values[name] !== null && values[name] !== undefined && Number.isFinite(y))
        series[index].data.push({ x, y });
    });
  }
  return {
    title: (plot && plot.title) || names.join(', '),
    xLabel: xAxis || 'step',
    series,
  };
}

// A live event from /events: {type, data} with the message's JSON.
export function parseEvent(type, text) {
  try {
    const data = JSON.parse(text);
    return data && typeof data === 'object' ? { type, data } : null;
  } catch {
    return null;
  }
}

// Parses JSON typed by the user; throws an Error naming the field.
export function parseJsonField(text, field, fallback) {
  const trimmed = String(text || '').trim();
  if (!trimmed) return fallback;
  try {
    return JSON.parse(trimmed);
  } catch (error) {
    throw new Error(`${field} is not valid JSON: ${error.message}`);
  }
}
