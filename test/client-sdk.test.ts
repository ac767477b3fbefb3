/**
 * The SDK's refresh/retry logic against a small real HTTP server (Fastify) that behaves like
 * the auth service and a resource service: opaque rotating refresh tokens with reuse
 * detection, 401 `invalid_token` on unknown or revoked access tokens. The same behaviour
 * against the real auth service is covered by client-auth.test.ts.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AuthServerError, DEFAULT_PROPAGATION_WAIT_SECONDS, InvalidCredentialsError, RateLimitedError, TimeoutError, NetworkError, NotAuthenticatedError, RefreshTokenReuseError, RevocableClient, SessionRevokedError, memoryStore, type RevocableClientOptions } from '@revocable/client';
import { testClient, type TestClient } from './support/client.ts';

const PASSWORD = 'correct horse battery staple';
const TTL_SECONDS = 900;

function fakeJwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  // Signature is irrelevant here: the server looks tokens up; the SDK never verifies.
  return `${part({ alg: 'EdDSA', typ: 'at+jwt' })}.${part(claims)}.${Buffer.from(randomUUID()).toString('base64url')}`;
}

interface Session {
  sid: string;
  revoked: boolean;
}

/** What the test server does with the next refresh calls. */
interface RefreshBehaviour {
  /** Refresh answers wait for this promise. */
  gate?: Promise<void>;
  /** Answer this instead of rotating. */
  fail?: { status: number; body: Record<string, string> };
}

class TestServer {
  readonly app: FastifyInstance;
  /** Server clock, epoch seconds, independent of the client's injected clock. */
  serverNow = () => Math.floor(Date.now() / 1000);
  refreshCalls = 0;
  resourceCalls = 0;
  resourceAlways401 = false;
  /** The Prefer header of the last logout. */
  lastPrefer: string | undefined;
  refresh: RefreshBehaviour = {};
  readonly accessTokens = new Map<string, Session>();
  readonly refreshTokens = new Map<string, { session: Session; rotated: boolean }>();
  readonly sessions = new Map<string, Session>();

