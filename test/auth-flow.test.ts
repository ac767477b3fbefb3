// Auth service against the real PostgreSQL and the real Kafka broker: login, rotation,
// reuse detection, every revoking endpoint putting its event on the topic, key rotation.
import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { createLocalJWKSet, decodeProtectedHeader, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthConfig } from '@revocable/auth';
import { type RevocationEvent } from '@revocable/events';
import { verifyAccessToken } from '@revocable/tokens';
import { testTransport, waitFor } from './support/env.ts';
import { startRelayingAuth, type RelayingAuth } from './support/relaying-auth.ts';

const ADMIN = 'admin-token-for-tests-0123456789';
const ISSUER = 'http://auth.test';
/** The token keys' kids of a JWKS (the event-signing keys, `evt.…`, come after them). */
const tokenKids = (keys: JWK[]) => keys.map((k) => k.kid).filter((kid) => !kid?.startsWith('evt.'));

let auth: RelayingAuth;
let topic: string;
let config: AuthConfig;
let app: FastifyInstance;
let offsetMs = 0;
const now = () => Date.now() + offsetMs;
const heartbeatPartitions = new Set<number>();

beforeAll(async () => {
  auth = await startRelayingAuth({
    name: 'auth-flow',
    env: {
      AUTH_ISSUER: ISSUER,
      ADMIN_TOKEN: ADMIN,
      INTROSPECTION_CLIENTS: 'orders:orders-secret-0123456789abcdef0123,profile:profile-secret-0123456789abcdef012',
      COOKIE_SECURE: 'true',
      REFRESH_REUSE_GRACE_SECONDS: '5',
      MAX_SESSIONS_PER_USER: '3',
    },
    now,
    onRecord: (event, record) => {
      if (event.type === 'heartbeat') heartbeatPartitions.add(record.partition);
    },
  });
  ({ app, config, topic } = auth);
}, 120_000);

afterAll(async () => {
  await auth?.close();
});

async function register(email = `u-${randomUUID()}@example.com`, password = 'correct horse battery'): Promise<{ id: string; email: string; password: string }> {
  const res = await app.inject({ method: 'POST', url: '/v1/users', payload: { email, password } });
  expect(res.statusCode, res.body).toBe(201);
  return { ...(res.json() as { id: string; email: string }), password };
}

interface Tokens {
  access_token: string;
  refresh_token: string;
  token_type: string;
  expires_in: number;
}

async function login(user: { email: string; password: string }, audience?: string | string[]): Promise<Tokens> {
  const res = await app.inject({ method: 'POST', url: '/v1/login', payload: { email: user.email, password: user.password, ...(audience ? { audience } : {}) } });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as Tokens;
}

async function refresh(token: string, extra: Record<string, string> = {}) {
  return app.inject({
    method: 'POST',
    url: '/oauth/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token, ...extra }).toString(),
  });
}

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8')) as Record<string, unknown>;
}

