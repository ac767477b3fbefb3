// Admin disable/enable of an account against the real PostgreSQL and the real Kafka broker:
// disabling revokes everything in one transaction and puts user.revoked(account_disabled) on
// the topic; a disabled account looks exactly like a wrong password at login; enabling lets
// the user log in again while every token issued before stays dead.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, loadConfig } from '@revocable/auth';
import type { RevocationEvent, UserRevokedEvent } from '@revocable/events';
import { startRelayingAuth, type RelayingAuth } from './support/relaying-auth.ts';

const ADMIN = 'admin-token-for-disable-tests-0123';
const admin = { authorization: `Bearer ${ADMIN}` };
const form = { 'content-type': 'application/x-www-form-urlencoded' };
const introspectionAuth = `Basic ${Buffer.from('orders:orders-secret-0123456789abcdef0123').toString('base64')}`;
const ACCESS_TTL_SECONDS = 600;
const CLOCK_SKEW_SECONDS = 20;

let auth: RelayingAuth;
let app: FastifyInstance;

beforeAll(async () => {
  auth = await startRelayingAuth({
    name: 'auth-disable',
    env: {
      ADMIN_TOKEN: ADMIN,
      INTROSPECTION_CLIENTS: 'orders:orders-secret-0123456789abcdef0123',
      ACCESS_TTL_SECONDS: String(ACCESS_TTL_SECONDS),
      CLOCK_SKEW_SECONDS: String(CLOCK_SKEW_SECONDS),
      LOGIN_MAX_FAILURES_PER_ACCOUNT: '1000',
    },
  });
  app = auth.app;
}, 120_000);

afterAll(async () => {
  await auth?.close();
});

interface Tokens {
  access_token: string;
  refresh_token: string;
}

interface AccountAnswer {
  user_id: string;
  disabled: boolean;
  disabled_at: string | null;
  min_ver: number;
}

async function register(): Promise<{ id: string; email: string; password: string }> {
  const email = `d-${randomUUID()}@example.com`;
  const password = 'correct horse battery';
  const res = await app.inject({ method: 'POST', url: '/v1/users', payload: { email, password } });
  expect(res.statusCode, res.body).toBe(201);
  return { id: (res.json() as { id: string }).id, email, password };
}

function attemptLogin(email: string, password: string) {
  return app.inject({ method: 'POST', url: '/v1/login', payload: { email, password } });
}

async function login(user: { email: string; password: string }): Promise<Tokens> {
  const res = await attemptLogin(user.email, user.password);
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as Tokens;
}

function refresh(token: string) {
  return app.inject({ method: 'POST', url: '/oauth/token', headers: form, payload: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token }).toString() });
}

async function introspect(token: string): Promise<{ active: boolean; ver?: number }> {
  const res = await app.inject({ method: 'POST', url: '/oauth/introspect', headers: { ...form, authorization: introspectionAuth }, payload: `token=${token}` });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as { active: boolean; ver?: number };
}

function disable(id: string, headers: Record<string, string> = admin) {
  return app.inject({ method: 'POST', url: `/v1/admin/users/${id}/disable`, headers });
}

function enable(id: string, headers: Record<string, string> = admin) {
  return app.inject({ method: 'POST', url: `/v1/admin/users/${id}/enable`, headers });
}

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8')) as Record<string, unknown>;
}

function userEvents(sub: string): UserRevokedEvent[] {
  return auth.events.filter((e): e is UserRevokedEvent => e.type === 'user.revoked' && e.sub === sub);
}

async function waitForEvent(predicate: (e: RevocationEvent) => boolean, what: string): Promise<RevocationEvent> {
  return (await auth.eventsFor(predicate, what))[0] as RevocationEvent;
}