  constructor() {
    this.app = Fastify({ logger: false });
    this.app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });
    this.app.post('/v1/login', async (request, reply) => {
      const body = request.body as { email?: string; password?: string };
      if (body.password !== PASSWORD) {
        return reply.code(401).send({ error: 'invalid_grant', error_description: 'invalid email or password' });
      }
      const session: Session = { sid: randomUUID(), revoked: false };
      this.sessions.set(session.sid, session);
      return this.issue(reply, session);
    });
    this.app.post('/oauth/token', async (request, reply) => {
      this.refreshCalls += 1;
      const behaviour = this.refresh;
      if (behaviour.gate) await behaviour.gate;
      if (behaviour.fail) return reply.code(behaviour.fail.status).send(behaviour.fail.body);
      const body = request.body as Record<string, string>;
      const fromCookie = body['refresh_token'] === undefined;
      const presented = body['refresh_token'] ?? cookieValue(request, 'rt');
      // Like the auth service: cookie-authenticated calls must carry the CSRF header.
      if (fromCookie && presented && request.headers['x-csrf-protection'] === undefined) {
        return reply.code(403).send({ error: 'access_denied', error_description: 'x-csrf-protection header required' });
      }
      if (body['grant_type'] !== 'refresh_token' || !presented) {
        return reply.code(400).send({ error: 'invalid_request', error_description: 'refresh_token missing' });
      }
      const entry = this.refreshTokens.get(presented);
      // The auth service's refusal contract: invalid_grant plus a stable reason.
      if (!entry) return reply.code(400).send({ error: 'invalid_grant', error_description: 'refresh token is invalid', reason: 'unknown_token' });
      if (entry.session.revoked) {
        return reply.code(400).send({ error: 'invalid_grant', error_description: 'the session has been revoked', reason: 'session_revoked' });
      }
      if (entry.rotated) {
        entry.session.revoked = true;
        return reply.code(400).send({ error: 'invalid_grant', error_description: 'refresh token was already used; the session has been revoked', reason: 'reuse_detected' });
      }
      entry.rotated = true;
      return this.issue(reply, entry.session);
    });
    this.app.post('/v1/logout', async (request, reply) => {
      const session = this.authenticate(request);
      if (!session) return this.reject(reply);
      session.revoked = true;
      const prefer = request.headers.prefer;
      this.lastPrefer = typeof prefer === 'string' ? prefer : undefined;
      const wait = /^wait=(\d+)$/.exec(this.lastPrefer ?? '');
      if (wait !== null) {
        // As the auth service under Prefer: wait (RFC 7240): 200 with the report.
        const propagation = {
          events: [{ id: 'e-1', type: 'session.revoked' }],
          complete: false,
          confirmed: [{ instance: 'orders-1', service: 'orders', audiences: ['orders'], ms: 7 }],
          pending: [{ instance: 'profile-1', service: 'profile', audiences: ['profile'] }],
          slowest_ms: 7,
          waited_ms: Number(wait[1]) * 1000,
        };
        return reply.code(200).header('preference-applied', `wait=${wait[1]}`).header('set-cookie', 'rt=; Max-Age=0; Path=/').send({ propagation });
      }
      return reply.code(204).header('set-cookie', 'rt=; Max-Age=0; Path=/').send();
    });
    const resource = async (request: FastifyRequest, reply: FastifyReply) => {
      this.resourceCalls += 1;
      const session = this.authenticate(request);
      if (!session || this.resourceAlways401) return this.reject(reply);
      return { ok: true, sid: session.sid, echo: request.body ?? null };
    };
    this.app.get('/api/echo', resource);
    this.app.post('/api/echo', resource);
  }

  issue(reply: FastifyReply, session: Session) {
    const iat = this.serverNow();
    const accessToken = fakeJwt({ sub: 'user-1', sid: session.sid, jti: randomUUID(), iat, exp: iat + TTL_SECONDS });
    const refreshToken = randomUUID();
    this.accessTokens.set(accessToken, session);
    this.refreshTokens.set(refreshToken, { session, rotated: false });
    reply.header('set-cookie', `rt=${refreshToken}; HttpOnly; SameSite=Strict; Path=/`);
    return reply.send({ access_token: accessToken, token_type: 'Bearer', expires_in: TTL_SECONDS, refresh_token: refreshToken });
  }

  authenticate(request: FastifyRequest): Session | undefined {
    const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    const session = token === undefined ? undefined : this.accessTokens.get(token);
    return session && !session.revoked ? session : undefined;
  }

  reject(reply: FastifyReply) {
    return reply
      .code(401)
      .header('www-authenticate', 'Bearer error="invalid_token"')
      .send({ error: 'invalid_token', error_description: 'token rejected', reason: 'revoked' });
  }

  /** Revokes every access token issued so far, keeping sessions alive (like a key revocation). */
  forgetAccessTokens(): void {
    this.accessTokens.clear();
  }
}

