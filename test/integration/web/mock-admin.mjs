// mock-admin.mjs: a small stand-in for admin's HTTP front (API.md) and a
// predictor, in node's http module, for the browser test when rafikid has no
// `up` role yet. It serves the built web admin at /, the endpoints the pages
// call, GET /events (server-sent events in the format of web/README.md) and
// simulates a train job's trials (metrics, plots, log lines) and an inference
// job whose predictor answers POST /predict with a probability vector.
// It follows API.md: JSON bodies, Bearer tokens, errors as
// {"error": {"code", "message"}} with real statuses.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

const now = () => new Date().toISOString();
const uuid = () => crypto.randomUUID();

function send(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

const fail = (res, status, code, message) => send(res, status, { error: { code, message } });

function readBody(req, limit = 64 * 1024 * 1024) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > limit) {
        reject(new Error('too large'));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

// Fields and files of a multipart/form-data body: {fields, files: {name: {filename, data}}}.
function parseMultipart(body, contentType) {
  const match = /boundary=(?:"([^"]+)"|([^;]+))/.exec(contentType || '');
  if (!match) return null;
  const boundary = Buffer.from('--' + (match[1] || match[2]));
  const fields = {};
  const files = {};
  let start = body.indexOf(boundary);
  while (start >= 0) {
    const next = body.indexOf(boundary, start + boundary.length);
    if (next < 0) break;
    const part = body.subarray(start + boundary.length + 2, next - 2); // skip CRLF
    const split = part.indexOf('\r\n\r\n');
    if (split >= 0) {
      const head = part.subarray(0, split).toString();
      const data = part.subarray(split + 4);
      const name = /name="([^"]*)"/.exec(head);
      const filename = /filename="([^"]*)"/.exec(head);
      if (name) {
        if (filename) files[name[1]] = { filename: filename[1], data };
        else fields[name[1]] = data.toString();
      }
    }
    start = next;
  }
  return { fields, files };
}

