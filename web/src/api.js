// api.js: the REST client of the web admin (API.md). Every call sends the
// session's token as `Authorization: Bearer`; an error answer
// {"error": {"code", "message"}} becomes an ApiError whose message is shown to
// the user; a 401 ends the session and sends the user back to the login page.

const SESSION_KEY = 'rafiki.session';

// An error the user should read: the API's message when it gave one.
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

let session = null;
try {
  session = JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null');
} catch {
  session = null;
}
const expiryListeners = new Set();

export function getSession() {
  return session;
}

export function setSession(value) {
  session = value;
  if (value) sessionStorage.setItem(SESSION_KEY, JSON.stringify(value));
  else sessionStorage.removeItem(SESSION_KEY);
}

// Called with a message when the server says the token is no longer good.
export function onSessionExpired(listener) {
  expiryListeners.add(listener);
  return () => expiryListeners.delete(listener);
}

function expire(message) {
  if (!session) return;
  setSession(null);
  for (const listener of expiryListeners) listener(message);
}

// Words for a status when the body did not say what went wrong.
const STATUS_WORDS = {
  400: 'The request was not accepted',
  401: 'Your session has expired; please log in again',
  403: 'You are not allowed to do that',
  404: 'Not found',
  409: 'That conflicts with the current state',
  413: 'The file or request is too large',
  502: 'The server could not be reached',
  503: 'The server is overloaded; try again shortly',
};

// The ApiError of a failed answer: status, and the parsed body if any.
export function errorFrom(status, body, fallback) {
  const err = body && typeof body === 'object' ? body.error : null;
  if (err && typeof err === 'object' && err.message)
    return new ApiError(status, err.code || 'ERROR', String(err.message));
  if (typeof err === 'string') return new ApiError(status, 'ERROR', err);
  const words = STATUS_WORDS[status] || fallback || `The server answered ${status}`;
  return new ApiError(status, 'HTTP_' + status, words);
}

function parseJson(text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

// One call: method, path under the API root, optional JSON body or FormData.
export async function request(method, path, body) {
  const headers = {};
  if (session && session.token) headers.Authorization = 'Bearer ' + session.token;
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body: payload });
  } catch {
    throw new ApiError(0, 'NETWORK', 'The server could not be reached; check that admin is running');
  }
  const text = await response.text();
  const data = parseJson(text);
  if (!response.ok) {
    const error = errorFrom(response.status, data);
    if (response.status === 401 && path !== '/tokens') expire(error.message);
    throw error;
  }
  return data;
}

// A multipart upload through XMLHttpRequest, which reports upload progress:
// onProgress(sentBytes, totalBytes). Returns {promise, abort}.
export function upload(path, form, onProgress) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    xhr.open('POST', path);
    if (session && session.token) xhr.setRequestHeader('Authorization', 'Bearer ' + session.token);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable && onProgress) onProgress(event.loaded, event.total);
    };
    xhr.onload = () => {
      const data = parseJson(xhr.responseText);
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else {
        const error = errorFrom(xhr.status, data);
        if (xhr.status === 401) expire(error.message);
        reject(error);
      }
    };
    xhr.onerror = () =>
      reject(new ApiError(0, 'NETWORK', 'The upload failed: the connection to the server was lost'));
    xhr.onabort = () => reject(new ApiError(0, 'ABORTED', 'The upload was cancelled'));
    xhr.send(form);
  });
  return { promise, abort: () => xhr.abort() };
}

export const api = {
  login: (email, password) => request('POST', '/tokens', { email, password }),
  me: () => request('GET', '/me'),
  datasets: (task) => request('GET', '/datasets' + (task ? '?task=' + encodeURIComponent(task) : '')),
  deleteDataset: (id) => request('DELETE', '/datasets/' + encodeURIComponent(id)),
  models: (task) =>
    request('GET', '/models/available' + (task ? '?task=' + encodeURIComponent(task) : '')),
  deleteModel: (id) => request('DELETE', '/models/' + encodeURIComponent(id)),
  trainJobs: () => request('GET', '/train_jobs'),
  trainJob: (app, version) =>
    request('GET', `/train_jobs/${encodeURIComponent(app)}/${encodeURIComponent(version)}`),
  createTrainJob: (job) => request('POST', '/train_jobs', job),
  stopTrainJob: (app, version) =>
    request('POST', `/train_jobs/${encodeURIComponent(app)}/${encodeURIComponent(version)}/stop`),
  trials: (app, version) =>
    request('GET', `/train_jobs/${encodeURIComponent(app)}/${encodeURIComponent(version)}/trials`),
  trial: (id) => request('GET', '/trials/' + encodeURIComponent(id)),
  trialLogs: (id) => request('GET', '/trials/' + encodeURIComponent(id) + '/logs'),
  inferenceJobs: () => request('GET', '/inference_jobs'),
  inferenceJob: (app, version) =>
    request('GET', `/inference_jobs/${encodeURIComponent(app)}/${encodeURIComponent(version)}`),
  createInferenceJob: (job) => request('POST', '/inference_jobs', job),
  stopInferenceJob: (app, version) =>
    request('POST', `/inference_jobs/${encodeURIComponent(app)}/${encodeURIComponent(version)}/stop`),
  // Serving keys of a job created with auth: token (the key is answered once, at creation).
  servingKeys: (app, version) =>
    request('GET', `/inference_jobs/${encodeURIComponent(app)}/${encodeURIComponent(version)}/keys`),
  createServingKey: (app, version, label) =>
    request('POST', `/inference_jobs/${encodeURIComponent(app)}/${encodeURIComponent(version)}/keys`, label ? { label } : {}),
  revokeServingKey: (app, version, id) =>
    request(
      'DELETE',
      `/inference_jobs/${encodeURIComponent(app)}/${encodeURIComponent(version)}/keys/${encodeURIComponent(id)}`,
    ),
};

// The URL of a predictor's /predict from the predictor_host an inference job
// reports ("host:port", or a full http(s) URL).
export function predictUrl(predictorHost) {
  const host = String(predictorHost || '').trim().replace(/\/+$/, '');
  if (!host) return null;
  return (/^https?:\/\//.test(host) ? host : 'http://' + host) + '/predict';
}

// Sends a query (or several) to a predictor. The body is sent as text/plain so
// the browser makes a simple cross-origin request without a preflight; the
// predictor must still answer with Access-Control-Allow-Origin.
export async function predict(predictorHost, queries, several, key) {
  const url = predictUrl(predictorHost);
  if (!url) throw new ApiError(0, 'NO_PREDICTOR', 'This inference job has no predictor host yet');
  const body = several ? { queries } : { query: queries };
  let response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: key ? { 'Content-Type': 'text/plain', Authorization: 'Bearer ' + key } : { 'Content-Type': 'text/plain' },
      body: JSON.stringify(body),
    });
  } catch {
    throw new ApiError(
      0,
      'NETWORK',
      `The predictor at ${predictorHost} could not be reached (is it running, and does it allow this page's origin?)`,
    );
  }
  const data = parseJson(await response.text());
  if (!response.ok) throw errorFrom(response.status, data, 'The predictor refused the query');
  return data;
}