function cookieValue(request: FastifyRequest, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return undefined;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

let server: TestServer;
let baseUrl: string;

beforeAll(async () => {
  server = new TestServer();
  baseUrl = await server.app.listen({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await server.app.close();
});

afterEach(() => {
  server.refresh = {};
  server.resourceAlways401 = false;
  server.refreshCalls = 0;
  server.resourceCalls = 0;
});

function makeClient(overrides: Partial<RevocableClientOptions> = {}): TestClient {
  return testClient({ authUrl: baseUrl, ...overrides });
}

async function loggedIn(overrides: Partial<RevocableClientOptions> = {}) {
  const ctx = makeClient(overrides);
  await ctx.client.login({ email: 'a@example.com', password: PASSWORD });
  server.refreshCalls = 0;
  server.resourceCalls = 0;
  return ctx;
}

describe('login and the fetch wrapper', () => {
  it('logs in, stores the refresh token and attaches the bearer token', async () => {
    const { client, store, changes } = await loggedIn();
    expect(await store.get()).toMatch(/^[0-9a-f-]{36}$/);
    expect(changes.map((c) => c.cause)).toEqual(['login']);
    const session = client.session;
    expect(session?.subject).toBe('user-1');
    expect(session?.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    const response = await client.fetch(`${baseUrl}/api/echo`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ ok: true, sid: session?.sessionId });
    expect(server.refreshCalls).toBe(0);
  });

  it('rejects a wrong password with InvalidCredentialsError and the server code', async () => {
    const { client, store } = makeClient();
    const error = await client.login({ email: 'a@example.com', password: 'wrong' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidCredentialsError);
    expect(error).toMatchObject({ code: 'ERR_INVALID_CREDENTIALS', status: 401, serverError: 'invalid_grant' });
    expect(await store.get()).toBeNull();
    expect(client.session).toBeNull();
  });

  it('refuses to call anything before login with NotAuthenticatedError and no server call', async () => {
    const { client, ended } = makeClient();
    await expect(client.fetch(`${baseUrl}/api/echo`)).rejects.toMatchObject({ code: 'ERR_NOT_AUTHENTICATED' });
    expect(server.refreshCalls).toBe(0);
    expect(server.resourceCalls).toBe(0);
    expect(ended).toEqual([]);
  });
});

describe('proactive single-flight refresh', () => {
  it('refreshes only inside the refresh window before expiry', async () => {
    const { client, advance, store } = await loggedIn({ refreshBeforeExpirySeconds: 60 });
    const firstRefreshToken = await store.get();
    advance((TTL_SECONDS - 61) * 1000);
    expect((await client.fetch(`${baseUrl}/api/echo`)).status).toBe(200);
    expect(server.refreshCalls).toBe(0);
    advance(2000);
    expect((await client.fetch(`${baseUrl}/api/echo`)).status).toBe(200);
    expect(server.refreshCalls).toBe(1);
    expect(await store.get()).not.toBe(firstRefreshToken);
  });

  it('50 concurrent requests with an expired access token cause exactly one refresh', async () => {
    const { client, advance, changes } = await loggedIn();
    const gate = deferred();
    server.refresh = { gate: gate.promise };
    advance((TTL_SECONDS + 1) * 1000);
    const pending = Array.from({ length: 50 }, () => client.fetch(`${baseUrl}/api/echo`));
    // Let every request reach the point where it waits for the token, then answer the refresh.
    await new Promise((resolve) => setImmediate(resolve));
    gate.resolve();
    const responses = await Promise.all(pending);
    expect(responses.map((r) => r.status)).toEqual(Array(50).fill(200));
    expect(server.refreshCalls).toBe(1);
    expect(client.refreshCount).toBe(1);
    expect(changes.map((c) => c.cause)).toEqual(['login', 'refresh']);
  });

  it('measures the token lifetime on the client clock, so clock skew does not matter', async () => {
    // Server clock 2 hours ahead: exp is in the client's far future, yet lifetime is 900 s.
    server.serverNow = () => Math.floor(Date.now() / 1000) + 7200;
    try {
      const { client, advance } = await loggedIn();
      advance((TTL_SECONDS + 1) * 1000);
      expect((await client.fetch(`${baseUrl}/api/echo`)).status).toBe(200);
      expect(server.refreshCalls).toBe(1);
    } finally {
      server.serverNow = () => Math.floor(Date.now() / 1000);
    }
  });
});

describe('401 invalid_token: refresh once, retry once', () => {
  it('50 concurrent requests rejected with 401 share one refresh and each retries once', async () => {
    const { client } = await loggedIn();
    server.forgetAccessTokens();
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        client.fetch(`${baseUrl}/api/echo`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ i }),
        }),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(50).fill(200));
    // The body was replayed on the retry.
    const bodies = (await Promise.all(responses.map((r) => r.json()))) as Array<{ echo: { i: number } }>;
    expect(bodies.map((b) => b.echo.i)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(server.refreshCalls).toBe(1);
    expect(server.resourceCalls).toBe(100);
  });

  it('never loops: a second 401 is returned to the caller', async () => {
    const { client } = await loggedIn();
    server.resourceAlways401 = true;
    const response = await client.fetch(`${baseUrl}/api/echo`);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: 'invalid_token', reason: 'revoked' });
    expect(server.resourceCalls).toBe(2);
    expect(server.refreshCalls).toBe(1);
  });

  it('does not retry other errors', async () => {
    const { client } = await loggedIn();
    const response = await client.fetch(`${baseUrl}/api/missing`);
    expect(response.status).toBe(404);
    expect(server.refreshCalls).toBe(0);
  });
});

