// The admin directory (find by email, sessions, revoke one) and the console's files, against
// the real PostgreSQL with the app in-process (relay off: the outbox row is what is checked).
import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp } from '../test-app.ts';

const ADMIN = randomBytes(24).toString('base64url');
const admin = { authorization: `Bearer ${ADMIN}` };
let app: FastifyInstance;
let close = async () => {};

beforeAll(async () => {
  ({ app, close } = await startTestApp('auth_admin_directory', { ADMIN_TOKEN: ADMIN }));
});

afterAll(() => close());

async function userWithTwoSessions(): Promise<{ email: string; tokens: string[] }> {
  const email = `Directory-${randomUUID()}@Example.com`;
  const password = 'a long enough passphrase';
  expect((await app.inject({ method: 'POST', url: '/v1/users', payload: { email, password } })).statusCode).toBe(201);
  const tokens: string[] = [];
  for (const agent of ['Firefox on Linux', 'Safari on iPhone']) {
    const res = await app.inject({ method: 'POST', url: '/v1/login', headers: { 'user-agent': agent }, payload: { email, password } });
    expect(res.statusCode, res.body).toBe(200);
    tokens.push(res.json<{ access_token: string }>().access_token);
  }
  return { email, tokens };
}

describe('admin directory', () => {
  it('finds an account by email (normalised), lists its sessions with their devices, and revokes exactly one', async () => {
    const { email } = await userWithTwoSessions();
    const found = await app.inject({ method: 'GET', url: `/v1/admin/users?email=${encodeURIComponent(email.toUpperCase())}`, headers: admin });
    expect(found.statusCode, found.body).toBe(200);
    const user = found.json<{ user_id: string; email: string; disabled: boolean }>();
    expect(user.email).toBe(email.toLowerCase());
    expect(user.disabled).toBe(false);

    const detail = await app.inject({ method: 'GET', url: `/v1/admin/users/${user.user_id}`, headers: admin });
    expect(detail.statusCode).toBe(200);
    const sessions = detail.json<{ sessions: Array<{ sid: string; user_agent: string }> }>().sessions;
    expect(sessions.map((s) => s.user_agent).sort()).toEqual(['Firefox on Linux', 'Safari on iPhone']);

    const gone = sessions[0]!;
    const kept = sessions[1]!;
    const revoke = await app.inject({ method: 'POST', url: `/v1/admin/users/${user.user_id}/sessions/${gone.sid}/revoke`, headers: admin });
    expect(revoke.statusCode, revoke.body).toBe(200);
    const after = (await app.inject({ method: 'GET', url: `/v1/admin/users/${user.user_id}`, headers: admin })).json<{ sessions: Array<{ sid: string }> }>();
    expect(after.sessions.map((s) => s.sid)).toEqual([kept.sid]);
    const outbox = await app.revocableAuth.pool.query<{ payload: { type: string; sid: string; reason: string } }>('SELECT payload FROM outbox');
    expect(outbox.rows.map((r) => r.payload).filter((p) => p.sid === gone.sid)).toEqual([expect.objectContaining({ type: 'session.revoked', reason: 'admin' })]);

    // The same session again, or one of another user: 404, and no second event.
    expect((await app.inject({ method: 'POST', url: `/v1/admin/users/${user.user_id}/sessions/${gone.sid}/revoke`, headers: admin })).statusCode).toBe(404);
    expect((await app.inject({ method: 'POST', url: `/v1/admin/users/${randomUUID()}/sessions/${kept.sid}/revoke`, headers: admin })).statusCode).toBe(404);
  });

  it('answers 404 for an unknown email or user, 400 for a bad query, and 401 without the admin credential', async () => {
    expect((await app.inject({ method: 'GET', url: '/v1/admin/users?email=nobody%40example.com', headers: admin })).json()).toMatchObject({ error: expect.any(String) });
    expect((await app.inject({ method: 'GET', url: '/v1/admin/users?email=nobody%40example.com', headers: admin })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: `/v1/admin/users/${randomUUID()}`, headers: admin })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: '/v1/admin/users/not-a-uuid', headers: admin })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: '/v1/admin/users', headers: admin })).statusCode).toBe(400);
    expect((await app.inject({ method: 'GET', url: '/v1/admin/users?email=a%40b.c' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'GET', url: '/v1/admin/users?email=a%40b.c', headers: { authorization: 'Bearer wrong' } })).statusCode).toBe(401);
  });
});

describe('admin console files', () => {
  it('serves the page, its script and the front-end library from this origin, under a strict CSP', async () => {
    const page = await app.inject({ method: 'GET', url: '/admin' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['content-security-policy']).not.toContain('unsafe-inline');
    expect(page.body).toContain('/admin/app.js');
    const script = await app.inject({ method: 'GET', url: '/admin/app.js' });
    expect(script.headers['content-type']).toContain('text/javascript');
    expect(script.body).toContain("from './vendor/preact.mjs'");
    const hooks = await app.inject({ method: 'GET', url: '/admin/vendor/hooks.mjs' });
    expect(hooks.statusCode).toBe(200);
    expect(hooks.body).toContain('from"./preact.mjs"');
    expect(hooks.body).not.toMatch(/from\s*"preact"/);
    for (const path of ['/admin/vendor/preact.mjs', '/admin/vendor/htm.mjs', '/admin/app.css']) expect((await app.inject({ method: 'GET', url: path })).statusCode, path).toBe(200);
  });
});