async function verifyWithJwks(token: string, audience = 'orders') {
  const jwks = (await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as { keys: JWK[] };
  return verifyAccessToken(token, createLocalJWKSet({ keys: jwks.keys }), { issuer: ISSUER, audience, now });
}

function eventsFor(predicate: (e: RevocationEvent) => boolean): Promise<RevocationEvent[]> {
  return auth.eventsFor(predicate, 'event on the revocation topic');
}

describe('auth service: tokens and sessions', () => {
  it('issues RFC 9068 access tokens verifiable with the published JWKS', async () => {
    const user = await register();
    const tokens = await login(user);
    expect(tokens.token_type).toBe('Bearer');
    expect(tokens.expires_in).toBe(900);
    expect(tokens.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const header = decodeProtectedHeader(tokens.access_token);
    expect(header).toMatchObject({ alg: 'EdDSA', typ: 'at+jwt' });
    const { claims, kid } = await verifyWithJwks(tokens.access_token);
    expect(kid).toBe(header.kid);
    // The default client's default audiences: the first AUDIENCES entry and the account audience.
    expect(claims).toMatchObject({ iss: ISSUER, sub: user.id, aud: ['orders', 'auth'], ver: 1, client_id: 'revocable-app', scope: 'orders:read orders:write', nbf: claims.iat });
    expect(claims.exp - claims.iat).toBe(900);
    expect(typeof claims.jti).toBe('string');
    expect(typeof claims.sid).toBe('string');
  });

  it('chooses the audience from the allow-list (audience on login, resource on refresh) and refuses others', async () => {
    const user = await register();
    const single = await login(user, 'profile');
    expect(claimsOf(single.access_token)['aud']).toBe('profile');
    const tokens = await login(user, ['orders', 'profile']);
    const bad = await app.inject({ method: 'POST', url: '/v1/login', payload: { email: user.email, password: user.password, audience: 'billing' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: 'invalid_target' });
    const both = await app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `grant_type=refresh_token&refresh_token=${tokens.refresh_token}&resource=orders&resource=profile`,
    });
    expect(both.statusCode, both.body).toBe(200);
    expect(claimsOf((both.json() as Tokens).access_token)['aud']).toEqual(['orders', 'profile']);
    // RFC 8707: a session refreshes only into audiences granted at login.
    const notGranted = await app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `grant_type=refresh_token&refresh_token=${single.refresh_token}&resource=orders`,
    });
    expect(notGranted.statusCode).toBe(400);
    expect(notGranted.json()).toMatchObject({ error: 'invalid_target' });
  });

  it('sets the refresh token as an HttpOnly; Secure; SameSite=Strict cookie scoped to the token path, and refreshes from it only with the CSRF header', async () => {
    const user = await register();
    const res = await app.inject({ method: 'POST', url: '/v1/login', payload: { email: user.email, password: user.password } });
    const body = res.json() as Tokens;
    const cookies = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
    const tokenCookie = cookies.find((c) => c.includes('Path=/oauth/token'));
    expect(tokenCookie).toBeDefined();
    expect(tokenCookie).toContain(`revocable_rt=${body.refresh_token}`);
    expect(tokenCookie).toMatch(/HttpOnly/);
    expect(tokenCookie).toMatch(/Secure/);
    expect(tokenCookie).toMatch(/SameSite=Strict/);
    expect(res.headers['cache-control']).toBe('no-store');

    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const noHeader = await app.inject({ method: 'POST', url: '/oauth/token', headers: form, cookies: { revocable_rt: body.refresh_token }, payload: 'grant_type=refresh_token' });
    expect(noHeader.statusCode).toBe(403);
    expect(noHeader.json()).toMatchObject({ error: 'access_denied' });
    const crossSite = await app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { ...form, 'x-csrf-protection': '1', 'sec-fetch-site': 'cross-site' },
      cookies: { revocable_rt: body.refresh_token },
      payload: 'grant_type=refresh_token',
    });
    expect(crossSite.statusCode).toBe(403);
    const ok = await app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { ...form, 'x-csrf-protection': '1' },
      cookies: { revocable_rt: body.refresh_token },
      payload: 'grant_type=refresh_token',
    });
    expect(ok.statusCode, ok.body).toBe(200);
    expect((ok.json() as Tokens).refresh_token).not.toBe(body.refresh_token);
  });

  it('login → refresh rotation → reuse of the rotated token revokes the whole session and emits session.revoked(reuse_detected)', async () => {
    const user = await register();
    const first = await login(user);
    const sid = claimsOf(first.access_token)['sid'] as string;

    const r1 = await refresh(first.refresh_token);
    expect(r1.statusCode, r1.body).toBe(200);
    const second = r1.json() as Tokens;
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(claimsOf(second.access_token)['sid']).toBe(sid);

    // Concurrent duplicate inside the grace window: the same successor, session alive.
    const dup = await refresh(first.refresh_token);
    expect(dup.statusCode, dup.body).toBe(200);
    expect((dup.json() as Tokens).refresh_token).toBe(second.refresh_token);

    const r2 = await refresh(second.refresh_token);
    expect(r2.statusCode).toBe(200);
    const third = r2.json() as Tokens;

    offsetMs += 6_000; // past the 5 s grace window
    const reuse = await refresh(first.refresh_token);
    expect(reuse.statusCode).toBe(400);
    expect(reuse.json()).toMatchObject({ error: 'invalid_grant', reason: 'reuse_detected' });
    // The whole family is dead, including the newest token.
    const after = await refresh(third.refresh_token);
    expect(after.statusCode).toBe(400);
    expect(after.json()).toMatchObject({ error: 'invalid_grant', reason: 'session_revoked' });
    const sessions = await app.inject({ method: 'GET', url: '/v1/sessions', headers: { authorization: `Bearer ${third.access_token}` } });
    expect(sessions.statusCode).toBe(401);

    const [event] = await eventsFor((e) => e.type === 'session.revoked' && e.sid === sid);
    expect(event).toMatchObject({ type: 'session.revoked', sub: user.id, sid, reason: 'reuse_detected' });
    expect((event as { until: number }).until).toBeGreaterThanOrEqual(Math.floor(now() / 1000) + 900);
  });

  it('concurrent refreshes with the same token all get the same successor', async () => {
    const user = await register();
    const tokens = await login(user);
    const results = await Promise.all([refresh(tokens.refresh_token), refresh(tokens.refresh_token), refresh(tokens.refresh_token)]);
    for (const r of results) expect(r.statusCode, r.body).toBe(200);
    const successors = new Set(results.map((r) => (r.json() as Tokens).refresh_token));
    expect(successors.size).toBe(1);
  });

  it('expires sessions after the idle lifetime', async () => {
    const user = await register();
    const tokens = await login(user);
    offsetMs += (config.sessionIdleTtlSeconds + 1) * 1000;
    const r = await refresh(tokens.refresh_token);
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ error: 'invalid_grant', reason: 'session_expired' });
    // Still "expired" when presented again (the session is now closed with reason idle_timeout).
    expect((await refresh(tokens.refresh_token)).json()).toMatchObject({ error: 'invalid_grant', reason: 'session_expired' });
  });

  it('caps sessions per user: the oldest is evicted with session.revoked(session_cap)', async () => {
    const user = await register();
    const oldest = await login(user);
    await login(user);
    await login(user);
    const fourth = await login(user);
    const oldestSid = claimsOf(oldest.access_token)['sid'] as string;
    const evicted = await refresh(oldest.refresh_token);
    expect(evicted.statusCode).toBe(400);
    expect(evicted.json()).toMatchObject({ error: 'invalid_grant', reason: 'session_revoked' });
    const list = await app.inject({ method: 'GET', url: '/v1/sessions', headers: { authorization: `Bearer ${fourth.access_token}` } });
    const sessions = (list.json() as { sessions: Array<{ sid: string; current: boolean }> }).sessions;
    expect(sessions).toHaveLength(3);
    expect(sessions.filter((s) => s.current)).toHaveLength(1);
    const [event] = await eventsFor((e) => e.type === 'session.revoked' && e.sid === oldestSid);
    expect(event).toMatchObject({ reason: 'session_cap', sub: user.id });
  });
});