describe('session end', () => {
  it('a session revoked elsewhere ends this one: SessionRevokedError and onSessionEnded', async () => {
    const { client, store, ended, changes } = await loggedIn();
    const sid = client.session?.sessionId;
    const session = sid === undefined ? undefined : server.sessions.get(sid);
    if (!session) throw new Error('no session');
    session.revoked = true;
    const error = await client.fetch(`${baseUrl}/api/echo`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionRevokedError);
    expect(error).toMatchObject({ code: 'ERR_SESSION_REVOKED', status: 400, serverError: 'invalid_grant', reason: 'session_revoked' });
    expect(ended).toHaveLength(1);
    // The resource said `revoked` before the refresh was refused: revoked elsewhere.
    expect(ended[0]?.reason).toBe('revoked');
    expect(ended[0]?.error).toBe(error);
    expect(await store.get()).toBeNull();
    expect(client.session).toBeNull();
    expect(changes.at(-1)).toEqual({ accessToken: null, expiresAt: null, cause: 'session_ended' });
    // Ended stays ended: no more server calls, no second callback.
    await expect(client.fetch(`${baseUrl}/api/echo`)).rejects.toBeInstanceOf(NotAuthenticatedError);
    expect(ended).toHaveLength(1);
  });

  it('refresh-token reuse is reported as RefreshTokenReuseError / reuse_detected', async () => {
    const { client, store, ended, advance } = await loggedIn();
    const stolen = await store.get();
    advance((TTL_SECONDS + 1) * 1000);
    await client.getAccessToken(); // legitimate rotation: `stolen` is now spent
    const attacker = makeClient({ storage: memoryStore(stolen) });
    const attackerError = await attacker.client.refresh().catch((e: unknown) => e);
    expect(attackerError).toBeInstanceOf(RefreshTokenReuseError);
    expect(attackerError).toMatchObject({ code: 'ERR_REFRESH_TOKEN_REUSED', status: 400, serverError: 'invalid_grant', reason: 'reuse_detected' });
    expect(attacker.ended.map((e) => e.reason)).toEqual(['reuse_detected']);
    expect(attacker.ended[0]?.error).toBe(attackerError);
    // The server revoked the whole family: the legitimate client's next refresh ends too.
    advance((TTL_SECONDS + 1) * 1000);
    const error = await client.getAccessToken().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionRevokedError);
    expect(error).not.toBeInstanceOf(RefreshTokenReuseError);
    expect(error).toMatchObject({ code: 'ERR_SESSION_REVOKED', reason: 'session_revoked' });
    expect(ended.map((e) => e.reason)).toEqual(['revoked']);
  });

  it.each([
    { reason: 'session_expired', ended: 'expired', code: 'ERR_SESSION_REVOKED' },
    { reason: 'session_revoked', ended: 'revoked', code: 'ERR_SESSION_REVOKED' },
    { reason: 'unknown_token', ended: 'refresh_rejected', code: 'ERR_SESSION_REVOKED' },
    { reason: 'reuse_detected', ended: 'reuse_detected', code: 'ERR_REFRESH_TOKEN_REUSED' },
    { reason: undefined, ended: 'refresh_rejected', code: 'ERR_SESSION_REVOKED' },
  ])('a refresh refused with reason $reason ends the session as $ended ($code)', async ({ reason, ended: expected, code }) => {
    const { client, ended, advance } = await loggedIn();
    advance((TTL_SECONDS + 1) * 1000);
    // Only the stable reason counts: a description that mentions reuse changes nothing.
    const body: Record<string, string> = { error: 'invalid_grant', error_description: 'token reuse? replay? expired?' };
    if (reason !== undefined) body['reason'] = reason;
    server.refresh = { fail: { status: 400, body } };
    const error = await client.getAccessToken().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionRevokedError);
    expect(error).toMatchObject({ code, status: 400, serverError: 'invalid_grant', reason });
    expect(ended.map((e) => e.reason)).toEqual([expected]);
    expect(client.session).toBeNull();
  });

  it('server errors and network errors keep the session', async () => {
    const { client, store, ended, advance } = await loggedIn();
    const refreshToken = await store.get();
    advance((TTL_SECONDS + 1) * 1000);
    server.refresh = { fail: { status: 503, body: { error: 'temporarily_unavailable', error_description: 'db down' } } };
    const serverError = await client.fetch(`${baseUrl}/api/echo`).catch((e: unknown) => e);
    expect(serverError).toBeInstanceOf(AuthServerError);
    expect(serverError).toMatchObject({ code: 'ERR_AUTH_SERVER', status: 503, serverError: 'temporarily_unavailable' });

    const offline = new RevocableClient({ authUrl: 'http://127.0.0.1:1', storage: store, now: () => Date.now() + 10 ** 9 });
    const networkError = await offline.getAccessToken().catch((e: unknown) => e);
    expect(networkError).toBeInstanceOf(NetworkError);
    expect(networkError).toMatchObject({ code: 'ERR_NETWORK' });

    expect(ended).toEqual([]);
    expect(await store.get()).toBe(refreshToken);
    server.refresh = {};
    expect((await client.fetch(`${baseUrl}/api/echo`)).status).toBe(200);
  });

  it('logout revokes on the server, clears the store and is not reported as a session end', async () => {
    const { client, store, ended, changes } = await loggedIn();
    const token = client.session?.accessToken;
    await client.logout();
    expect(await store.get()).toBeNull();
    expect(ended).toEqual([]);
    expect(changes.at(-1)?.cause).toBe('logout');
    const raw = await fetch(`${baseUrl}/api/echo`, { headers: { authorization: `Bearer ${token}` } });
    expect(raw.status).toBe(401);
    await expect(client.fetch(`${baseUrl}/api/echo`)).rejects.toBeInstanceOf(NotAuthenticatedError);
  });

  it('logout({ waitForPropagation }) sends Prefer: wait=N and returns the report; without it, null and no Prefer', async () => {
    const plain = await loggedIn();
    expect(await plain.client.logout()).toBeNull();
    expect(server.lastPrefer).toBeUndefined();

    const waited = await loggedIn();
    const report = await waited.client.logout({ waitForPropagation: true });
    expect(server.lastPrefer).toBe(`wait=${DEFAULT_PROPAGATION_WAIT_SECONDS}`);
    expect(report).toEqual({
      events: [{ id: 'e-1', type: 'session.revoked' }],
      complete: false,
      confirmed: [{ instance: 'orders-1', service: 'orders', audiences: ['orders'], ms: 7 }],
      pending: [{ instance: 'profile-1', service: 'profile', audiences: ['profile'] }],
      slowestMs: 7,
      waitedMs: DEFAULT_PROPAGATION_WAIT_SECONDS * 1000,
    });
    expect(await waited.store.get()).toBeNull();
    expect(waited.changes.at(-1)?.cause).toBe('logout');

    const seconds = await loggedIn();
    expect((await seconds.client.logout({ waitForPropagation: 3 }))?.waitedMs).toBe(3000);
    expect(server.lastPrefer).toBe('wait=3');
    // Nothing left to revoke: no server call, no report.
    expect(await seconds.client.logout({ waitForPropagation: true })).toBeNull();
  });
});

