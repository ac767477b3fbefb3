// The admin console: a thin page over the admin HTTP API (the same audited service code),
// signed in with the admin credential, which stays in this tab's sessionStorage and is sent
// as a bearer token. Preact + htm, served by the auth service itself (no CDN, no build step).
import { h, render } from './vendor/preact.mjs';
import { useCallback, useEffect, useState } from './vendor/hooks.mjs';
import htm from './vendor/htm.mjs';

const html = htm.bind(h);
const TOKEN_KEY = 'revocable-admin-token';

class ApiError extends Error {
  constructor(status, body) {
    super(body.error_description || body.error || `HTTP ${status}`);
    this.status = status;
  }
}

// A revoking call waits (RFC 7240 Prefer: wait) until every live resource-service instance
// confirmed it, for at most this long, so the page can say where it has landed.
const REVOKE_WAIT_SECONDS = 5;

async function api(token, method, path, body, { wait } = {}) {
  const headers = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (wait !== undefined) headers.prefer = `wait=${wait}`;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const data = text === '' ? {} : JSON.parse(text);
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');

/** `label`, then where the revocation landed (the `propagation` member of a Prefer: wait answer), if the service sent one. */
function landed(label, data) {
  const p = data?.propagation;
  if (p === undefined || p === null) return label;
  const total = p.confirmed.length + p.pending.length;
  if (total === 0) return `${label} No resource-service instance was live to confirm it.`;
  if (p.complete) return `${label} Confirmed by ${p.confirmed.length} of ${total} instances (slowest ${p.slowest_ms} ms).`;
  return `${label} Confirmed by ${p.confirmed.length} of ${total} instances after ${p.waited_ms} ms; not yet: ${p.pending.map((i) => i.instance).join(', ')}.`;
}

function SignIn({ onSignedIn }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const submit = async (e) => {
    e.preventDefault();
    setError('');
    try {
      await api(token, 'GET', '/v1/admin/keys');
      sessionStorage.setItem(TOKEN_KEY, token);
      onSignedIn(token);
    } catch (err) {
      setError(err.status === 401 ? 'That is not the admin credential.' : err.message);
    }
  };
  return html`<main><section>
    <h2>Sign in</h2>
    <form class="row" onSubmit=${submit}>
      <input data-testid="admin-token" type="password" autocomplete="off" placeholder="ADMIN_TOKEN" value=${token} onInput=${(e) => setToken(e.target.value)} />
      <button class="action primary" data-testid="sign-in" type="submit">Sign in</button>
    </form>
    ${error && html`<p class="error" data-testid="sign-in-error">${error}</p>`}
  </section></main>`;
}

function Users({ token }) {
  const [email, setEmail] = useState('');
  const [found, setFound] = useState(null);
  const [message, setMessage] = useState('');
  const [busy, setBusy] = useState(false);

  const load = useCallback(async (userId) => setFound(await api(token, 'GET', `/v1/admin/users/${encodeURIComponent(userId)}`)), [token]);
  const run = async (what, action) => {
    setBusy(true);
    setMessage('');
    try {
      const said = await action();
      setMessage(typeof said === 'string' ? said : what);
    } catch (err) {
      setMessage(`Failed: ${err.message}`);
    } finally {
      setBusy(false);
    }
  };
  const search = (e) => {
    e.preventDefault();
    setFound(null);
    run('', async () => {
      const user = await api(token, 'GET', `/v1/admin/users?email=${encodeURIComponent(email)}`);
      await load(user.user_id);
    });
  };
  const user = found?.user;
  const act = (label, method, path, revokes = true) =>
    run(label, async () => {
      const data = await api(token, method, path, undefined, revokes ? { wait: REVOKE_WAIT_SECONDS } : {});
      await load(user.user_id);
      return landed(label, data);
    });

  return html`<section>
    <h2>Find a user</h2>
    <form class="row" onSubmit=${search}>
      <input data-testid="user-email" type="email" placeholder="email" value=${email} onInput=${(e) => setEmail(e.target.value)} />
      <button class="action primary" data-testid="find-user" type="submit" disabled=${busy}>Find</button>
    </form>
    ${message && html`<p data-testid="user-message" class=${message.startsWith('Failed') ? 'error' : 'ok'}>${message}</p>`}
  </section>
  ${user &&
  html`<section data-testid="user-panel">
      <h2>${user.email}</h2>
      <p class="muted">id <code>${user.user_id}</code> · created ${when(user.created_at)} · token version ${user.min_ver} ·${' '}
        <span data-testid="user-state">${user.disabled ? `disabled since ${when(user.disabled_at)}` : 'enabled'}</span></p>
      <div class="row">
        <button class="action danger" data-testid="revoke-all" disabled=${busy} onClick=${() => act('Every session revoked.', 'POST', `/v1/admin/users/${user.user_id}/revoke`)}>Revoke all sessions</button>
        ${user.disabled
          ? html`<button class="action" data-testid="enable-user" disabled=${busy} onClick=${() => act('Account enabled.', 'POST', `/v1/admin/users/${user.user_id}/enable`, false)}>Enable account</button>`
          : html`<button class="action danger" data-testid="disable-user" disabled=${busy} onClick=${() => act('Account disabled.', 'POST', `/v1/admin/users/${user.user_id}/disable`)}>Disable account</button>`}
      </div>
      <h2 style="margin-top:1rem">Sessions (${found.sessions.length})</h2>
      <table data-testid="sessions">
        <thead><tr><th>device</th><th>IP</th><th>created</th><th>last used</th><th></th></tr></thead>
        <tbody>
          ${found.sessions.map(
            (s) => html`<tr data-testid="session-row" data-sid=${s.sid}>
              <td>${s.user_agent ?? html`<span class="muted">unknown</span>`}<br /><code class="muted">${s.sid}</code></td>
              <td>${s.ip ?? '—'}</td>
              <td>${when(s.created_at)}</td>
              <td>${when(s.last_used_at)}</td>
              <td><button class="action danger" data-testid="revoke-session" disabled=${busy}
                onClick=${() => act('Session revoked.', 'POST', `/v1/admin/users/${user.user_id}/sessions/${s.sid}/revoke`)}>Revoke</button></td>
            </tr>`,
          )}
        </tbody>
      </table>
    </section>`}`;
}

function Keys({ token }) {
  const [keys, setKeys] = useState(null);
  const [message, setMessage] = useState('');
  const load = useCallback(async () => setKeys((await api(token, 'GET', '/v1/admin/keys')).keys), [token]);
  useEffect(() => {
    load().catch((err) => setMessage(`Failed: ${err.message}`));
  }, [load]);
  const act = async (label, method, path, revokes = true) => {
    setMessage('');
    try {
      const data = await api(token, method, path, undefined, revokes ? { wait: REVOKE_WAIT_SECONDS } : {});
      setMessage(landed(label, data));
      await load();
    } catch (err) {
      setMessage(`Failed: ${err.message}`);
    }
  };
  return html`<section>
    <h2>Signing keys</h2>
    <div class="row"><button class="action primary" data-testid="rotate-key" onClick=${() => act('Rotated.', 'POST', '/v1/admin/keys/rotate', false)}>Rotate now</button></div>
    ${message && html`<p data-testid="key-message" class=${message.startsWith('Failed') ? 'error' : 'ok'}>${message}</p>`}
    <table data-testid="keys">
      <thead><tr><th>kid</th><th>status</th><th>alg</th><th>created</th><th></th></tr></thead>
      <tbody>
        ${(keys ?? []).map(
          (k) => html`<tr data-testid="key-row" data-kid=${k.kid}>
            <td><code>${k.kid}</code></td><td>${k.status}</td><td>${k.alg ?? ''}</td><td>${when(k.created_at ?? k.createdAt)}</td>
            <td>${k.status !== 'revoked' &&
            html`<button class="action danger" data-testid="revoke-key"
              onClick=${() => confirm(`Revoke ${k.kid}? Everything it signed is refused at once.`) && act('Key revoked.', 'POST', `/v1/admin/keys/${encodeURIComponent(k.kid)}/revoke`)}>Revoke</button>`}</td>
          </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

/** Reads a server-sent event stream with fetch (EventSource cannot send the bearer token). */
async function readEvents(token, path, onEvent, signal) {
  const res = await fetch(path, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, signal });
  if (!res.ok || res.body === null) throw new ApiError(res.status, {});
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = frame.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
      const type = frame.split('\n').find((l) => l.startsWith('event:'))?.slice(6).trim() ?? 'message';
      if (data !== '') onEvent(type, JSON.parse(data));
    }
  }
}

