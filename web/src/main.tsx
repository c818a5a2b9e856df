// The dashboard: a few routes over the API's kinds (Executions live, one Execution live with its
// agents' answers, policy decisions and review, Patterns, Agents) and a token login. The route is
// the URL hash (#/executions/NAME), so the server serves one page; the namespace is part of the state.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from './api.js';
import { AgentPage } from './pages/agent.js';
import { Catalog } from './pages/catalog.js';
import { ExecutionPage } from './pages/execution.js';
import { Executions } from './pages/executions.js';
import { Login } from './pages/login.js';
import { Overview } from './pages/overview.js';
import { PatternPage } from './pages/pattern.js';
import { ReviewQueue } from './pages/reviews.js';

const PAGES: [string, string][] = [['overview', 'Overview'], ['executions', 'Executions'], ['reviews', 'Review queue'], ['patterns', 'Patterns'], ['agents', 'Agents']];

function Page({ page, name, namespace }: { page: string; name?: string; namespace: string }) {
  if (page === 'executions' && name) return <ExecutionPage namespace={namespace} name={name} />;
  if (page === 'patterns' && name) return <PatternPage namespace={namespace} name={name} />;
  if (page === 'agents' && name) return <AgentPage namespace={namespace} name={name} />;
  if (page === 'patterns' || page === 'agents') return <Catalog namespace={namespace} kind={page} />;
  if (page === 'reviews') return <ReviewQueue namespace={namespace} />;
  if (page === 'executions') return <Executions namespace={namespace} />;
  return <Overview namespace={namespace} />;
}

export interface Session {
  user: string;
  mode: 'forward' | 'kubeconfig';
  namespace: string;
}

function useHash(): string {
  const [hash, setHash] = useState(location.hash || '#/overview');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/overview');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [namespace, setNamespace] = useState('');
  const [error, setError] = useState('');
  const hash = useHash();
  useEffect(() => {
    api<Session>('GET', '/whoami').then(
      (s) => (setSession(s), setNamespace(s.namespace)),
      (e: Error) => (e instanceof ApiError && e.code === 401 ? setSession(null) : setError(e.message)),
    );
  }, []);
  if (error) return <p class="error">{error}</p>;
  if (session === undefined) return <p>Loading…</p>;
  if (session === null) return <Login onLogin={(s) => (setSession(s), setNamespace(s.namespace))} />;
  const [, page, name] = hash.split('/');
  const logout = () => api('POST', '/logout').then(() => setSession(null));
  return (
    <>
      <header>
        <strong>Parallax</strong>
        <nav aria-label="pages">
          {PAGES.map(([p, title]) => (
            <a href={`#/${p}`} class={page === p ? 'active' : ''} aria-current={page === p ? 'page' : undefined}>
              {title}
            </a>
          ))}
        </nav>
        <label>
          namespace <input name="namespace" value={namespace} onChange={(e) => setNamespace((e.target as HTMLInputElement).value)} />
        </label>
        <span class="who">{session.user}</span>
        {session.mode === 'forward' && <button onClick={logout}>Log out</button>}
      </header>
      <main>
        <Page page={page} name={name ? decodeURIComponent(name) : undefined} namespace={namespace} />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