describe('cookie mode', () => {
  /** A fetch that behaves like a browser's cookie jar: cookies only travel with credentials: 'include'. */
  function browserLikeFetch() {
    const jar = new Map<string, string>();
    const seen: Request[] = [];
    const impl: typeof fetch = async (input, init) => {
      const request = new Request(input, init);
      seen.push(request.clone());
      if (request.credentials === 'include' && jar.size > 0) {
        request.headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
      }
      const response = await fetch(request);
      if (request.credentials === 'include') {
        for (const line of response.headers.getSetCookie()) {
          const [pair = '', ...attrs] = line.split(';');
          const [name = '', ...value] = pair.split('=');
          if (attrs.some((a) => /max-age=0/i.test(a.trim()))) jar.delete(name.trim());
          else jar.set(name.trim(), value.join('='));
        }
      }
      return response;
    };
    return { impl, jar, seen };
  }

  it('keeps the refresh token out of script reach and refreshes through the cookie', async () => {
    const browser = browserLikeFetch();
    const { client, advance, changes } = makeClient({ storage: 'cookie', fetch: browser.impl });
    await client.login({ email: 'a@example.com', password: PASSWORD });
    expect(browser.jar.get('rt')).toMatch(/^[0-9a-f-]{36}$/);
    advance((TTL_SECONDS + 1) * 1000);
    expect((await client.fetch(`${baseUrl}/api/echo`)).status).toBe(200);
    const refreshRequest = browser.seen.find((r) => r.url.endsWith('/oauth/token'));
    expect(refreshRequest?.credentials).toBe('include');
    expect(new URLSearchParams(await refreshRequest?.text()).has('refresh_token')).toBe(false);
    // Nothing the app sees carries the refresh token.
    for (const change of changes) expect(JSON.stringify(change)).not.toContain(browser.jar.get('rt'));
    await client.logout();
    expect(browser.jar.has('rt')).toBe(false);
  });

  it('a fresh page without a cookie is simply not logged in; with a revoked cookie the session ends', async () => {
    const browser = browserLikeFetch();
    const fresh = makeClient({ storage: 'cookie', fetch: browser.impl });
    await expect(fresh.client.fetch(`${baseUrl}/api/echo`)).rejects.toBeInstanceOf(NotAuthenticatedError);
    expect(fresh.ended).toEqual([]);

    // Log in in one "page", then revoke the session server-side; a reloaded page still has the cookie.
    const first = makeClient({ storage: 'cookie', fetch: browser.impl });
    await first.client.login({ email: 'a@example.com', password: PASSWORD });
    const sid = first.client.session?.sessionId;
    const session = sid === undefined ? undefined : server.sessions.get(sid);
    if (!session) throw new Error('no session');
    session.revoked = true;
    const reloaded = makeClient({ storage: 'cookie', fetch: browser.impl });
    await expect(reloaded.client.getAccessToken()).rejects.toBeInstanceOf(SessionRevokedError);
    expect(reloaded.ended.map((e) => e.reason)).toEqual(['revoked']);
  });
});