async function metric(name: string, labels: string): Promise<number> {
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

describe('admin disable / enable of an account', () => {
  it('disable → user.revoked(account_disabled) on the topic; login refused like a wrong password; refresh, password change and introspection refused', async () => {
    const user = await register();
    const a = await login(user);
    const b = await login(user);
    expect(claimsOf(a.access_token)['ver']).toBe(1);
    expect((await introspect(a.access_token)).active).toBe(true);

    const res = await disable(user.id);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json() as AccountAnswer;
    expect(body).toMatchObject({ user_id: user.id, disabled: true, min_ver: 2 });
    expect(Number.isNaN(Date.parse(body.disabled_at as string))).toBe(false);

    const event = (await waitForEvent((e) => e.type === 'user.revoked' && e.sub === user.id, 'user.revoked(account_disabled)')) as UserRevokedEvent;
    expect(event).toMatchObject({ type: 'user.revoked', sub: user.id, minVer: 2, reason: 'account_disabled' });
    // Same `until` rule as every session/user revocation: revokedAt + access TTL + skew.
    expect(event.until).toBe(Math.ceil(event.at / 1000) + ACCESS_TTL_SECONDS + CLOCK_SKEW_SECONDS);
    expect(Math.abs(event.at - Date.parse(body.disabled_at as string))).toBeLessThan(1000);

    // Login: the right password of a disabled account gets the wrong-password answer, and is counted as such.
    const failuresBefore = await metric('revocable_auth_logins_total', 'result="invalid_credentials"');
    const right = await attemptLogin(user.email, user.password);
    const wrong = await attemptLogin(user.email, 'not the password at all');
    const unknown = await attemptLogin(`nobody-${randomUUID()}@example.com`, user.password);
    for (const r of [right, wrong, unknown]) {
      expect(r.statusCode).toBe(401);
      expect(r.headers['set-cookie']).toBeUndefined();
      expect(r.headers['www-authenticate']).toBeUndefined();
    }
    expect(right.json()).toEqual({ error: 'invalid_grant', error_description: 'invalid email or password' });
    expect(right.body).toBe(wrong.body);
    expect(right.body).toBe(unknown.body);
    expect(await metric('revocable_auth_logins_total', 'result="invalid_credentials"')).toBe(failuresBefore + 3);

    // Refresh: every session was revoked.
    for (const t of [a, b]) {
      const refused = await refresh(t.refresh_token);
      expect(refused.statusCode).toBe(400);
      expect(refused.json()).toMatchObject({ error: 'invalid_grant', reason: 'session_revoked' });
    }
    // Existing access tokens: inactive for resource services, refused by the account endpoints.
    expect(await introspect(a.access_token)).toEqual({ active: false });
    expect(await introspect(b.access_token)).toEqual({ active: false });
    const password = await auth.changePassword(a.access_token, user.password, 'a brand new passphrase');
    expect(password.statusCode).toBe(401);
    expect(password.json()).toMatchObject({ error: 'invalid_token' });
    const stillOld = await app.inject({ method: 'POST', url: '/v1/login', payload: { email: user.email, password: 'a brand new passphrase' } });
    expect(stillOld.statusCode).toBe(401);
  });

  it('enable → login works again with the bumped ver; tokens from before the disable stay dead', async () => {
    const user = await register();
    const before = await login(user);
    expect((await disable(user.id)).statusCode).toBe(200);
    // Attempts refused while disabled do not lock the user out after enabling.
    await attemptLogin(user.email, user.password);

    const res = await enable(user.id);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ user_id: user.id, disabled: false, disabled_at: null, min_ver: 2 });
    const again = await enable(user.id);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(res.json());

    const fresh = await login(user);
    expect(claimsOf(fresh.access_token)['ver']).toBe(2);
    expect(claimsOf(fresh.access_token)['sid']).not.toBe(claimsOf(before.access_token)['sid']);
    expect(await introspect(fresh.access_token)).toMatchObject({ active: true, ver: 2 });
    const rotated = await refresh(fresh.refresh_token);
    expect(rotated.statusCode, rotated.body).toBe(200);

    expect(await introspect(before.access_token)).toEqual({ active: false });
    const oldRefresh = await refresh(before.refresh_token);
    expect(oldRefresh.statusCode).toBe(400);
    expect(oldRefresh.json()).toMatchObject({ error: 'invalid_grant', reason: 'session_revoked' });
    // Enabling wrote no event: the only user.revoked of this user is the disable's.
    await waitForEvent((e) => e.type === 'user.revoked' && e.sub === user.id, 'user.revoked(account_disabled)');
    const marker = await app.inject({ method: 'POST', url: `/v1/admin/users/${user.id}/revoke`, headers: admin });
    expect(marker.statusCode).toBe(200);
    await waitForEvent((e) => e.type === 'user.revoked' && e.sub === user.id && e.reason === 'admin', 'user.revoked(admin)');
    expect(userEvents(user.id).map((e) => [e.reason, e.minVer])).toEqual([
      ['account_disabled', 2],
      ['admin', 3],
    ]);
  });

  it('disabling twice (also concurrently) answers the same and emits one event', async () => {
    const user = await register();
    await login(user);
    const [first, second] = await Promise.all([disable(user.id), disable(user.id)]);
    expect(first?.statusCode, first?.body).toBe(200);
    expect(second?.statusCode, second?.body).toBe(200);
    const third = await disable(user.id);
    expect(third.statusCode).toBe(200);
    const answer = first?.json() as AccountAnswer;
    expect(answer).toMatchObject({ user_id: user.id, disabled: true, min_ver: 2 });
    expect(second?.json()).toEqual(answer);
    expect(third.json()).toEqual(answer);

    // Events of one user are keyed by sub and stay ordered: once a later event of the same
    // user is on the topic, every earlier one is too.
    const marker = await app.inject({ method: 'POST', url: `/v1/admin/users/${user.id}/revoke`, headers: admin });
    expect(marker.json()).toMatchObject({ min_ver: 3 });
    await waitForEvent((e) => e.type === 'user.revoked' && e.sub === user.id && e.reason === 'admin', 'user.revoked(admin)');
    expect(userEvents(user.id).filter((e) => e.reason === 'account_disabled')).toHaveLength(1);
    // Still disabled after the admin revoke; the answer now reports the newer version.
    expect((await disable(user.id)).json()).toEqual({ ...answer, min_ver: 3 });
  });

  it('unknown user 404, malformed id 400, missing or wrong admin token 401, admin API off 403; nothing changes', async () => {
    const user = await register();
    for (const call of [disable, enable]) {
      const missing = await call(randomUUID());
      expect(missing.statusCode).toBe(404);
      expect(missing.json()).toMatchObject({ error: 'not_found' });
      for (const id of ['not-a-uuid', '1', `${randomUUID()}x`, 'x'.repeat(65)]) {
        const malformed = await call(id);
        expect(malformed.statusCode, id).toBe(400);
        expect(malformed.json()).toMatchObject({ error: 'invalid_request' });
      }
      const noToken = await call(user.id, {});
      expect(noToken.statusCode).toBe(401);
      expect(noToken.json()).toMatchObject({ error: 'invalid_token' });
      const wrongToken = await call(user.id, { authorization: `Bearer ${ADMIN.slice(0, -1)}X` });
      expect(wrongToken.statusCode).toBe(401);
    }
    // An instance without ADMIN_TOKEN has no admin API at all.
    const { ADMIN_TOKEN: _, ...withoutAdmin } = auth.env;
    const closed = await buildApp(loadConfig(withoutAdmin), { logger: false, relay: false });
    try {
      for (const url of [`/v1/admin/users/${user.id}/disable`, `/v1/admin/users/${user.id}/enable`]) {
        const res = await closed.inject({ method: 'POST', url, headers: admin });
        expect(res.statusCode).toBe(403);
        expect(res.json()).toMatchObject({ error: 'access_denied' });
      }
    } finally {
      await closed.close();
    }
    await login(user);
    expect(userEvents(user.id)).toHaveLength(0);
  });

  it('documents both endpoints in the OpenAPI schema', async () => {
    const spec = (await app.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, { post?: { security?: unknown[] } }> };
    for (const path of ['/v1/admin/users/{id}/disable', '/v1/admin/users/{id}/enable']) {
      expect(spec.paths[path]?.post?.security).toEqual([{ admin: [] }]);
    }
  });
});
