import { randomUUID } from 'node:crypto';
import { createLocalJWKSet } from 'jose';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaTransport, encodeEvent, generateEventSigningKey, importEventSigner, revocationTopicSpec, signHeartbeat, type EventProducer, type EventTransport, type RevocableEvent } from '@revocable/events';
import { loadVerifierConfig } from '@revocable/kit';
import { generateSigningKey, importPrivateKey, signAccessToken, type SignerKey } from '@revocable/tokens';
import { buildApp } from './app.ts';
import type { GateConfig } from './config.ts';
import { parseRoutesFile } from './routes.ts';

const ISSUER = 'https://auth.gate.test';
const PARTITIONS = 2;
const brokers = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:29092').split(',');
// The suite's broker is secured (SASL/SCRAM-SHA-512): the gate connects as its admin user.
const suiteAdmin = (JSON.parse(process.env['REVOCABLE_TEST_KAFKA_CREDENTIALS'] || 'null') as { users: { admin: { username: string; password: string } } } | null)?.users.admin;
const kafkaSaslEnv: Record<string, string> = suiteAdmin ? { KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', KAFKA_USERNAME: suiteAdmin.username, KAFKA_PASSWORD: suiteAdmin.password } : {};

async function waitFor(probe: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

// Stands in for the auth service's event-signing key: heartbeats count only when it signed them.
const eventKey = generateEventSigningKey();
const eventSigner = importEventSigner(eventKey.privateJwk, eventKey.kid);

describe('gate app (real Kafka, inject)', () => {
  const topic = `test.gate.${randomUUID()}`;
  let transport: EventTransport;
  let producer: EventProducer;
  let app: FastifyInstance;
  let signer: SignerKey;
  let nowMs = Date.now();
  const now = () => nowMs;

  const publish = (event: RevocableEvent, partition?: number) =>
    producer.send(topic, [{ key: null, value: encodeEvent(event), ...(partition !== undefined ? { partition } : {}) }]);
  const heartbeats = async () => {
    for (let p = 0; p < PARTITIONS; p++) await publish(signHeartbeat({ id: randomUUID(), at: nowMs, source: 'gate-test' }, { topic, partition: p }, eventSigner), p);
  };
  const token = async (input: { sub?: string; sid?: string; aud?: string; scope?: string; client_id?: string } = {}) =>
    (
      await signAccessToken(
        {
          sub: input.sub ?? 'user-1',
          aud: input.aud ?? 'orders',
          jti: randomUUID(),
          sid: input.sid ?? randomUUID(),
          ver: 1,
          ...(input.scope !== undefined ? { scope: input.scope } : {}),
          ...(input.client_id !== undefined ? { client_id: input.client_id } : {}),
        },
        signer,
        { issuer: ISSUER, accessTtlSeconds: 900, now },
      )
    ).token;
  /** An nginx-style check: original method and URI in headers. */
  const nginx = (method: string, uri: string, bearer?: string, extra: Record<string, string> = {}) =>
    app.inject({
      method: 'GET',
      url: '/auth/nginx',
      headers: { 'x-original-method': method, 'x-original-uri': uri, ...(bearer !== undefined ? { authorization: `Bearer ${bearer}` } : {}), ...extra },
    });

  beforeAll(async () => {
    const key = await generateSigningKey('EdDSA');
    signer = { kid: key.kid, alg: key.alg, privateKey: await importPrivateKey(key.privateJwk, key.alg) };
    transport = createKafkaTransport({ brokers, clientId: 'gate-test', ...(suiteAdmin ? { sasl: { mechanism: 'SCRAM-SHA-512' as const, username: suiteAdmin.username, password: suiteAdmin.password } } : {}) });
    producer = await transport.producer();
    const config: GateConfig = {
      port: 0,
      host: '127.0.0.1',
      logLevel: 'silent',
      corsOrigins: [],
      verifier: { ...loadVerifierConfig({ KAFKA_BROKERS: brokers.join(','), ...kafkaSaslEnv, AUTH_ISSUER: ISSUER, REVOCATION_TOPIC: topic }, { audience: 'gate' }) },
      routesFile: '(inline)',
      maxUriBytes: 4096,
      routes: parseRoutesFile({
        routes: [
          { prefix: '/public', public: true },
          { prefix: '/orders', methods: ['GET', 'HEAD'], audience: 'orders', freshness: { maxSeconds: 10, policy: 'fail-open' } },
          { prefix: '/orders', audience: 'orders', scopes: ['orders:write'], freshness: { maxSeconds: 10, policy: 'fail-closed' } },
          { prefix: '/profile', audience: 'profile' },
          { prefix: '/admin', audience: 'orders', scopes: ['orders:admin'] },
        ],
      }),
    };
    app = await buildApp(config, { transport, getKey: createLocalJWKSet({ keys: [key.publicJwk] }), heartbeatKeys: [eventKey.publicJwk], now, defaultMetrics: false });
    await app.ready();
  });

  afterAll(async () => {
    await app?.close();
    await producer?.close();
  });

  it('answers 503 not_ready before it caught up (public rules still pass), then decides', async () => {
    const early = await nginx('GET', '/orders', await token());
    expect(early.statusCode).toBe(503);
    expect(early.headers['x-auth-reason']).toBe('not_ready');
    expect(early.headers['retry-after']).toBe('1');
    expect(early.json()).toMatchObject({ error: 'temporarily_unavailable', reason: 'not_ready' });
    expect((await nginx('GET', '/public/page')).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);

    const admin = await transport.admin();
    await admin.ensureTopic({ ...revocationTopicSpec({ topic, maxAccessTtlSeconds: 900 }), partitions: PARTITIONS });
    await admin.close();
    await heartbeats();
    await waitFor(async () => (await app.inject({ method: 'GET', url: '/readyz' })).statusCode === 200);
    await waitFor(async () => app.revocable.freshnessSeconds() < 5);
    expect((await nginx('GET', '/orders/1', await token())).statusCode).toBe(200);
  });

  it('200 carries the identity headers; X-Auth-Client only with client_id', async () => {
    const sid = randomUUID();
    const plain = await nginx('GET', '/orders', await token({ sub: 'alice', sid }));
    expect(plain.statusCode).toBe(200);
    expect(plain.headers['x-auth-subject']).toBe('alice');
    expect(plain.headers['x-auth-session']).toBe(sid);
    expect(plain.headers['x-auth-scope']).toBe('');
    expect(plain.headers['x-auth-client']).toBeUndefined();
    expect(plain.headers['cache-control']).toBe('no-store');

    const scoped = await nginx('POST', '/orders', await token({ sub: 'bob', scope: 'orders:read orders:write', client_id: 'web-app' }));
    expect(scoped.statusCode).toBe(200);
    expect(scoped.headers['x-auth-scope']).toBe('orders:read orders:write');
    expect(scoped.headers['x-auth-client']).toBe('web-app');
  });

  it('one process serves many audiences: each rule checks its own', async () => {
    const profileToken = await token({ aud: 'profile', sub: 'carol' });
    const ok = await nginx('GET', '/profile', profileToken);
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['x-auth-subject']).toBe('carol');
    const wrong = await nginx('GET', '/orders', profileToken);
    expect(wrong.statusCode).toBe(401);
    expect(wrong.headers['x-auth-reason']).toBe('wrong_audience');
    expect(wrong.headers['www-authenticate']).toBe('Bearer error="invalid_token", error_description="wrong_audience"');
  });

  it('401 with WWW-Authenticate and the reason; 403 insufficient_scope with the scope attribute', async () => {
    const missing = await nginx('GET', '/orders');
    expect(missing.statusCode).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer');
    expect(missing.headers['x-auth-reason']).toBe('missing_token');
    const malformed = await nginx('GET', '/orders', 'not-a.jwt');
    expect(malformed.statusCode).toBe(401);
    expect(malformed.headers['x-auth-reason']).toBe('malformed');

    const forbidden = await nginx('POST', '/orders', await token({ scope: 'orders:read' }));
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.headers['www-authenticate']).toBe('Bearer error="insufficient_scope", scope="orders:write"');
    expect(forbidden.headers['x-auth-reason']).toBe('insufficient_scope');
    expect(forbidden.json()).toMatchObject({ error: 'insufficient_scope' });
  });

  it('a session revoked on the topic is refused at once, also for a cached token', async () => {
    const sid = randomUUID();
    const t = await token({ sid });
    expect((await nginx('GET', '/orders', t)).statusCode).toBe(200);
    await publish({ v: 1, id: randomUUID(), at: nowMs, type: 'session.revoked', sub: 'user-1', sid, reason: 'logout', until: Math.floor(nowMs / 1000) + 900 });
    await waitFor(async () => (await nginx('GET', '/orders', t)).statusCode === 401);
    const denied = await nginx('GET', '/orders', t);
    expect(denied.headers['x-auth-reason']).toBe('revoked');
  });

  it('freshness per rule: fail-closed 503, fail-open serves', async () => {
    const t = await token({ scope: 'orders:write' });
    nowMs += 60_000;
    try {
      const closed = await nginx('POST', '/orders', t);
      expect(closed.statusCode).toBe(503);
      expect(closed.headers['x-auth-reason']).toBe('stale_revocation_state');
      expect((await nginx('GET', '/orders', t)).statusCode).toBe(200);
    } finally {
      nowMs -= 60_000;
    }
    expect((await nginx('POST', '/orders', t)).statusCode).toBe(200);
  });

  it('normalises the path before matching: traversal and encoding tricks never reach a weaker rule', async () => {
    const noAdminScope = await token();
    // /public/../admin is /admin: the admin rule applies, not the public one.
    for (const uri of ['/public/../admin', '/public/%2e%2e/admin', '/public/.%2E/admin', '//public/../admin?x=/public']) {
      const res = await nginx('GET', uri, noAdminScope);
      expect(res.statusCode, uri).toBe(403);
      expect(res.headers['x-auth-reason'], uri).toBe('insufficient_scope');
      expect((await nginx('GET', uri)).statusCode, uri).toBe(401);
    }
    for (const [uri, reason] of [
      ['/public/..%2Fadmin', 'encoded_separator'],
      ['/public/%252e%252e/admin', 'ambiguous_encoding'],
      ['/public/..;/admin', 'ambiguous_encoding'],
      ['/public\\..\\admin', 'ambiguous_encoding'],
      ['/public/../../admin', 'path_traversal'],
      ['/bad%zz', 'invalid_uri'],
      ['relative', 'invalid_uri'],
      [`/public/${'a'.repeat(5000)}`, 'uri_too_long'],
    ] as const) {
      const res = await nginx('GET', uri);
      expect(res.statusCode, uri).toBe(400);
      expect(res.headers['x-auth-reason'], uri).toBe(reason);
      expect(res.json(), uri).toMatchObject({ error: 'invalid_request', reason });
    }
  });

  it('missing or bad proxy headers get a 400, an uncovered path a 403 no_route; never a 500', async () => {
    const none = await app.inject({ method: 'GET', url: '/auth/nginx' });
    expect(none.statusCode).toBe(400);
    expect(none.headers['x-auth-reason']).toBe('missing_method');
    const noUri = await app.inject({ method: 'GET', url: '/auth/forwarded', headers: { 'x-forwarded-method': 'GET' } });
    expect(noUri.statusCode).toBe(400);
    expect(noUri.headers['x-auth-reason']).toBe('missing_uri');
    const badMethod = await nginx('get me', '/orders');
    expect(badMethod.statusCode).toBe(400);
    expect(badMethod.headers['x-auth-reason']).toBe('invalid_method');
    const uncovered = await nginx('GET', '/elsewhere', await token());
    expect(uncovered.statusCode).toBe(403);
    expect(uncovered.headers['x-auth-reason']).toBe('no_route');
    const hugeToken = await nginx('GET', '/orders', 'a'.repeat(9000));
    expect(hugeToken.statusCode).toBe(401);
    expect(hugeToken.headers['x-auth-reason']).toBe('token_too_large');
    const body = await app.inject({ method: 'POST', url: '/auth/nginx', headers: { 'x-original-method': 'POST', 'x-original-uri': '/public', 'content-type': 'application/xml' }, payload: '<x/>' });
    expect(body.statusCode).toBe(200);
  });

  it('Traefik/Caddy headers and Envoy forwarded paths', async () => {
    const t = await token({ sub: 'dave', scope: 'orders:write' });
    const traefik = await app.inject({
      method: 'GET',
      url: '/auth/forwarded',
      headers: { 'x-forwarded-method': 'POST', 'x-forwarded-uri': '/orders?x=1', 'x-forwarded-host': 'shop.test', authorization: `Bearer ${t}` },
    });
    expect(traefik.statusCode).toBe(200);
    expect(traefik.headers['x-auth-subject']).toBe('dave');
    // Each endpoint reads only its own proxy's headers: a client-sent X-Original-URI behind
    // Traefik (which forwards the client's headers) is ignored, and so is the reverse.
    const smuggled = await app.inject({
      method: 'GET',
      url: '/auth/forwarded',
      headers: { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/admin', 'x-original-method': 'GET', 'x-original-uri': '/public', authorization: `Bearer ${t}` },
    });
    expect(smuggled.statusCode).toBe(403);
    expect(smuggled.headers['x-auth-reason']).toBe('insufficient_scope');
    const reverse = await nginx('GET', '/admin', undefined, { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/public' });
    expect(reverse.statusCode).toBe(401);
    const repeated = await app.inject({ method: 'GET', url: '/auth/forwarded', headers: { 'x-forwarded-method': 'GET', 'x-forwarded-uri': ['/public', '/admin'] } });
    expect(repeated.statusCode).toBe(400);

    const envoy = await app.inject({ method: 'DELETE', url: '/envoy/orders/42?force=1', headers: { authorization: `Bearer ${t}` } });
    expect(envoy.statusCode).toBe(200);
    expect(envoy.headers['x-auth-subject']).toBe('dave');
    expect(envoy.headers['x-envoy-auth-headers-to-remove']).toBe('x-auth-client');
    const envoyPublic = await app.inject({ method: 'GET', url: '/envoy/public/x' });
    expect(envoyPublic.statusCode).toBe(200);
    // Envoy only overwrites headers the gate sets: the rest must be removed explicitly.
    expect(envoyPublic.headers['x-envoy-auth-headers-to-remove']).toBe('x-auth-subject, x-auth-session, x-auth-scope, x-auth-client');
    expect(traefik.headers['x-envoy-auth-headers-to-remove']).toBeUndefined();
    // Forwarded answers send the unset identity headers empty (Caddy 2.6 would copy a placeholder otherwise).
    expect(traefik.headers['x-auth-client']).toBe('');
    const forwardedPublic = await app.inject({ method: 'GET', url: '/auth/forwarded', headers: { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/public' } });
    expect(forwardedPublic.headers['x-auth-subject']).toBe('');
    expect(forwardedPublic.headers['x-auth-scope']).toBe('');
    const envoyTraversal = await app.inject({ method: 'GET', url: '/envoy/public/../admin' });
    expect(envoyTraversal.statusCode).toBe(401);
    const envoyRoot = await app.inject({ method: 'GET', url: '/envoy' });
    expect(envoyRoot.statusCode).toBe(403);
    expect(envoyRoot.headers['x-auth-reason']).toBe('no_route');
  });

  it('counts its checks on the shared registry, next to the verifier metrics', async () => {
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body).toMatch(/revocable_gate_checks_total\{route="\/orders",status="200"\} [1-9]/);
    expect(metrics.body).toMatch(/revocable_gate_checks_total\{route="none",status="400"\} [1-9]/);
    expect(metrics.body).toMatch(/revocable_requests_total\{outcome="allowed",reason="ok"\} [1-9]/);
    expect(metrics.body).toContain('revocable_ready 1');
    expect(metrics.body).toMatch(/revocable_verify_cache_entries [1-9]/);
  });
});
