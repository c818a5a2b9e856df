// Token login: the pasted Kubernetes token goes to POST /api/v1/login once, which checks it and
// keeps it in an HttpOnly cookie the page itself can never read.
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import type { Session } from '../main.js';

export function Login({ onLogin }: { onLogin: (s: Session) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const submit = (e: Event) => {
    e.preventDefault();
    api<Session>('POST', '/login', { token: token.trim() }).then(onLogin, (err: Error) => setError(err.message));
  };
  return (
    <main>
      <h1>Parallax</h1>
      <p>
        Log in with a Kubernetes token; everything you do here is done with it, so your RBAC decides (e.g.{' '}
        <code>kubectl create token NAME</code>).
      </p>
      <form class="login" onSubmit={submit}>
        <input name="token" type="password" aria-label="Kubernetes token" placeholder="token" value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} />
        <button type="submit">Log in</button>
      </form>
      {error && <p class="error">{error}</p>}
    </main>
  );
}
