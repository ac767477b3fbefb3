/**
 * The browser app of test/browser.test.ts: a page on its own origin that talks to the auth
 * and orders services on other origins through @revocable/client (cookie mode). Bundled by
 * esbuild at test time; the test drives it through `window.revocableApp`.
 */
import { RevocableClient, type SessionEndedEvent } from '@revocable/client';

const params = new URLSearchParams(location.search);
const authUrl = params.get('auth') ?? '';
const ordersUrl = params.get('orders') ?? '';

const ended: Array<{ reason: SessionEndedEvent['reason']; code: string }> = [];
const client = new RevocableClient({
  authUrl,
  storage: 'cookie',
  audience: ['orders'],
  onSessionEnded: (event) => {
    ended.push({ reason: event.reason, code: event.error.code });
    render(`session ended: ${event.reason}`);
  },
  onTokenChange: (change) => render(change.accessToken === null ? `signed out (${change.cause})` : `signed in (${change.cause})`),
});

function render(status: string): void {
  const session = client.session;
  const el = document.getElementById('status');
  if (el !== null) el.textContent = status;
  const who = document.getElementById('who');
  if (who !== null) who.textContent = session === null ? 'nobody' : `user ${session.subject ?? '?'} · session ${session.sessionId ?? '?'}`;
}

/** What a call answered, in a form that crosses page.evaluate. */
interface Outcome {
  ok: boolean;
  status?: number;
  body?: unknown;
  error?: { name: string; code: string; message: string };
}

async function attempt(run: () => Promise<{ status?: number; body?: unknown }>): Promise<Outcome> {
  try {
    return { ok: true, ...(await run()) };
  } catch (error) {
    const e = error as { name?: string; code?: string; message?: string };
    return { ok: false, error: { name: e.name ?? 'Error', code: e.code ?? '', message: e.message ?? String(error) } };
  }
}

async function json(response: Response): Promise<{ status: number; body: unknown }> {
  const text = await response.text();
  return { status: response.status, body: text === '' ? null : (JSON.parse(text) as unknown) };
}

const revocableApp = {
  register: (email: string, password: string) => attempt(async () => ({ body: await client.register({ email, password }) })),
  login: (email: string, password: string) => attempt(async () => ({ body: (await client.login({ email, password })).sessionId })),
  /** Resumes the session after a reload: the refresh token is in the HttpOnly cookie only. */
  resume: () => attempt(async () => ({ body: (await client.refresh(), client.session?.sessionId) })),
  refresh: () => attempt(async () => ({ body: await client.refresh() })),
  logout: () => attempt(async () => (await client.logout(), {})),
  createOrder: (item: string) =>
    attempt(async () =>
      json(await client.fetch(`${ordersUrl}/v1/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ item, quantity: 1 }) })),
    ),
  listOrders: () => attempt(async () => json(await client.fetch(`${ordersUrl}/v1/orders`))),
  /** A raw call with a given token (no SDK retry): how orders answers an old token. */
  ordersWith: (token: string) => attempt(async () => json(await fetch(`${ordersUrl}/v1/orders`, { headers: { authorization: `Bearer ${token}` } }))),
  accessToken: () => client.session?.accessToken ?? null,
  sessionId: () => client.session?.sessionId ?? null,
  refreshCount: () => client.refreshCount,
  ended: () => ended.slice(),
  /** What page script can see of cookies: the refresh cookie is HttpOnly (and another site's). */
  documentCookie: () => document.cookie,
};

declare global {
  interface Window {
    revocableApp: typeof revocableApp;
  }
}
window.revocableApp = revocableApp;
render('ready');
