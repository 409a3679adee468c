// main.jsx: the web admin's shell: hash routes, the header with navigation
// and the live-updates indicator, the login gate, and the return to the
// login page when the session expires.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { getSession, onSessionExpired, setSession } from './api.js';
import { connectEvents, disconnectEvents, useLiveState } from './events.js';
import { navigate } from './nav.js';
import { Login } from './pages/login.jsx';
import { Datasets } from './pages/datasets.jsx';
import { Models } from './pages/models.jsx';
import { TrainJobs, NewTrainJob, TrainJobDetail } from './pages/trainjobs.jsx';
import { TrialDetail } from './pages/trial.jsx';
import { InferenceJobs, InferenceJobDetail } from './pages/inference.jsx';
import './style.css';

// The route of a hash such as "#/jobs/iris/1": {name, params}.
function parseRoute(hash) {
  const parts = hash
    .replace(/^#\/?/, '')
    .split('/')
    .filter((part) => part.length > 0)
    .map((part) => decodeURIComponent(part));
  const [first, ...rest] = parts;
  switch (first) {
    case 'login':
      return { name: 'login' };
    case 'datasets':
      return { name: 'datasets' };
    case 'models':
      return { name: 'models' };
    case 'jobs':
      if (rest[0] === 'new') return { name: 'new-job' };
      if (rest.length >= 2) return { name: 'job', params: { app: rest[0], version: rest[1] } };
      return { name: 'jobs' };
    case 'trials':
      if (rest.length >= 1) return { name: 'trial', params: { id: rest[0] } };
      return { name: 'jobs' };
    case 'inference':
      if (rest.length >= 2) return { name: 'inference-job', params: { app: rest[0], version: rest[1] } };
      return { name: 'inference' };
    default:
      return { name: 'jobs' };
  }
}

const NAV = [
  { hash: '#/datasets', label: 'Datasets', routes: ['datasets'] },
  { hash: '#/models', label: 'Models', routes: ['models'] },
  { hash: '#/jobs', label: 'Train jobs', routes: ['jobs', 'new-job', 'job', 'trial'] },
  { hash: '#/inference', label: 'Inference jobs', routes: ['inference', 'inference-job'] },
];

function LiveIndicator() {
  const state = useLiveState();
  const words = {
    off: 'Live updates off',
    connecting: 'Connecting live updates…',
    live: 'Live',
    retrying: 'Live updates reconnecting…',
  };
  return (
    <span class={'live live-' + state} role="status" aria-live="polite" data-live={state}>
      <span class="dot" aria-hidden="true" />
      {words[state]}
    </span>
  );
}

function Header({ route, session, onLogout }) {
  return (
    <header class="top">
      <a class="skip" href="#content" onClick={(e) => { e.preventDefault(); document.getElementById('content')?.focus(); }}>
        Skip to content
      </a>
      <div class="brand">Rafiki</div>
      <nav aria-label="Main">
        <ul>
          {NAV.map((item) => (
            <li key={item.hash}>
              <a href={item.hash} aria-current={item.routes.includes(route.name) ? 'page' : undefined}>
                {item.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <div class="who">
        <LiveIndicator />
        <span class="user" title={session.user_type}>
          {session.email || session.user_id}
          <span class="muted"> ({(session.user_type || '').toLowerCase().replace('_', ' ')})</span>
        </span>
        <button type="button" class="secondary" onClick={onLogout}>
          Log out
        </button>
      </div>
    </header>
  );
}

function App() {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  const [session, setSessionState] = useState(getSession());
  const [expired, setExpired] = useState(null);

  useEffect(() => {
    const onHash = () => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  useEffect(
    () =>
      onSessionExpired((message) => {
        disconnectEvents();
        setSessionState(null);
        setExpired(message || 'Your session has expired; please log in again.');
        if (!location.hash.startsWith('#/login')) {
          sessionStorage.setItem('rafiki.return', location.hash);
          navigate('#/login');
        }
      }),
    [],
  );

  useEffect(() => {
    if (session) connectEvents();
    else disconnectEvents();
  }, [session]);

  // Move focus to the page's heading after a route change, for keyboards
  // and screen readers.
  useEffect(() => {
    const heading = document.querySelector('main h1');
    if (heading) {
      heading.setAttribute('tabindex', '-1');
      heading.focus({ preventScroll: false });
    }
  }, [route, session]);

  const onLogin = (value) => {
    setSession(value);
    setSessionState(value);
    setExpired(null);
    const back = sessionStorage.getItem('rafiki.return');
    sessionStorage.removeItem('rafiki.return');
    navigate(back && !back.startsWith('#/login') ? back : '#/jobs');
  };
  const onLogout = () => {
    setSession(null);
    setSessionState(null);
    disconnectEvents();
    navigate('#/login');
  };

  if (!session || route.name === 'login') {
    return (
      <main id="content" tabindex="-1" class="narrow">
        <Login onLogin={onLogin} expired={expired} />
      </main>
    );
  }

  let page;
  switch (route.name) {
    case 'datasets':
      page = <Datasets />;
      break;
    case 'models':
      page = <Models session={session} />;
      break;
    case 'new-job':
      page = <NewTrainJob />;
      break;
    case 'job':
      page = <TrainJobDetail app={route.params.app} version={route.params.version} />;
      break;
    case 'trial':
      page = <TrialDetail id={route.params.id} />;
      break;
    case 'inference':
      page = <InferenceJobs />;
      break;
    case 'inference-job':
      page = <InferenceJobDetail app={route.params.app} version={route.params.version} />;
      break;
    default:
      page = <TrainJobs />;
  }
  return (
    <>
      <Header route={route} session={session} onLogout={onLogout} />
      <main id="content" tabindex="-1">
        {page}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app'));