function Live({ token }) {
  const [snapshot, setSnapshot] = useState(null);
  const [state, setState] = useState('connecting');
  useEffect(() => {
    const abort = new AbortController();
    let stopped = false;
    (async () => {
      while (!stopped) {
        try {
          setState('live');
          await readEvents(token, '/v1/admin/live', (type, data) => type === 'snapshot' && setSnapshot(data), abort.signal);
        } catch (err) {
          if (stopped) return;
          setState(`reconnecting (${err.message})`);
        }
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();
    return () => {
      stopped = true;
      abort.abort();
    };
  }, [token]);
  const instances = snapshot?.instances ?? [];
  const revocations = snapshot?.revocations ?? [];
  return html`<section>
      <h2>Instances <span class="muted" data-testid="live-state">${state}</span></h2>
      <table data-testid="instances">
        <thead><tr><th>instance</th><th>service</th><th>live</th><th>ready</th><th>freshness</th><th>lag</th><th>last seen</th></tr></thead>
        <tbody>${instances.map(
          (i) => html`<tr data-testid="instance-row" data-instance=${i.instance}>
            <td><code>${i.instance}</code></td><td>${i.service}</td><td>${i.live ? 'yes' : 'no'}</td><td>${i.ready ? 'yes' : 'no'}</td>
            <td>${i.freshness_seconds === null ? '—' : `${i.freshness_seconds.toFixed(1)} s`}</td><td>${i.lag}</td><td>${when(i.last_seen_at)}</td>
          </tr>`,
        )}</tbody>
      </table>
    </section>
    <section>
      <h2>Recent revocations</h2>
      <table data-testid="revocations">
        <thead><tr><th>when</th><th>type</th><th>event</th><th>receipts</th></tr></thead>
        <tbody>${revocations.map(
          (r) => html`<tr data-testid="revocation-row" data-event=${r.id}>
            <td>${when(r.at)}</td><td>${r.type}</td><td><code>${r.id}</code></td>
            <td>${r.instances.map(
              (i) => html`<div data-testid="receipt" data-instance=${i.instance} data-status=${i.status}>
                <span class=${`badge ${i.status}`}>${i.status}</span> <code>${i.instance}</code>
                ${i.status === 'confirmed' ? html` at ${when(i.confirmed_at)} (${i.propagation_ms} ms)` : ''}</div>`,
            )}</td>
          </tr>`,
        )}</tbody>
      </table>
    </section>`;
}

function App() {
  const [token, setToken] = useState(() => sessionStorage.getItem(TOKEN_KEY));
  const [tab, setTab] = useState('users');
  if (!token) return html`<${SignIn} onSignedIn=${setToken} />`;
  const signOut = () => {
    sessionStorage.removeItem(TOKEN_KEY);
    setToken(null);
  };
  const tabButton = (id, label) => html`<button data-testid=${`tab-${id}`} class=${tab === id ? 'active' : ''} onClick=${() => setTab(id)}>${label}</button>`;
  return html`<header>
      <h1>Revocable admin</h1>
      <nav>${tabButton('users', 'Users')}${tabButton('keys', 'Keys')}${tabButton('live', 'Live')}</nav>
      <button class="action" data-testid="sign-out" style="margin-left:auto" onClick=${signOut}>Sign out</button>
    </header>
    <main>
      ${tab === 'users' && html`<${Users} token=${token} />`}
      ${tab === 'keys' && html`<${Keys} token=${token} />`}
      ${tab === 'live' && html`<${Live} token=${token} />`}
    </main>`;
}

const root = document.getElementById('root');
root.textContent = ''; // the static "Loading" line, which Preact would keep beside the app
render(html`<${App} />`, root);
