/**
 * The gate behind real Caddy (Debian's package, installed when missing) with forward_auth,
 * running services/gate/deploy/Caddyfile, in front of Python's http.server: the
 * `/auth/forwarded` endpoint as Caddy (and Traefik) call it. Tokens are signed with a test
 * key served by a test JWKS; revocations are published on a test topic.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEvent, revocationTopicSpec, type EventProducer } from '@revocable/events';
import { generateSigningKey, importPrivateKey, signAccessToken, type SignerKey } from '@revocable/tokens';
import { gateCaddySnippet, startCaddy } from './support/caddy.ts';
import { rawRequest } from './support/http.ts';
import { kafkaEnv, testTransport, uniqueTopic, waitFor } from './support/env.ts';
import { startProxiedGate, startStaticJwks, type ProxiedGate } from './support/gate.ts';

const ISSUER = 'https://auth.gate-caddy.test';
const CADDY_EXAMPLE = fileURLToPath(new URL('../services/gate/deploy/Caddyfile', import.meta.url));

describe('gate behind Caddy forward_auth, in front of a Python upstream', () => {
  const topic = uniqueTopic('test.gate.caddy');
  let producer: EventProducer;
  let signer: SignerKey;
  let jwks: { url: string; close(): Promise<void> };
  let stack: ProxiedGate;
  let port: number;

  const token = async (input: { sid?: string; scope?: string; client_id?: string } = {}) =>
    (
      await signAccessToken(
        { sub: 'caddy-user', aud: 'orders', jti: randomUUID(), sid: input.sid ?? randomUUID(), ver: 1, ...(input.scope !== undefined ? { scope: input.scope } : {}), ...(input.client_id !== undefined ? { client_id: input.client_id } : {}) },
        signer,
        { issuer: ISSUER, accessTtlSeconds: 300 },
      )
    ).token;

  beforeAll(async () => {
    const key = await generateSigningKey('EdDSA');
    signer = { kid: key.kid, alg: key.alg, privateKey: await importPrivateKey(key.privateJwk, key.alg) };
    const transport = testTransport('gate-caddy-test');
    const admin = await transport.admin();
    await admin.ensureTopic(revocationTopicSpec({ topic, maxAccessTtlSeconds: 900 }));
    await admin.close();
    producer = await transport.producer();
    jwks = await startStaticJwks([key.publicJwk]);
    stack = await startProxiedGate({
      routes: [
        { prefix: '/public', public: true },
        { prefix: '/orders', methods: ['POST'], audience: 'orders', scopes: ['orders:write'], freshness: false },
        { prefix: '/orders', audience: 'orders', freshness: false },
      ],
      env: { ...kafkaEnv(), REVOCATION_TOPIC: topic, AUTH_ISSUER: ISSUER, JWKS_URL: jwks.url },
      proxy: (ports) => startCaddy(gateCaddySnippet(readFileSync(CADDY_EXAMPLE, 'utf8'), { ...ports, caddy: ports.proxy }), ports.proxy),
    });
    port = stack.port;
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
    await jwks?.close();
    await producer?.close();
  });

  it('a valid token reaches the upstream with the identity headers; forged ones are dropped', async () => {
    const sid = randomUUID();
    const res = await rawRequest(port, 'POST', '/orders/1?x=1', { authorization: `Bearer ${await token({ sid, scope: 'orders:write', client_id: 'cli' })}`, 'x-auth-subject': 'forged' });
    expect(res.status, res.body).toBe(200);
    const seen = JSON.parse(res.body) as { method: string; path: string; headers: Record<string, string> };
    expect(seen.method).toBe('POST');
    expect(seen.path).toBe('/orders/1?x=1');
    expect(seen.headers).toMatchObject({ 'x-auth-subject': 'caddy-user', 'x-auth-session': sid, 'x-auth-scope': 'orders:write', 'x-auth-client': 'cli' });
    const noClient = await rawRequest(port, 'GET', '/orders', { authorization: `Bearer ${await token()}`, 'x-auth-client': 'forged' });
    expect(noClient.status).toBe(200);
    expect((JSON.parse(noClient.body) as { headers: Record<string, string> }).headers['x-auth-client'] ?? '').toBe('');

    const pub = await rawRequest(port, 'GET', '/public/x', { 'x-auth-subject': 'forged', 'x-auth-client': 'forged' });
    expect(pub.status).toBe(200);
    const pubSeen = JSON.parse(pub.body) as { headers: Record<string, string> };
    // Caddy 2.6 copies the gate's empty values (never the client's): empty means none.
    expect(pubSeen.headers['x-auth-subject'] ?? '').toBe('');
    expect(pubSeen.headers['x-auth-client'] ?? '').toBe('');
  });

  it('denials reach the client as the gate answered them: 401, 403 with scope, 400 for path tricks', async () => {
    const none = await rawRequest(port, 'GET', '/orders');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
    expect(JSON.parse(none.body)).toMatchObject({ error: 'invalid_token', reason: 'missing_token' });
    const noScope = await rawRequest(port, 'POST', '/orders', { authorization: `Bearer ${await token()}` });
    expect(noScope.status).toBe(403);
    expect(noScope.headers['www-authenticate']).toBe('Bearer error="insufficient_scope", scope="orders:write"');
    const sneaky = await rawRequest(port, 'GET', '/public/..%2Forders');
    expect(sneaky.status).toBe(400);
    expect(sneaky.headers['x-auth-reason']).toBe('encoded_separator');
  });

  it('a session revoked on the topic is refused through Caddy within the deadline', async () => {
    const sid = randomUUID();
    const t = await token({ sid });
    expect((await rawRequest(port, 'GET', '/orders', { authorization: `Bearer ${t}` })).status).toBe(200);
    await producer.send(topic, [{ key: 'caddy-user', value: encodeEvent({ v: 1, id: randomUUID(), at: Date.now(), type: 'session.revoked', sub: 'caddy-user', sid, reason: 'logout', until: Math.floor(Date.now() / 1000) + 900 }) }]);
    const denied = await waitFor(
      async () => {
        const res = await rawRequest(port, 'GET', '/orders', { authorization: `Bearer ${t}` });
        return res.status === 401 ? res : false;
      },
      { timeoutMs: 5_000, intervalMs: 10, what: 'Caddy to refuse the revoked token' },
    );
    expect(denied.headers['www-authenticate']).toBe('Bearer error="invalid_token", error_description="revoked"');
  });
});
