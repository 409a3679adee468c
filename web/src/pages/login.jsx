// login.jsx: the login page (POST /tokens). Says why the user is here when
// the previous session expired.
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { ErrorBox, Field, Notice } from '../components.jsx';

export function Login({ onLogin, expired }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event) => {
    event.preventDefault();
    if (!email.trim() || !password) {
      setError('Enter your e-mail and password.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const answer = await api.login(email.trim(), password);
      if (!answer || !answer.token) throw new Error('The server did not return a token.');
      onLogin({
        token: answer.token,
        user_id: answer.user_id,
        user_type: answer.user_type,
        email: email.trim(),
      });
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <section class="card login" aria-labelledby="login-title">
      <h1 id="login-title">Log in to Rafiki</h1>
      {expired ? <Notice>{expired}</Notice> : null}
      <form onSubmit={submit} noValidate>
        <Field id="login-email" label="E-mail">
          <input
            id="login-email"
            name="email"
            type="email"
            autocomplete="username"
            required
            value={email}
            onInput={(e) => setEmail(e.currentTarget.value)}
          />
        </Field>
        <Field id="login-password" label="Password">
          <input
            id="login-password"
            name="password"
            type="password"
            autocomplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </Field>
        <ErrorBox error={error} label="Could not log in" />
        <button type="submit" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </section>
  );
}