describe('auth service: refused refreshes say why (reason next to invalid_grant)', () => {
  const refused = async (token: string, reason: string) => {
    const res = await refresh(token);
    expect(res.statusCode, res.body).toBe(400);
    const body = res.json() as Record<string, unknown>;
    // Exactly these fields: nothing about who ended the session, when, or which device.
    expect(Object.keys(body).sort()).toEqual(['error', 'error_description', 'reason']);
    expect(body).toMatchObject({ error: 'invalid_grant', reason });
    return body;
  };

  it('unknown_token: malformed, never issued', async () => {
    await refused('not-a-refresh-token', 'unknown_token');
    await refused(randomBytes(32).toString('base64url'), 'unknown_token');
  });

  it('reuse_detected for the rotated token, session_revoked for the rest of its family', async () => {
    const tokens = await login(await register());
    const second = (await refresh(tokens.refresh_token)).json() as Tokens;
    const third = (await refresh(second.refresh_token)).json() as Tokens;
    // The rotated token's successor is spent: no grace applies, this is reuse.
    const body = await refused(tokens.refresh_token, 'reuse_detected');
    expect(body['error_description']).toBe('refresh token was already used; the session has been revoked');
    await refused(third.refresh_token, 'session_revoked');
    // The same spent token again: the session is already revoked.
    await refused(tokens.refresh_token, 'session_revoked');
  });

  it('session_revoked: logout, logout-all, password change, admin, RFC 7009 revocation all read the same', async () => {
    const user = await register();
    const loggedOut = await login(user);
    await app.inject({ method: 'POST', url: '/v1/logout', headers: { authorization: `Bearer ${loggedOut.access_token}` } });
    const other = await login(user);
    const mine = await login(user);
    const changed = await auth.changePassword(mine.access_token, user.password, 'another long passphrase');
    expect(changed.statusCode).toBe(200);
    const bodies = [await refused(loggedOut.refresh_token, 'session_revoked'), await refused(other.refresh_token, 'session_revoked')];
    const admin = await login({ ...user, password: 'another long passphrase' });
    await app.inject({ method: 'POST', url: `/v1/admin/users/${user.id}/revoke`, headers: { authorization: `Bearer ${ADMIN}` } });
    bodies.push(await refused(admin.refresh_token, 'session_revoked'));
    bodies.push(await refused(mine.refresh_token, 'session_revoked'));
    const revoked = await login({ ...user, password: 'another long passphrase' });
    await app.inject({ method: 'POST', url: '/oauth/revoke', payload: { token: revoked.refresh_token } });
    bodies.push(await refused(revoked.refresh_token, 'session_revoked'));
    // One fixed text for every cause: the answer does not tell logout from admin from password change.
    expect(new Set(bodies.map((b) => b['error_description'])).size).toBe(1);
  });

  it('session_expired: absolute lifetime', async () => {
    const tokens = await login(await register());
    offsetMs += (config.sessionAbsoluteTtlSeconds + 1) * 1000;
    await refused(tokens.refresh_token, 'session_expired');
  });
});

