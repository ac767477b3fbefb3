/**
 * The client SDK against the real services: auth, orders and profile as child processes
 * (test/support/cluster.ts), real Kafka, real PostgreSQL. "Expired" access tokens come
 * from the client's injected clock, so nothing sleeps.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthRequestError, InvalidCredentialsError, NetworkError, NotAuthenticatedError, RefreshTokenReuseError, RevocableClient, SessionRevokedError, memoryStore, type RevocableClientOptions } from '@revocable/client';
import { testClient, type TestClient } from './support/client.ts';
import { startCluster, type Cluster } from './support/cluster.ts';
import { databaseUrl, kafkaBrokers, waitFor } from './support/env.ts';

let cluster: Cluster;

beforeAll(async () => {
  // Default JWKS refetch cooldown (5 s): after the emergency key revocation below, the
  // services must accept the replacement key at once because it was published in advance.
  cluster = await startCluster({ kafkaBrokers: kafkaBrokers(), databaseUrl: databaseUrl() });
});

afterAll(async () => {
  await cluster?.stop();
});

/** Refresh grants the auth service answered, by result, from its /metrics. */
async function authRefreshes(result: string): Promise<number> {
  const text = await (await fetch(`${cluster.authUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('revocable_auth_refreshes_total{') && l.includes(`result="${result}"`));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** A fetch that counts the refresh grants this client sends. */
function countingFetch() {
  const counter = { refreshes: 0 };
  const impl: typeof fetch = (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    if (url.endsWith('/oauth/token')) counter.refreshes += 1;
    return fetch(input, init);
  };
  return { impl, counter };
}

async function newUser(): Promise<{ email: string; password: string }> {
  const email = `sdk-${randomBytes(6).toString('hex')}@example.com`;
  const password = randomBytes(12).toString('base64url');
  await new RevocableClient({ authUrl: cluster.authUrl, storage: memoryStore() }).register({ email, password });
  return { email, password };
}

/** A client of the real auth service for orders and profile, counting its refresh grants. */
function device(overrides: Partial<RevocableClientOptions> = {}): TestClient & { counter: { refreshes: number } } {
  const counting = countingFetch();
  return { ...testClient({ authUrl: cluster.authUrl, audience: ['orders', 'profile'], fetch: counting.impl, ...overrides }), counter: counting.counter };
}

/** Two devices of one new user, each logged in: two sessions. */
async function twoDevices(): Promise<[ReturnType<typeof device>, ReturnType<typeof device>]> {
  const user = await newUser();
  const first = device();
  const second = device();
  await first.client.login(user);
  await second.client.login(user);
  return [first, second];
}

/**
 * A fetch that keeps cookies like a browser: only with `credentials: 'include'`, honouring
 * each cookie's Path and its deletion (Max-Age=0 or a past Expires).
 */
function browserLikeFetch() {
  const jar = new Map<string, { name: string; value: string; path: string }>();
  const seen: Request[] = [];
  const impl: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    seen.push(request.clone());
    const path = new URL(request.url).pathname;
    if (request.credentials === 'include') {
      const cookies = [...jar.values()].filter((c) => path === c.path || path.startsWith(`${c.path}/`));
      if (cookies.length > 0) request.headers.set('cookie', cookies.map((c) => `${c.name}=${c.value}`).join('; '));
    }
    const response = await fetch(request);
    if (request.credentials === 'include') {
      for (const line of response.headers.getSetCookie()) {
        const [pair = '', ...attributes] = line.split(';').map((p) => p.trim());
        const eq = pair.indexOf('=');
        const name = pair.slice(0, eq);
        const attr = (key: string) => attributes.find((a) => a.toLowerCase().startsWith(`${key}=`))?.slice(key.length + 1);
        const cookiePath = attr('path') ?? '/';
        const expires = attr('expires');
        const gone = attr('max-age') === '0' || (expires !== undefined && Date.parse(expires) <= Date.now());
        if (gone) jar.delete(`${name};${cookiePath}`);
        else jar.set(`${name};${cookiePath}`, { name, value: pair.slice(eq + 1), path: cookiePath });
      }
    }
    return response;
  };
  return { impl, jar, seen };
}

const orders = () => `${cluster.ordersUrl}/v1/orders`;
const profile = () => `${cluster.profileUrl}/v1/profile`;

describe('client SDK against the real auth service', () => {
  it('logs in with one token for both services and reports typed login errors', async () => {
    const user = await newUser();
    const { client, store } = device();
    const session = await client.login(user);
    // The SDK adds the account audience, so the same token also serves the account API.
    expect(session.audience.sort()).toEqual(['auth', 'orders', 'profile']);
    expect(session.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await store.get()).toEqual(expect.any(String));
    expect((await client.fetch(orders())).status).toBe(200);
    expect((await client.fetch(profile())).status).toBe(200);

    const wrong = await device().client.login({ email: user.email, password: 'not the password' }).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(InvalidCredentialsError);
    expect(wrong).toMatchObject({ code: 'ERR_INVALID_CREDENTIALS', status: 401, serverError: 'invalid_grant' });

    const taken = await client.register(user).catch((e: unknown) => e);
    expect(taken).toBeInstanceOf(AuthRequestError);
    expect(taken).toMatchObject({ code: 'ERR_AUTH_REQUEST_FAILED', status: 409, serverError: 'email_taken' });
  });

  it('50 concurrent requests with an expired access token cause exactly one refresh', async () => {
    const user = await newUser();
    const { client, counter, advance, store } = device();
    await client.login(user);
    const firstRefreshToken = await store.get();
    const before = await authRefreshes('success');
    // Past the token's lifetime on the client's clock: every request needs a new token first.
    advance(16 * 60 * 1000);
    const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => client.fetch(i % 2 ? orders() : profile())));
    expect(responses.map((r) => r.status)).toEqual(Array(50).fill(200));
    expect(counter.refreshes).toBe(1);
    expect(await authRefreshes('success')).toBe(before + 1);
    expect(await store.get()).not.toBe(firstRefreshToken);
  });

  it('50 concurrent requests rejected with 401 invalid_token share one refresh and retry once', async () => {
    const user = await newUser();
    const { client, counter } = device();
    await client.login(user);
    const oldToken = await client.getAccessToken();
    // Emergency revocation of the key that signed it: every token it signed is denied,
    // the auth service switches to a new key, sessions stay alive.
    const header = JSON.parse(Buffer.from(oldToken.split('.')[0] ?? '', 'base64url').toString('utf8')) as { kid: string };
    const revoke = await fetch(`${cluster.authUrl}/v1/admin/keys/${encodeURIComponent(header.kid)}/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${cluster.adminToken}` },
    });
    expect(revoke.status).toBe(200);
    expect(await revoke.json()).toMatchObject({ kid: header.kid, revoked: true, replaced_by: expect.any(String) });
    for (const url of [orders(), profile()]) {
      await waitFor(
        async () => (await fetch(url, { headers: { authorization: `Bearer ${oldToken}` } })).status === 401,
        { what: `${url} to deny the revoked key` },
      );
    }
    const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => client.fetch(i % 2 ? orders() : profile())));
    expect(responses.map((r) => r.status)).toEqual(Array(50).fill(200));
    expect(counter.refreshes).toBe(1);
    expect(await client.getAccessToken()).not.toBe(oldToken);
  });

  it('a session revoked from another device ends this one with onSessionEnded', async () => {
    const [laptop, phone] = await twoDevices();
    const laptopSid = laptop.client.session?.sessionId;
    if (laptopSid === undefined) throw new Error('no sid');
    const listed = await phone.client.sessions();
    expect(listed.map((s) => s.sid).sort()).toEqual([laptopSid, phone.client.session?.sessionId].sort());
    expect(listed.find((s) => s.current)?.sid).toBe(phone.client.session?.sessionId);

    await phone.client.revokeSession(laptopSid);
    // Until the revocation reaches orders, the laptop's token still works; then its 401
    // makes the SDK refresh, the auth service refuses, and the session ends.
    const error = await waitFor(
      async () => {
        const response = await laptop.client.fetch(orders()).catch((e: unknown) => e);
        return response instanceof Response ? false : response;
      },
      { what: 'the laptop session to end' },
    );
    expect(error).toBeInstanceOf(SessionRevokedError);
    expect(error).toMatchObject({ code: 'ERR_SESSION_REVOKED', serverError: 'invalid_grant', reason: 'session_revoked' });
    expect(laptop.ended).toHaveLength(1);
    expect(laptop.ended[0]?.reason).toBe('revoked');
    expect(await laptop.store.get()).toBeNull();
    expect(laptop.client.session).toBeNull();
    await expect(laptop.client.fetch(orders())).rejects.toBeInstanceOf(NotAuthenticatedError);
    // The phone is untouched.
    expect((await phone.client.fetch(orders())).status).toBe(200);
    expect(phone.ended).toEqual([]);
  });

  it('a replayed refresh token: the thief gets RefreshTokenReuseError (reuse_detected), the owner then SessionRevokedError (revoked)', async () => {
    const user = await newUser();
    const owner = device();
    await owner.client.login(user);
    const stolen = await owner.store.get();
    // Two rotations: the stolen token's successor is spent too, so no grace window applies.
    await owner.client.refresh();
    await owner.client.refresh();
    const reusesBefore = await authRefreshes('reuse_detected');

    const thief = device({ storage: memoryStore(stolen) });
    const thiefError = await thief.client.refresh().catch((e: unknown) => e);
    expect(thiefError).toBeInstanceOf(RefreshTokenReuseError);
    expect(thiefError).toMatchObject({ code: 'ERR_REFRESH_TOKEN_REUSED', status: 400, serverError: 'invalid_grant', reason: 'reuse_detected' });
    expect(thief.ended.map((e) => e.reason)).toEqual(['reuse_detected']);
    expect(await authRefreshes('reuse_detected')).toBe(reusesBefore + 1);

    const ownerError = await owner.client.refresh().catch((e: unknown) => e);
    expect(ownerError).toBeInstanceOf(SessionRevokedError);
    expect(ownerError).not.toBeInstanceOf(RefreshTokenReuseError);
    expect(ownerError).toMatchObject({ code: 'ERR_SESSION_REVOKED', reason: 'session_revoked' });
    expect(owner.ended.map((e) => e.reason)).toEqual(['revoked']);
    expect(await owner.store.get()).toBeNull();
  });

  it('cookie mode: the refresh token stays in the HttpOnly cookie and refresh and logout work through it', async () => {
    const user = await newUser();
    const browser = browserLikeFetch();
    const tab = device({ storage: 'cookie', fetch: browser.impl });
    await tab.client.login(user);
    const cookies = [...browser.jar.values()];
    expect(cookies.map((c) => c.path).sort()).toEqual(['/oauth/token', '/v1/logout']);
    expect(cookies.every((c) => c.name === 'revocable_rt')).toBe(true);
    const firstCookie = cookies[0]?.value;

    tab.advance(16 * 60 * 1000);
    expect((await tab.client.fetch(profile())).status).toBe(200);
    const refreshCalls = browser.seen.filter((r) => r.url.endsWith('/oauth/token'));
    expect(refreshCalls).toHaveLength(1);
    expect(new URLSearchParams(await refreshCalls[0]?.text()).has('refresh_token')).toBe(false);
    expect(refreshCalls[0]?.headers.get('x-csrf-protection')).toBe('1');
    // Rotated: the cookie changed, and the old value is now spent.
    expect(browser.jar.get('revocable_rt;/oauth/token')?.value).not.toBe(firstCookie);

    const token = await tab.client.getAccessToken();
    await tab.client.logout();
    expect(browser.jar.size).toBe(0);
    await waitFor(async () => (await fetch(orders(), { headers: { authorization: `Bearer ${token}` } })).status === 401, {
      what: 'orders to reject the logged-out token',
    });
    expect(tab.ended).toEqual([]);
  });

  it('logout and logoutAll revoke on the server and clear local state', async () => {
    const [a, b] = await twoDevices();
    const aToken = await a.client.getAccessToken();
    await a.client.logout();
    expect(await a.store.get()).toBeNull();
    expect(a.ended).toEqual([]);
    await waitFor(async () => (await fetch(profile(), { headers: { authorization: `Bearer ${aToken}` } })).status === 401, {
      what: 'profile to reject the logged-out token',
    });
    expect((await b.client.fetch(profile())).status).toBe(200);

    const bToken = await b.client.getAccessToken();
    await b.client.logoutAll();
    expect(await b.store.get()).toBeNull();
    await waitFor(async () => (await fetch(orders(), { headers: { authorization: `Bearer ${bToken}` } })).status === 401, {
      what: 'orders to reject after logout-all',
    });
  });

  it('an auth-service outage keeps the session: NetworkError while down, refresh after restart', async () => {
    const user = await newUser();
    const { client, store, ended, advance } = device();
    await client.login(user);
    const refreshToken = await store.get();
    await cluster.stopService('auth');
    try {
      // Resource services verify locally: the current token keeps working without the auth service.
      expect((await client.fetch(orders())).status).toBe(200);
      advance(16 * 60 * 1000);
      const error = await client.fetch(orders()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NetworkError);
      expect(error).toMatchObject({ code: 'ERR_NETWORK' });
      expect(ended).toEqual([]);
      expect(await store.get()).toBe(refreshToken);
    } finally {
      await cluster.startService('auth');
    }
    expect((await client.fetch(profile())).status).toBe(200);
    expect(await store.get()).not.toBe(refreshToken);
  });
});
