// events.js: live updates. One EventSource on admin's GET /events (SSE) per
// session; admin sends only the caller's own jobs' events, each as
//   event: JobStatus | ServiceStatus | TrialUpdate | LogLine
//   data: {the message's fields, as in proto/event.proto}
// Pages subscribe with useLiveEvents and refresh what an event touches.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { getSession } from './api.js';
import { parseEvent } from './util.js';

export const EVENT_TYPES = ['JobStatus', 'ServiceStatus', 'TrialUpdate', 'LogLine'];

let source = null;
let sourceToken = null;
let state = 'off'; // off | connecting | live | retrying
const handlers = new Set();
const stateListeners = new Set();

function setState(next) {
  if (state === next) return;
  state = next;
  for (const listener of stateListeners) listener(state);
}

function dispatch(event) {
  for (const handler of handlers) {
    try {
      handler(event);
    } catch (error) {
      console.error('live event handler failed', error);
    }
  }
}

// Opens (or reopens, for a new token) the stream; closes it when logged out.
export function connectEvents() {
  const session = getSession();
  const token = session && session.token;
  if (source && sourceToken === token) return;
  disconnectEvents();
  if (!token || typeof EventSource === 'undefined') return;
  sourceToken = token;
  setState('connecting');
  source = new EventSource('/events?token=' + encodeURIComponent(token));
  source.onopen = () => setState('live');
  // The browser reconnects by itself after a dropped stream; when the server
  // refused the stream (401, 404) the source stays closed.
  source.onerror = () => setState(source && source.readyState === EventSource.CLOSED ? 'off' : 'retrying');
  for (const type of EVENT_TYPES) {
    source.addEventListener(type, (message) => {
      const event = parseEvent(type, message.data);
      if (event) dispatch(event);
    });
  }
}

export function disconnectEvents() {
  if (source) source.close();
  source = null;
  sourceToken = null;
  setState('off');
}

// Calls handler(event) for every live event while the component is mounted.
export function useLiveEvents(handler) {
  const ref = useRef(handler);
  ref.current = handler;
  useEffect(() => {
    const forward = (event) => ref.current(event);
    handlers.add(forward);
    return () => handlers.delete(forward);
  }, []);
}

// The stream's state, for the header's indicator.
export function useLiveState() {
  const [value, setValue] = useState(state);
  useEffect(() => {
    stateListeners.add(setValue);
    setValue(state);
    return () => stateListeners.delete(setValue);
  }, []);
  return value;
}

// A function that runs `fn` once, `delay` ms after the last call: many events
// in a burst cause one refresh.
export function debounce(fn, delay = 250) {
  let timer = null;
  const wrapped = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), delay);
  };
  wrapped.cancel = () => clearTimeout(timer);
  return wrapped;
}

// A debounced `reload` (300 ms) run for every live event `wanted(event)`
// accepts, while the component is mounted.
export function useLiveRefresh(reload, wanted) {
  const refresh = useMemo(() => debounce(reload, 300), [reload]);
  useEffect(() => refresh.cancel, [refresh]);
  useLiveEvents((event) => {
    if (wanted(event)) refresh();
  });
}
