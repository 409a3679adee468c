// components.jsx: the small shared pieces of the pages: loading a resource,
// showing errors in words, status badges, upload progress, and line charts
// (chart.js on a canvas, with a text summary for screen readers).
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import {
  Chart,
  Legend,
  LineController,
  LineElement,
  LinearScale,
  PointElement,
  ScatterController,
  Title,
  Tooltip,
} from 'chart.js';

Chart.register(LineController, ScatterController, LineElement, PointElement, LinearScale, Legend, Title, Tooltip);

// Loads `load()` now and whenever reload() is called; keeps the last data
// while reloading so live refreshes do not flicker.
export function useResource(load, deps) {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [loading, setLoading] = useState(true);
  const generation = useRef(0);
  const reload = useCallback(() => {
    const mine = ++generation.current;
    setLoading(true);
    return load().then(
      (value) => {
        if (mine !== generation.current) return;
        setData(value);
        setError(null);
        setLoading(false);
      },
      (err) => {
        if (mine !== generation.current) return;
        setError(err);
        setLoading(false);
      },
    );
  }, deps);
  useEffect(() => {
    reload();
  }, [reload]);
  return { data, error, loading, reload };
}

// An error in words, announced to screen readers.
export function ErrorBox({ error, label }) {
  if (!error) return null;
  const message = typeof error === 'string' ? error : error.message || String(error);
  return (
    <div class="error" role="alert">
      {label ? <strong>{label}: </strong> : null}
      {message}
    </div>
  );
}

export function Notice({ children }) {
  if (!children) return null;
  return (
    <div class="notice" role="status">
      {children}
    </div>
  );
}

export function Loading({ what }) {
  return (
    <p class="muted" role="status">
      Loading {what}…
    </p>
  );
}

export function StatusBadge({ status }) {
  const value = status || 'UNKNOWN';
  return <span class={'badge badge-' + value.toLowerCase()}>{value}</span>;
}

// A labelled progress bar for an upload.
export function UploadProgress({ id, sent, total, name }) {
  if (total === null || total === undefined) return null;
  const percent = total > 0 ? Math.floor((sent * 100) / total) : 0;
  return (
    <div class="progress-row">
      <label for={id}>Uploading {name}:</label>
      <progress id={id} max="100" value={percent} aria-valuetext={`${percent} percent`}>
        {percent}%
      </progress>
      <span aria-hidden="true">{percent}%</span>
    </div>
  );
}

// A labelled form field: label above the control, optional hint.
export function Field({ id, label, hint, wide, children }) {
  return (
    <div class={wide ? 'field wide' : 'field'}>
      <label for={id}>{label}</label>
      {children}
      {hint ? (
        <small id={id + '-hint'} class="hint">
          {hint}
        </small>
      ) : null}
    </div>
  );
}

const COLORS = ['#1f6feb', '#d1242f', '#1a7f37', '#9a6700', '#8250df', '#bf3989', '#0a7ea4'];

// A line (or scatter) chart of series [{label, data: [{x, y}]}]. The canvas
// carries role="img" and a summary; data-points counts what was drawn.
export function LineChart({ id, title, xLabel, yLabel, series, scatter = false }) {
  const canvas = useRef(null);
  const chart = useRef(null);
  const points = series.reduce((sum, s) => sum + s.data.length, 0);
  const summary =
    `${title}: ` +
    (points === 0
      ? 'no data yet'
      : series
          .map((s) => {
            const last = s.data[s.data.length - 1];
            return `${s.label}, ${s.data.length} points` + (last ? `, last ${Number(last.y.toPrecision(4))} at ${xLabel} ${last.x}` : '');
          })
          .join('; '));

  useEffect(() => {
    const datasets = series.map((s, index) => ({
      label: s.label,
      data: s.data,
      borderColor: COLORS[index % COLORS.length],
      backgroundColor: COLORS[index % COLORS.length],
      pointRadius: scatter ? 4 : s.data.length > 60 ? 0 : 2,
      showLine: !scatter,
      tension: 0,
    }));
    if (!chart.current) {
      chart.current = new Chart(canvas.current, {
        type: scatter ? 'scatter' : 'line',
        data: { datasets },
        options: {
          animation: false,
          responsive: true,
          maintainAspectRatio: false,
          parsing: false,
          normalized: true,
          plugins: {
            title: { display: true, text: title },
            legend: { display: series.length > 1 || scatter },
          },
          scales: {
            x: { type: 'linear', title: { display: true, text: xLabel }, ticks: { precision: scatter ? 0 : undefined } },
            y: { type: 'linear', title: { display: !!yLabel, text: yLabel || '' } },
          },
        },
        plugins: [
          {
            id: 'drawn',
            afterRender: (instance) => {
              instance.canvas.dataset.drawn = 'true';
            },
          },
        ],
      });
    } else {
      chart.current.data.datasets = datasets;
      chart.current.options.plugins.title.text = title;
      chart.current.update('none');
    }
  }, [series, title, xLabel, yLabel, scatter]);

  useEffect(
    () => () => {
      if (chart.current) chart.current.destroy();
      chart.current = null;
    },
    [],
  );

  return (
    <figure class="chart">
      <div class="chart-box">
        <canvas id={id} ref={canvas} role="img" aria-label={summary} data-points={points}>
          {summary}
        </canvas>
      </div>
    </figure>
  );
}

// A table header cell that sorts its column: a button inside the <th>, with
// aria-sort on the cell.
export function SortHeader({ column, label, sort, onSort }) {
  const active = sort.column === column;
  const ariaSort = active ? sort.direction : 'none';
  const next = active && sort.direction === 'ascending' ? 'descending' : 'ascending';
  return (
    <th scope="col" aria-sort={ariaSort}>
      <button type="button" class="sort" onClick={() => onSort({ column, direction: next })}>
        {label}
        <span aria-hidden="true">{active ? (sort.direction === 'ascending' ? ' ▲' : ' ▼') : ' ↕'}</span>
      </button>
    </th>
  );
}
