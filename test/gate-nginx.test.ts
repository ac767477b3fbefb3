/**
 * The gate behind real nginx (Debian's package, installed when missing) with auth_request,
 * in front of an upstream that is not Node.js (Python's http.server echoing what it got),
 * with the real auth service and Kafka: identity headers reach the upstream; a logged-out
 * token is refused within the propagation time; a token without the route's scope gets 403;
 * a restarted gate answers 503 until it caught up; public routes need no token; path tricks
 * are denied. The nginx config is services/gate/deploy/nginx.conf, the one the README shows.
 *
 * Tokens come from the auth service with real scopes (orders:read, orders:write); one token of
 * another client (`mobile-app`) is signed with a test key that a test JWKS serves next to the
 * auth service's keys (same issuer).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@revocable/infra';
import { generateSigningKey, importPrivateKey, signAccessToken, type SignerKey } from '@revocable/tokens';
import { startCluster, type Cluster } from './support/cluster.ts';
import { databaseUrl, kafkaBrokers, kafkaEnv, waitFor } from './support/env.ts';
import { rawRequest, type RawAnswer } from './support/http.ts';
import { BootstrapRelay, startMergedJwks, startProxiedGate, type ProxiedGate } from './support/gate.ts';
import { gateNginxSnippet, startNginx } from './support/nginx.ts';

const NGINX_EXAMPLE = fileURLToPath(new URL('../services/gate/deploy/nginx.conf', import.meta.url));

const echoed = (answer: RawAnswer) => JSON.parse(answer.body) as { method: string; path: string; headers: Record<string, string> };
const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { sub: string; sid: string };

describe('gate behind nginx auth_request, in front of a Python upstream', () => {
  let cluster: Cluster;
  let jwks: { url: string; close(): Promise<void> };
  let relay: BootstrapRelay;
  let stack: ProxiedGate;
  let nginxPort: number;
  let signer: SignerKey;
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  async function newUserToken(scope?: string): Promise<string> {
    const credentials = { email: `gate-${randomUUID()}@example.test`, password: 'correct horse battery' };
    const post = (path: string, body: unknown) =>
      fetch(`${cluster.authUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post('/v1/users', credentials)).status).toBe(201);
    const login = await post('/v1/login', { ...credentials, audience: ['orders', 'auth'], ...(scope !== undefined ? { scope } : {}) });
    expect(login.status).toBe(200);
    return ((await login.json()) as { access_token: string }).access_token;
  }

  const scopedToken = async (scope: string, clientId?: string) =>
    (
      await signAccessToken(
        { sub: 'scoped-user', aud: 'orders', jti: randomUUID(), sid: randomUUID(), ver: 1, scope, ...(clientId !== undefined ? { client_id: clientId } : {}) },
        signer,
        { issuer: cluster.authUrl, accessTtlSeconds: 300 },
      )
    ).token;

  beforeAll(async () => {
    const key = await generateSigningKey('EdDSA');
    signer = { kid: key.kid, alg: key.alg, privateKey: await importPrivateKey(key.privateJwk, key.alg) };
    cluster = await startCluster({ kafkaBrokers: kafkaBrokers(), databaseUrl: databaseUrl(), services: ['auth'] });
    jwks = await startMergedJwks(`${cluster.authUrl}/.well-known/jwks.json`, [key.publicJwk]);
    relay = new BootstrapRelay(await freePort(), kafkaBrokers()[0] ?? '');
    await relay.open();
    stack = await startProxiedGate({
      routes: [
        { prefix: '/public', public: true },
        { prefix: '/orders', methods: ['GET', 'HEAD'], audience: 'orders', scopes: ['orders:read'] },
        { prefix: '/orders', methods: ['POST', 'PUT', 'DELETE'], audience: 'orders', scopes: ['orders:write'] },
        { prefix: '/admin', audience: 'orders', scopes: ['orders:admin'] },
      ],
      env: { ...kafkaEnv(), KAFKA_BROKERS: relay.address, REVOCATION_TOPIC: cluster.topic, AUTH_URL: cluster.authUrl, JWKS_URL: jwks.url },
      proxy: (ports) => startNginx(gateNginxSnippet(readFileSync(NGINX_EXAMPLE, 'utf8'), { ...ports, nginx: ports.proxy }), [ports.proxy]),
    });
    nginxPort = stack.port;
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
    await relay?.shut();
    await jwks?.close();
    await cluster?.stop();
  });

  it('a valid token reaches the upstream with the identity headers; a forged one never does', async () => {
    const token = await newUserToken();
    const { sub, sid } = claimsOf(token);
    const res = await rawRequest(nginxPort, 'GET', '/orders/7?x=1', { ...bearer(token), 'x-auth-subject': 'forged' });
    expect(res.status, res.body).toBe(200);
    const seen = echoed(res);
    expect(seen.path).toBe('/orders/7?x=1');
    expect(seen.headers['x-auth-subject']).toBe(sub);
    expect(seen.headers['x-auth-session']).toBe(sid);
    expect(seen.headers['x-auth-client']).toBe('revocable-app');
    expect(seen.headers['x-auth-scope']).toBe('orders:read orders:write');

    const scoped = await rawRequest(nginxPort, 'POST', '/orders', bearer(await scopedToken('orders:read orders:write', 'mobile-app')));
    expect(scoped.status, scoped.body).toBe(200);
    expect(echoed(scoped).method).toBe('POST');
    expect(echoed(scoped).headers).toMatchObject({ 'x-auth-subject': 'scoped-user', 'x-auth-scope': 'orders:read orders:write', 'x-auth-client': 'mobile-app' });
  });

  it('a public route passes without a token, and strips identity headers a client sends', async () => {
    const res = await rawRequest(nginxPort, 'GET', '/public/index.html', { 'x-auth-subject': 'admin', 'x-auth-scope': 'orders:admin' });
    expect(res.status, res.body).toBe(200);
    const seen = echoed(res);
    expect(seen.path).toBe('/public/index.html');
    expect(seen.headers['x-auth-subject']).toBeUndefined();
    expect(seen.headers['x-auth-scope']).toBeUndefined();
  });

  it('no token or a bad one: 401 with WWW-Authenticate and the reason, and the upstream is not called', async () => {
    const none = await rawRequest(nginxPort, 'GET', '/orders');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
    expect(none.headers['x-auth-reason']).toBe('missing_token');
    const bad = await rawRequest(nginxPort, 'GET', '/orders', bearer('not.a.jwt'));
    expect(bad.status).toBe(401);
    expect(bad.headers['www-authenticate']).toBe('Bearer error="invalid_token", error_description="malformed"');
    expect(JSON.parse(bad.body)).toEqual({ error: 'invalid_token', reason: 'malformed' });
  });

  it('a token without the route\'s scope gets 403 insufficient_scope with the scope attribute', async () => {
    // A real token granted only orders:read: refused on the write rule.
    const plain = await rawRequest(nginxPort, 'POST', '/orders', bearer(await newUserToken('orders:read')));
    expect(plain.status).toBe(403);
    expect(plain.headers['www-authenticate']).toBe('Bearer error="insufficient_scope", scope="orders:write"');
    expect(plain.headers['x-auth-reason']).toBe('insufficient_scope');
    const readOnly = await rawRequest(nginxPort, 'DELETE', '/orders/1', bearer(await scopedToken('orders:read')));
    expect(readOnly.status).toBe(403);
    expect(readOnly.headers['www-authenticate']).toBe('Bearer error="insufficient_scope", scope="orders:write"');
  });

  it('path tricks are normalised or refused before matching, never passed on a weaker rule', async () => {
    const token = await newUserToken();
    // /public/../admin is /admin for the upstream, so the admin rule applies.
    for (const path of ['/public/../admin', '/public/%2e%2e/admin', '/public/.%2E/admin/users', '//public/../admin']) {
      const anonymous = await rawRequest(nginxPort, 'GET', path);
      expect(anonymous.status, path).toBe(401);
      const noScope = await rawRequest(nginxPort, 'GET', path, bearer(token));
      expect(noScope.status, path).toBe(403);
      expect(noScope.headers['www-authenticate'], path).toBe('Bearer error="insufficient_scope", scope="orders:admin"');
    }
    for (const [path, reason] of [
      ['/public/..%2Fadmin', 'encoded_separator'],
      ['/public/%252e%252e/admin', 'ambiguous_encoding'],
      ['/public/..;/admin', 'ambiguous_encoding'],
    ] as const) {
      const res = await rawRequest(nginxPort, 'GET', path, bearer(token));
      expect(res.status, path).toBe(400);
      expect(res.headers['x-auth-reason'], path).toBe(reason);
    }
    // Nothing covers /elsewhere: denied, not passed.
    const uncovered = await rawRequest(nginxPort, 'GET', '/elsewhere', bearer(token));
    expect(uncovered.status).toBe(403);
    expect(uncovered.headers['x-auth-reason']).toBe('no_route');
  });

  it('after logout the same token gets 401 revoked within the propagation time', async () => {
    const token = await newUserToken();
    expect((await rawRequest(nginxPort, 'GET', '/orders', bearer(token))).status).toBe(200);
    const logout = await fetch(`${cluster.authUrl}/v1/logout`, { method: 'POST', headers: bearer(token) });
    expect(logout.status).toBe(204);
    const loggedOutAt = performance.now();
    const denied = await waitFor(
      async () => {
        const res = await rawRequest(nginxPort, 'GET', '/orders', bearer(token));
        return res.status === 401 ? res : false;
      },
      { timeoutMs: 5_000, intervalMs: 5, what: 'nginx to refuse the logged-out token' },
    );
    const ms = performance.now() - loggedOutAt;
    expect(denied.headers['www-authenticate']).toBe('Bearer error="invalid_token", error_description="revoked"');
    expect(denied.headers['x-auth-reason']).toBe('revoked');
    console.log(`gate-nginx: logout → first 401 through nginx in ${ms.toFixed(1)} ms`);
  });

  it('a restarted gate answers 503 until it caught up, then refuses the token revoked while it was down', async () => {
    const kept = await newUserToken();
    const revoked = await newUserToken();
    expect((await rawRequest(nginxPort, 'GET', '/orders', bearer(revoked))).status).toBe(200);

    expect(await stack.gate.stop()).toBe(0);
    // The gate is down: nginx fails closed.
    const down = await rawRequest(nginxPort, 'GET', '/orders', bearer(kept));
    expect(down.status).toBe(503);
    expect(down.headers['x-auth-reason']).toBe('gate_unavailable');

    // Revoked while no gate runs: only the topic knows.
    expect((await fetch(`${cluster.authUrl}/v1/logout`, { method: 'POST', headers: bearer(revoked) })).status).toBe(204);

    // Kafka held out of reach: the restarted gate listens but cannot catch up.
    await relay.shut();
    const gate = await stack.startGateAgain();
    const notReady = await rawRequest(nginxPort, 'GET', '/orders', bearer(kept));
    expect(notReady.status).toBe(503);
    expect(notReady.headers['x-auth-reason']).toBe('not_ready');
    expect(notReady.headers['retry-after']).toBe('1');
    expect((await fetch(`${gate.url}/readyz`)).status).toBe(503);
    const publicMeanwhile = await rawRequest(nginxPort, 'GET', '/public/x');
    expect(publicMeanwhile.status).toBe(200);

    await relay.open();
    const seen: number[] = [];
    await waitFor(
      async () => {
        const res = await rawRequest(nginxPort, 'GET', '/orders', bearer(revoked));
        seen.push(res.status);
        return res.status !== 503;
      },
      { timeoutMs: 60_000, intervalMs: 20, what: 'the restarted gate to catch up' },
    );
    // Every answer was 503 until it caught up; the first other one already refuses the token.
    expect(seen.slice(0, -1).every((s) => s === 503), JSON.stringify(seen)).toBe(true);
    expect(seen.at(-1)).toBe(401);
    expect((await rawRequest(nginxPort, 'GET', '/orders', bearer(revoked))).headers['x-auth-reason']).toBe('revoked');
    expect((await rawRequest(nginxPort, 'GET', '/orders', bearer(kept))).status).toBe(200);
  }, 240_000);

  it('the gate reports its checks on /metrics', async () => {
    const metrics = await (await fetch(`${stack.gate.url}/metrics`)).text();
    expect(metrics).toMatch(/revocable_gate_checks_total\{route="\/orders",status="401"\} [1-9]/);
    expect(metrics).toContain('revocable_ready 1');
  });
});