describe('edge cases', () => {
  it('a refresh still in flight when logout completes neither resurrects the session nor reports a session end', async () => {
    const { client, store, ended, changes } = await loggedIn();
    const gate = deferred();
    server.refresh = { gate: gate.promise };
    const refreshing = client.refresh().catch((e: unknown) => e);
    // The current token is still valid, so logout does not wait for the refresh.
    await client.logout();
    gate.resolve();
    expect(await refreshing).toBeInstanceOf(NotAuthenticatedError);
    expect(client.session).toBeNull();
    expect(await store.get()).toBeNull();
    expect(ended).toEqual([]);
    expect(changes.map((c) => c.cause)).toEqual(['login', 'logout']);
  });

  it('requests already waiting for a refresh when logout starts complete with the refreshed token', async () => {
    const { client, advance } = await loggedIn();
    const gate = deferred();
    server.refresh = { gate: gate.promise };
    advance((TTL_SECONDS + 1) * 1000);
    const pending = client.fetch(`${baseUrl}/api/echo`);
    await new Promise((resolve) => setImmediate(resolve));
    const loggingOut = client.logout();
    gate.resolve();
    await loggingOut;
    expect((await pending).status).toBe(200);
    expect(server.refreshCalls).toBe(1);
    await expect(client.fetch(`${baseUrl}/api/echo`)).rejects.toBeInstanceOf(NotAuthenticatedError);
  });

  it('a throwing callback does not break token handling', async () => {
    const errors: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => errors.push(args);
    try {
      const { client, advance } = await loggedIn({
        onTokenChange: () => {
          throw new Error('app bug');
        },
      });
      advance((TTL_SECONDS + 1) * 1000);
      expect((await client.fetch(`${baseUrl}/api/echo`)).status).toBe(200);
      expect(errors.length).toBeGreaterThanOrEqual(2);
    } finally {
      console.error = original;
    }
  });

  it("the caller's own abort stays an AbortError", async () => {
    const { client } = await loggedIn();
    const controller = new AbortController();
    controller.abort();
    const error = await client.fetch(`${baseUrl}/api/echo`, { signal: controller.signal }).catch((e: unknown) => e);
    expect((error as Error).name).toBe('AbortError');
  });

  it('a slow auth service is a TimeoutError; a rate limit is a RateLimitedError; the session survives both', async () => {
    const { client, advance, ended } = await loggedIn({ requestTimeoutMs: 200 });
    advance((TTL_SECONDS + 1) * 1000);
    const gate = deferred();
    server.refresh = { gate: gate.promise };
    try {
      const slow = await client.getAccessToken().catch((e: unknown) => e);
      expect(slow).toBeInstanceOf(TimeoutError);
      expect(slow).toMatchObject({ code: 'ERR_TIMEOUT' });
    } finally {
      gate.resolve();
    }
    // The abandoned refresh may have rotated the token on the server; this is what a real
    // client risks on timeouts, and why the auth service has a reuse grace window.
    server.refresh = { fail: { status: 429, body: { error: 'rate_limited', error_description: 'slow down' } } };
    const limited = await client.getAccessToken().catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(RateLimitedError);
    expect(limited).toMatchObject({ code: 'ERR_RATE_LIMITED', status: 429, serverError: 'rate_limited' });
    expect(ended).toEqual([]);
  });
});

