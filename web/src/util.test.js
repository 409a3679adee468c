// util.test.js: the web admin's pure helpers (vitest). The first case shows
// how a page turns a trial's logs into a plot.
import { describe, expect, it } from 'vitest';
import {
  durationSeconds,
  formatBytes,
  formatDuration,
  formatKnobs,
  listOf,
  parseEvent,
  parseJsonField,
  plotSeries,
  scoreSeries,
  sortTrials,
  trialCounts,
} from './util.js';
import { errorFrom, predictUrl } from './api.js';

describe('plots from GET /trials/{id}/logs', () => {
  it('draws each plot definition over the metrics log (usage)', () => {
    const logs = {
      plots: [{ title: 'Loss', metrics: ['train_loss'], x_axis: 'round' }],
      metrics: [
        { time: '2026-01-01T00:00:00Z', round: 0, train_loss: 0.9 },
        { time: '2026-01-01T00:00:01Z', round: 1, train_loss: 0.5 },
        { time: '2026-01-01T00:00:02Z', accuracy: 0.8 },
      ],
    };
    const plot = plotSeries(logs.plots[0], logs.metrics);
    expect(plot.title).toBe('Loss');
    expect(plot.xLabel).toBe('round');
    expect(plot.series).toEqual([{ label: 'train_loss', data: [{ x: 0, y: 0.9 }, { x: 1, y: 0.5 }] }]);
  });

  it('uses the entry position when the plot names no x axis', () => {
    const plot = plotSeries({ metrics: ['loss', 'acc'] }, [{ loss: 1 }, { acc: 0.5 }, { loss: 0.5, acc: 0.7 }]);
    expect(plot.xLabel).toBe('step');
    expect(plot.series[0].data).toEqual([{ x: 0, y: 1 }, { x: 2, y: 0.5 }]);
    expect(plot.series[1].data).toEqual([{ x: 1, y: 0.5 }, { x: 2, y: 0.7 }]);
  });

  it('survives malformed logs', () => {
    expect(plotSeries(null, null).series).toEqual([]);
    expect(plotSeries({ metrics: ['x'] }, [null, 'text', { x: 'abc' }, { x: null }]).series[0].data).toEqual([]);
  });
});

describe('trials', () => {
  const trials = [
    { id: 'a', trial_no: 2, model_name: 'M', status: 'COMPLETED', score: 0.9, sub_train_job_id: 's1' },
    { id: 'b', trial_no: 1, model_name: 'M', status: 'ERRORED', sub_train_job_id: 's1' },
    { id: 'c', trial_no: 3, model_name: 'N', status: 'RUNNING', score: 0.5, sub_train_job_id: 's2' },
  ];

  it('sorts by a column, unknown values last either way', () => {
    expect(sortTrials(trials, 'no').map((t) => t.id)).toEqual(['b', 'a', 'c']);
    expect(sortTrials(trials, 'score').map((t) => t.id)).toEqual(['c', 'a', 'b']);
    expect(sortTrials(trials, 'score', 'descending').map((t) => t.id)).toEqual(['a', 'c', 'b']);
    expect(sortTrials(trials, 'status').map((t) => t.id)).toEqual(['a', 'b', 'c']);
  });

  it('counts trials by state per sub job', () => {
    expect(trialCounts(trials, 's1')).toMatchObject({ total: 2, COMPLETED: 1, ERRORED: 1, RUNNING: 0 });
    expect(trialCounts(trials).total).toBe(3);
  });

  it('plots score against trial number per model', () => {
    expect(scoreSeries(trials)).toEqual([
      { label: 'M', data: [{ x: 2, y: 0.9 }] },
      { label: 'N', data: [{ x: 3, y: 0.5 }] },
    ]);
  });
});

describe('formatting', () => {
  it('formats sizes, durations and knobs', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(4096)).toBe('4.0 KiB');
    expect(formatDuration(durationSeconds('2026-01-01T00:00:00Z', '2026-01-01T00:01:05Z'))).toBe('1 min 5 s');
    expect(durationSeconds(null)).toBeNull();
    expect(formatKnobs({ depth: 3, eta: 0.123456, kind: 'gbtree' })).toBe('depth=3, eta=0.1235, kind="gbtree"');
  });

  it('finds the list in an answer of either shape', () => {
    expect(listOf([1])).toEqual([1]);
    expect(listOf({ trials: [2] }, 'trials')).toEqual([2]);
    expect(listOf(null)).toEqual([]);
  });
});

describe('errors and input', () => {
  it('puts the API error message in words', () => {
    const error = errorFrom(409, { error: { code: 'CONFLICT', message: 'app iris has a running job' } });
    expect(error.message).toBe('app iris has a running job');
    expect(error.code).toBe('CONFLICT');
    expect(errorFrom(503, null).message).toMatch(/overloaded/);
    expect(errorFrom(418, 'garbage').message).toBe('The server answered 418');
  });

  it('names the field of bad JSON and ignores bad events', () => {
    expect(() => parseJsonField('{oops', 'Train arguments')).toThrow(/^Train arguments is not valid JSON/);
    expect(parseJsonField('  ', 'x', 7)).toBe(7);
    expect(parseEvent('TrialUpdate', '{"trial_id":"t"}')).toEqual({ type: 'TrialUpdate', data: { trial_id: 't' } });
    expect(parseEvent('TrialUpdate', 'not json')).toBeNull();
    expect(parseEvent('TrialUpdate', '3')).toBeNull();
  });

  it('makes the predict URL from predictor_host', () => {
    expect(predictUrl('127.0.0.1:4000')).toBe('http://127.0.0.1:4000/predict');
    expect(predictUrl('https://p.example/')).toBe('https://p.example/predict');
    expect(predictUrl('')).toBeNull();
  });
});