export async function startMockAdmin({ webDir, email = 'superadmin@rafiki', password, trialCount = 3, stepMs = 400 }) {
  const users = [{ id: uuid(), email, password, user_type: 'SUPERADMIN' }];
  const tokens = new Map(); // token -> user
  const datasets = [];
  const models = [];
  const trainJobs = [];
  const trials = [];
  const trialLogs = new Map(); // trial id -> {plots, metrics, messages}
  const inferenceJobs = [];
  const streams = new Set();
  const timers = new Set();
  const later = (ms, fn) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };

  function publish(type, data) {
    const frame = `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const res of streams) res.write(frame);
  }

  // The predictor of every mock inference job: three-class probabilities.
  const predictor = http.createServer(async (req, res) => {
    const cors = { 'Access-Control-Allow-Origin': '*', 'Access-Control-Allow-Headers': 'Content-Type' };
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { ...cors, 'Access-Control-Allow-Methods': 'POST' });
      return res.end();
    }
    if (req.method !== 'POST' || req.url !== '/predict') return send(res, 404, { error: { code: 'NOT_FOUND', message: 'no such path' } }, cors);
    let body;
    try {
      body = JSON.parse((await readBody(req)).toString());
    } catch {
      return send(res, 400, { error: { code: 'BAD_REQUEST', message: 'the body is not JSON' } }, cors);
    }
    const answer = (q) => (q && typeof q === 'object' ? [0.05, 0.9, 0.05] : { error: 'a query is an object of features' });
    if (Array.isArray(body.queries)) return send(res, 200, { prediction: null, predictions: body.queries.map(answer) }, cors);
    if (!('query' in body)) return send(res, 400, { error: { code: 'BAD_REQUEST', message: 'query or queries is required' } }, cors);
    return send(res, 200, { prediction: answer(body.query), predictions: [] }, cors);
  });
  await new Promise((resolve) => predictor.listen(0, '127.0.0.1', resolve));
  const predictorHost = `127.0.0.1:${predictor.address().port}`;

  function simulateTrainJob(job) {
    const sub = job.sub_train_jobs[0];
    later(stepMs, () => {
      job.status = 'RUNNING';
      sub.status = 'RUNNING';
      publish('JobStatus', { kind: 'TRAIN', id: job.id, app: job.app, app_version: job.app_version, status: 'RUNNING' });
    });
    for (let n = 1; n <= trialCount; n++) {
      const trial = {
        id: uuid(),
        sub_train_job_id: sub.id,
        trial_no: n,
        model_id: sub.model_id,
        model_name: sub.model_name,
        status: 'PENDING',
        knobs: { max_depth: 1 + n, eta: 0.1 * n, n_estimators: 10 * n },
        app: job.app,
        app_version: job.app_version,
        train_job_id: job.id,
      };
      const logs = { plots: [], metrics: [], messages: [] };
      const t0 = stepMs * 2 * n;
      const update = () =>
        publish('TrialUpdate', {
          trial_id: trial.id,
          job: job.id,
          sub_train_job_id: sub.id,
          trial_no: n,
          model_name: trial.model_name,
          status: trial.status,
          ...(trial.score !== undefined ? { score: trial.score } : {}),
        });
      later(t0, () => {
        trials.push(trial);
        trialLogs.set(trial.id, logs);
        trial.status = 'RUNNING';
        trial.datetime_started = now();
        logs.plots.push({ title: 'train_loss per round', metrics: ['train_loss'], x_axis: 'round' });
        update();
      });
      for (let round = 0; round < 5; round++) {
        later(t0 + 50 + round * 30, () => {
          logs.metrics.push({ time: now(), round, train_loss: 1 / (round + 1) + 0.1 / n });
          const message = `round ${round}: train_loss ${(1 / (round + 1)).toFixed(3)}`;
          logs.messages.push({ time: now(), message });
          publish('LogLine', { trial_id: trial.id, source: 'template', time: now(), message });
        });
      }
      later(t0 + stepMs + 200, () => {
        trial.status = 'COMPLETED';
        trial.score = 0.8 + 0.05 * n;
        trial.has_params = true;
        trial.datetime_stopped = now();
        update();
      });
    }
    later(stepMs * 2 * (trialCount + 1) + stepMs, () => {
      job.status = 'STOPPED';
      sub.status = 'STOPPED';
      job.datetime_stopped = sub.datetime_stopped = now();
      publish('JobStatus', { kind: 'TRAIN', id: job.id, app: job.app, app_version: job.app_version, status: 'STOPPED' });
    });
  }

  const findJob = (list, app, version) => {
    const mine = list.filter((j) => j.app === app);
    if (Number(version) === -1) return mine.sort((a, b) => b.app_version - a.app_version)[0];
    return mine.find((j) => j.app_version === Number(version));
  };

  async function api(req, res, url, user) {
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const m = req.method;
    const json = async () => {
      const text = (await readBody(req)).toString();
      return text ? JSON.parse(text) : {};
    };
    if (m === 'GET' && parts[0] === 'me') return send(res, 200, { id: user.id, email: user.email, user_type: user.user_type });
    if (parts[0] === 'datasets' && parts.length === 1) {
      if (m === 'GET') return send(res, 200, datasets.filter((d) => !url.searchParams.get('task') || d.task === url.searchParams.get('task')));
      if (m === 'POST') {
        const form = parseMultipart(await readBody(req), req.headers['content-type']);
        if (!form) return fail(res, 400, 'BAD_REQUEST', 'the body must be multipart/form-data');
        if (!form.fields.name) return fail(res, 400, 'BAD_REQUEST', 'name is required');
        if (!form.files.dataset) return fail(res, 400, 'BAD_REQUEST', 'dataset (the file) is required');
        const d = { id: uuid(), name: form.fields.name, task: form.fields.task, size_bytes: form.files.dataset.data.length, owner_id: user.id, datetime_created: now() };
        datasets.push(d);
        return send(res, 200, d);
      }
    }
    if (parts[0] === 'models') {
      if (m === 'GET' && (parts.length === 1 || parts[1] === 'available'))
        return send(res, 200, models.filter((x) => !url.searchParams.get('task') || x.task === url.searchParams.get('task')));
      if (m === 'POST' && parts.length === 1) {
        const form = parseMultipart(await readBody(req), req.headers['content-type']);
        if (!form || !form.files.model_file_bytes) return fail(res, 400, 'BAD_REQUEST', 'model_file_bytes (the template .so) is required');
        if (form.files.model_file_bytes.data.subarray(0, 4).toString('latin1') !== '\x7fELF')
          return fail(res, 400, 'BAD_REQUEST', 'model_file_bytes is not a shared object');
        const x = { id: uuid(), user_id: user.id, name: form.fields.name, task: form.fields.task, model_class: form.fields.model_class, access_right: form.fields.access_right || 'PRIVATE', datetime_created: now() };
        models.push(x);
        return send(res, 200, { id: x.id, user_id: x.user_id, name: x.name });
      }
    }
    if (parts[0] === 'train_jobs') {
      if (m === 'GET' && parts.length === 1) return send(res, 200, trainJobs);
      if (m === 'POST' && parts.length === 1) {
        const body = await json();
        for (const field of ['app', 'task', 'train_dataset_id', 'val_dataset_id'])
          if (!body[field]) return fail(res, 400, 'BAD_REQUEST', `${field} is required`);
        if (!Array.isArray(body.model_ids) || body.model_ids.length === 0) return fail(res, 400, 'BAD_REQUEST', 'model_ids needs at least one model');
        if (trainJobs.some((j) => j.app === body.app && (j.status === 'STARTED' || j.status === 'RUNNING')))
          return fail(res, 409, 'CONFLICT', `app ${body.app} already has a running train job`);
        const version = 1 + Math.max(0, ...trainJobs.filter((j) => j.app === body.app).map((j) => j.app_version));
        const id = uuid();
        const job = {
          id, app: body.app, app_version: version, task: body.task, user_id: user.id,
          train_dataset_id: body.train_dataset_id, val_dataset_id: body.val_dataset_id,
          budget: body.budget || {}, train_args: body.train_args || {}, status: 'STARTED', datetime_started: now(),
          sub_train_jobs: body.model_ids.map((modelId) => ({
            id: uuid(), train_job_id: id, model_id: modelId,
            model_name: (models.find((x) => x.id === modelId) || {}).name, status: 'STARTED', datetime_started: now(),
          })),
        };
        trainJobs.push(job);
        simulateTrainJob(job);
        return send(res, 200, { id, app: job.app, app_version: version });
      }
      const job = findJob(trainJobs, parts[1], parts[2]);
      if (parts.length >= 3 && !job) return fail(res, 404, 'NOT_FOUND', `no train job ${parts[1]} version ${parts[2]}`);
      if (m === 'GET' && parts.length === 3) return send(res, 200, job);
      if (m === 'GET' && parts[3] === 'trials') return send(res, 200, trials.filter((t) => t.train_job_id === job.id));
      if (m === 'POST' && parts[3] === 'stop') {
        job.status = 'STOPPED';
        return send(res, 200, { id: job.id, app: job.app, app_version: job.app_version });
      }
    }
    if (parts[0] === 'trials' && parts.length >= 2 && m === 'GET') {
      const trial = trials.find((t) => t.id === parts[1]);
      if (!trial) return fail(res, 404, 'NOT_FOUND', `no trial ${parts[1]}`);
      if (parts.length === 2) return send(res, 200, trial);
      if (parts[2] === 'logs') return send(res, 200, trialLogs.get(trial.id));
    }
    if (parts[0] === 'inference_jobs') {
      if (m === 'GET' && parts.length === 1) return send(res, 200, inferenceJobs);
      if (m === 'POST' && parts.length === 1) {
        const body = await json();
        const train = findJob(trainJobs, body.app, body.app_version ?? -1);
        if (!train) return fail(res, 404, 'NOT_FOUND', `no train job of app ${body.app}`);
        if (train.status !== 'STOPPED') return fail(res, 409, 'CONFLICT', `the train job of ${body.app} is still ${train.status}`);
        const job = { id: uuid(), train_job_id: train.id, app: train.app, app_version: train.app_version, user_id: user.id, status: 'STARTED', predictor_host: predictorHost, max_trials: body.max_trials, replicas: body.replicas, datetime_started: now() };
        inferenceJobs.push(job);
        later(stepMs, () => {
          job.status = 'RUNNING';
          publish('JobStatus', { kind: 'INFERENCE', id: job.id, app: job.app, app_version: job.app_version, status: 'RUNNING' });
        });
        return send(res, 200, { id: job.id, train_job_id: train.id, app: job.app, app_version: job.app_version, predictor_host: predictorHost });
      }
      const job = findJob(inferenceJobs, parts[1], parts[2]);
      if (parts.length >= 3 && !job) return fail(res, 404, 'NOT_FOUND', `no inference job ${parts[1]} version ${parts[2]}`);
      if (m === 'GET' && parts.length === 3) return send(res, 200, job);
      if (m === 'POST' && parts[3] === 'stop') {
        job.status = 'STOPPED';
        return send(res, 200, { id: job.id });
      }
    }
    return fail(res, 404, 'NOT_FOUND', `no endpoint ${m} ${url.pathname}`);
  }

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://localhost');
    try {
      if (req.method === 'GET' && url.pathname === '/healthz') return send(res, 200, { status: 'ok' });
      if (req.method === 'POST' && url.pathname === '/tokens') {
        let body;
        try {
          body = JSON.parse((await readBody(req)).toString() || '{}');
        } catch {
          return fail(res, 400, 'BAD_REQUEST', 'the body is not valid JSON');
        }
        const user = users.find((u) => u.email === body.email && u.password === body.password);
        if (!user) return fail(res, 401, 'UNAUTHORIZED', 'wrong e-mail or password');
        const token = crypto.randomBytes(24).toString('hex');
        tokens.set(token, user);
        return send(res, 200, { user_id: user.id, user_type: user.user_type, token });
      }
      const first = url.pathname.split('/')[1];
      const isApi = ['me', 'users', 'datasets', 'models', 'train_jobs', 'trials', 'inference_jobs', 'actions', 'events'].includes(first);
      if (!isApi) {
        const file = path.join(webDir, url.pathname === '/' ? 'index.html' : path.normalize(url.pathname));
        if (!file.startsWith(webDir) || !fs.existsSync(file) || !fs.statSync(file).isFile())
          return fail(res, 404, 'NOT_FOUND', `no file ${url.pathname}`);
        res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream' });
        return fs.createReadStream(file).pipe(res);
      }
      const auth = /^Bearer (.+)$/.exec(req.headers.authorization || '');
      const token = auth ? auth[1] : url.searchParams.get('token');
      const user = token && tokens.get(token);
      if (!user) return fail(res, 401, 'UNAUTHORIZED', token ? 'the token has expired or is not valid; log in again' : 'a token is required');
      if (first === 'events' && req.method === 'GET') {
        res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
        res.write(': connected\n\n');
        streams.add(res);
        req.on('close', () => streams.delete(res));
        return undefined;
      }
      return await api(req, res, url, user);
    } catch (error) {
      return fail(res, 400, 'BAD_REQUEST', String(error.message || error));
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    predictorHost,
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      for (const res of streams) res.end();
      server.closeAllConnections();
      predictor.closeAllConnections();
      await Promise.all([new Promise((r) => server.close(r)), new Promise((r) => predictor.close(r))]);
    },
  };
}