describe('auth service: every revocation reaches the topic', () => {
  it('logout → session.revoked(logout), and the access token stops working here', async () => {
    const user = await register();
    const tokens = await login(user);
    const sid = claimsOf(tokens.access_token)['sid'] as string;
    const res = await app.inject({ method: 'POST', url: '/v1/logout', headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(res.statusCode).toBe(204);
    const [event] = await eventsFor((e) => e.type === 'session.revoked' && e.sid === sid);
    expect(event).toMatchObject({ sub: user.id, reason: 'logout' });
    expect((await refresh(tokens.refresh_token)).statusCode).toBe(400);
    const again = await app.inject({ method: 'POST', url: '/v1/logout-all', headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(again.statusCode).toBe(401);
    expect(again.headers['www-authenticate']).toContain('invalid_token');
  });

  it('logout works with an expired (but genuine) access token; other endpoints refuse it', async () => {
    const user = await register();
    const tokens = await login(user);
    const sid = claimsOf(tokens.access_token)['sid'] as string;
    offsetMs += (config.accessTtlSeconds + 10) * 1000;
    const list = await app.inject({ method: 'GET', url: '/v1/sessions', headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(list.statusCode).toBe(401);
    expect(list.json()).toMatchObject({ error_description: 'access token rejected: expired' });
    const res = await app.inject({ method: 'POST', url: '/v1/logout', headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(res.statusCode).toBe(204);
    await eventsFor((e) => e.type === 'session.revoked' && e.sid === sid && e.reason === 'logout');
    const forged = `${tokens.access_token.slice(0, -4)}AAAA`;
    expect((await app.inject({ method: 'POST', url: '/v1/logout', headers: { authorization: `Bearer ${forged}` } })).statusCode).toBe(401);
  });

  it('logout with the refresh cookie (CSRF header required)', async () => {
    const user = await register();
    const tokens = await login(user);
    const sid = claimsOf(tokens.access_token)['sid'] as string;
    const refused = await app.inject({ method: 'POST', url: '/v1/logout', cookies: { revocable_rt: tokens.refresh_token } });
    expect(refused.statusCode).toBe(403);
    const res = await app.inject({ method: 'POST', url: '/v1/logout', headers: { 'x-csrf-protection': '1' }, cookies: { revocable_rt: tokens.refresh_token } });
    expect(res.statusCode).toBe(204);
    await eventsFor((e) => e.type === 'session.revoked' && e.sid === sid && e.reason === 'logout');
  });

  it('logout-all → user.revoked(logout_all) with minVer above every issued token', async () => {
    const user = await register();
    const a = await login(user);
    const b = await login(user, 'profile');
    const res = await app.inject({ method: 'POST', url: '/v1/logout-all', headers: { authorization: `Bearer ${a.access_token}` } });
    expect(res.statusCode).toBe(204);
    const [event] = await eventsFor((e) => e.type === 'user.revoked' && e.sub === user.id);
    expect(event).toMatchObject({ reason: 'logout_all', minVer: 2 });
    expect(claimsOf(b.access_token)['ver']).toBeLessThan(2);
    expect((await refresh(b.refresh_token)).statusCode).toBe(400);
    const fresh = await login(user);
    expect(claimsOf(fresh.access_token)['ver']).toBe(2);
  });

  it('password change → user.revoked(password_changed); the caller keeps its session with a new token', async () => {
    const user = await register();
    const mine = await login(user);
    const other = await login(user);
    const wrong = await auth.changePassword(mine.access_token, 'not it at all', 'a brand new passphrase');
    expect(wrong.statusCode).toBe(401);
    const res = await auth.changePassword(mine.access_token, user.password, 'a brand new passphrase');
    expect(res.statusCode, res.body).toBe(200);
    const next = res.json() as { access_token: string };
    expect(claimsOf(next.access_token)['ver']).toBe(2);
    const [event] = await eventsFor((e) => e.type === 'user.revoked' && e.sub === user.id);
    expect(event).toMatchObject({ reason: 'password_changed', minVer: 2 });
    expect((await refresh(other.refresh_token)).statusCode).toBe(400);
    const kept = await refresh(mine.refresh_token);
    expect(kept.statusCode).toBe(200);
    expect(claimsOf((kept.json() as Tokens).access_token)['ver']).toBe(2);
    const oldPassword = await app.inject({ method: 'POST', url: '/v1/login', payload: { email: user.email, password: user.password } });
    expect(oldPassword.statusCode).toBe(401);
    await login({ email: user.email, password: 'a brand new passphrase' });
  });

  it('admin revoke-user → user.revoked(admin); admin token compared, not guessable', async () => {
    const user = await register();
    await login(user);
    const denied = await app.inject({ method: 'POST', url: `/v1/admin/users/${user.id}/revoke`, headers: { authorization: 'Bearer nope' } });
    expect(denied.statusCode).toBe(401);
    const res = await app.inject({ method: 'POST', url: `/v1/admin/users/${user.id}/revoke`, headers: { authorization: `Bearer ${ADMIN}` } });
    expect(res.statusCode, res.body).toBe(200);
    const [event] = await eventsFor((e) => e.type === 'user.revoked' && e.sub === user.id);
    expect(event).toMatchObject({ reason: 'admin', minVer: 2 });
    const missing = await app.inject({ method: 'POST', url: `/v1/admin/users/${randomUUID()}/revoke`, headers: { authorization: `Bearer ${ADMIN}` } });
    expect(missing.statusCode).toBe(404);
  });

  it('DELETE /v1/sessions/:sid → session.revoked(user_deleted_session); other users cannot', async () => {
    const user = await register();
    const phone = await login(user);
    const laptop = await login(user);
    const phoneSid = claimsOf(phone.access_token)['sid'] as string;
    const stranger = await login(await register());
    const foreign = await app.inject({ method: 'DELETE', url: `/v1/sessions/${phoneSid}`, headers: { authorization: `Bearer ${stranger.access_token}` } });
    expect(foreign.statusCode).toBe(404);
    const res = await app.inject({ method: 'DELETE', url: `/v1/sessions/${phoneSid}`, headers: { authorization: `Bearer ${laptop.access_token}` } });
    expect(res.statusCode).toBe(204);
    const [event] = await eventsFor((e) => e.type === 'session.revoked' && e.sid === phoneSid);
    expect(event).toMatchObject({ reason: 'user_deleted_session', sub: user.id });
  });

  it('RFC 7009 revoke of an access token → token.revoked until its exp; introspection says inactive', async () => {
    const user = await register();
    const tokens = await login(user);
    const basic = `Basic ${Buffer.from('orders:orders-secret-0123456789abcdef0123').toString('base64')}`;
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const before = await app.inject({ method: 'POST', url: '/oauth/introspect', headers: { ...form, authorization: basic }, payload: `token=${tokens.access_token}` });
    expect(before.statusCode).toBe(200);
    expect(before.json()).toMatchObject({ active: true, sub: user.id, token_type: 'Bearer', client_id: 'revocable-app', username: user.email });
    const wrongClient = await app.inject({
      method: 'POST',
      url: '/oauth/introspect',
      headers: { ...form, authorization: `Basic ${Buffer.from('profile:profile-secret-0123456789abcdef012').toString('base64')}` },
      payload: `token=${tokens.access_token}`,
    });
    expect(wrongClient.json()).toEqual({ active: false });
    const unauthenticated = await app.inject({ method: 'POST', url: '/oauth/introspect', headers: form, payload: `token=${tokens.access_token}` });
    expect(unauthenticated.statusCode).toBe(401);
    expect(unauthenticated.json()).toMatchObject({ error: 'invalid_client' });

    const res = await app.inject({ method: 'POST', url: '/oauth/revoke', headers: form, payload: `token=${tokens.access_token}&token_type_hint=access_token` });
    expect(res.statusCode).toBe(200);
    const claims = claimsOf(tokens.access_token);
    const [event] = await eventsFor((e) => e.type === 'token.revoked' && e.jti === claims['jti']);
    expect(event).toMatchObject({ sub: user.id });
    expect((event as { until: number }).until).toBeGreaterThanOrEqual(claims['exp'] as number);
    const after = await app.inject({ method: 'POST', url: '/oauth/introspect', headers: { ...form, authorization: basic }, payload: `token=${tokens.access_token}` });
    expect(after.json()).toEqual({ active: false });
    const junk = await app.inject({ method: 'POST', url: '/oauth/revoke', headers: form, payload: 'token=not-a-token' });
    expect(junk.statusCode).toBe(200);
  });

  it('RFC 7009 revoke of a refresh token → session.revoked', async () => {
    const user = await register();
    const tokens = await login(user);
    const sid = claimsOf(tokens.access_token)['sid'] as string;
    const res = await app.inject({ method: 'POST', url: '/oauth/revoke', payload: { token: tokens.refresh_token, token_type_hint: 'refresh_token' } });
    expect(res.statusCode).toBe(200);
    await eventsFor((e) => e.type === 'session.revoked' && e.sid === sid);
    expect((await refresh(tokens.refresh_token)).statusCode).toBe(400);
  });
});

describe('auth service: signing keys', () => {
  it('rotation keeps old tokens verifiable until they expire, then drops the old key from the JWKS', async () => {
    const user = await register();
    const before = await login(user);
    const oldKid = decodeProtectedHeader(before.access_token).kid as string;
    const rotated = await app.inject({ method: 'POST', url: '/v1/admin/keys/rotate', headers: { authorization: `Bearer ${ADMIN}` } });
    expect(rotated.statusCode, rotated.body).toBe(200);
    const { kid: newKid, previous_kid, next_kid: nextKid } = rotated.json() as { kid: string; previous_kid: string; next_kid: string };
    expect(previous_kid).toBe(oldKid);
    expect(newKid).not.toBe(oldKid);
    expect(nextKid).not.toBe(newKid);

    const afterLogin = await login(user);
    expect(decodeProtectedHeader(afterLogin.access_token).kid).toBe(newKid);
    // Old token still verifies against the published JWKS, and still works here.
    await verifyWithJwks(before.access_token);
    const sessions = await app.inject({ method: 'GET', url: '/v1/sessions', headers: { authorization: `Bearer ${before.access_token}` } });
    expect(sessions.statusCode).toBe(200);

    const jwks = (await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as { keys: JWK[] };
    // Active first, then the next key (published, not signing), then the retired one.
    expect(tokenKids(jwks.keys)).toEqual([newKid, nextKid, oldKid]);
    for (const k of jwks.keys) expect(k).not.toHaveProperty('d');

    offsetMs += (config.accessTtlSeconds + config.clockSkewSeconds + 1) * 1000;
    const later = (await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as { keys: JWK[] };
    expect(tokenKids(later.keys)).toEqual([newKid, nextKid]);
    const listed = (await app.inject({ method: 'GET', url: '/v1/admin/keys', headers: { authorization: `Bearer ${ADMIN}` } })).json() as {
      keys: Array<{ kid: string; status: string; published: boolean }>;
    };
    expect(listed.keys.find((k) => k.kid === oldKid)).toMatchObject({ status: 'retired', published: false });
    expect(listed.keys.find((k) => k.kid === nextKid)).toMatchObject({ status: 'next', published: true });
  });

  it('emergency key revocation → key.revoked; JWKS drops it at once; a new key signs', async () => {
    const user = await register();
    const tokens = await login(user);
    const kid = decodeProtectedHeader(tokens.access_token).kid as string;
    const jwksBefore = (await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as { keys: JWK[] };
    const res = await app.inject({ method: 'POST', url: `/v1/admin/keys/${kid}/revoke`, headers: { authorization: `Bearer ${ADMIN}` } });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json() as { replaced_by: string; until: number; next_kid: string };
    expect(body.replaced_by).toBeTruthy();
    // The replacement is the key that was published as next before the revocation.
    expect(jwksBefore.keys.map((k) => k.kid)).toContain(body.replaced_by);
    expect(body.next_kid).not.toBe(body.replaced_by);
    const [event] = await eventsFor((e) => e.type === 'key.revoked' && e.kid === kid);
    expect((event as { until: number }).until).toBeGreaterThanOrEqual((claimsOf(tokens.access_token)['exp'] as number));
    const jwks = (await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as { keys: JWK[] };
    expect(jwks.keys.map((k) => k.kid)).not.toContain(kid);
    await expect(verifyWithJwks(tokens.access_token)).rejects.toMatchObject({ code: 'ERR_TOKEN_UNKNOWN_KID' });
    const next = await login(user);
    expect(decodeProtectedHeader(next.access_token).kid).toBe(body.replaced_by);
    const unknown = await app.inject({ method: 'POST', url: '/v1/admin/keys/nope/revoke', headers: { authorization: `Bearer ${ADMIN}` } });
    expect(unknown.statusCode).toBe(404);
  });

  it('revoking the (possibly leaked) next key replaces it; it never signed, and the active key keeps signing', async () => {
    const admin = { authorization: `Bearer ${ADMIN}` };
    const listed = (await app.inject({ method: 'GET', url: '/v1/admin/keys', headers: admin })).json() as { keys: Array<{ kid: string; status: string }> };
    const next = listed.keys.find((k) => k.status === 'next')?.kid as string;
    const active = listed.keys.find((k) => k.status === 'active')?.kid as string;
    const res = await app.inject({ method: 'POST', url: `/v1/admin/keys/${next}/revoke`, headers: admin });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json() as { replaced_by: string; next_kid: string };
    expect(body.replaced_by).toBe(body.next_kid);
    const jwks = (await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as { keys: JWK[] };
    expect(jwks.keys.map((k) => k.kid)).not.toContain(next);
    expect(jwks.keys.map((k) => k.kid)).toContain(body.next_kid);
    const tokens = await login(await register());
    expect(decodeProtectedHeader(tokens.access_token).kid).toBe(active);
  });
});

describe('auth service: discovery and operations', () => {
  it('serves RFC 8414 metadata, OpenAPI docs, readiness with relay state, and metrics', async () => {
    const meta = (await app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })).json() as Record<string, unknown>;
    expect(meta).toMatchObject({
      issuer: ISSUER,
      token_endpoint: `${ISSUER}/oauth/token`,
      jwks_uri: `${ISSUER}/.well-known/jwks.json`,
      revocation_endpoint: `${ISSUER}/oauth/revoke`,
      introspection_endpoint: `${ISSUER}/oauth/introspect`,
    });
    const docs = await app.inject({ method: 'GET', url: '/docs/json' });
    expect(docs.statusCode).toBe(200);
    const paths = Object.keys((docs.json() as { paths: Record<string, unknown> }).paths);
    expect(paths).toEqual(expect.arrayContaining(['/v1/login', '/oauth/token', '/v1/sessions/{sid}', '/v1/admin/keys/{kid}/revoke']));
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ status: 'ready', database: 'up', migrations: 'applied' });
    await waitFor(async () => ((await app.inject({ method: 'GET', url: '/readyz' })).json() as { relay: { state: string } }).relay.state === 'running', {
      what: 'relay running',
    });
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toContain('revocable_auth_logins_total');
    expect(metrics.body).toContain('revocable_auth_outbox_published_total');
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });

  it('created the topic with the configured partitions and retention >= the max access TTL', async () => {
    const admin = await testTransport('auth-flow-admin').admin();
    try {
      expect(await admin.partitionCount(topic)).toBe(3);
      const configs = await admin.describeTopicConfigs(topic);
      expect(Number(configs['retention.ms'])).toBeGreaterThanOrEqual((config.accessTtlSeconds + config.clockSkewSeconds) * 1000);
    } finally {
      await admin.close();
    }
  });

  it('sends heartbeats to every partition', async () => {
    await waitFor(() => heartbeatPartitions.size === 3, { what: 'heartbeats on all 3 partitions' });
  });
});
