/**
 * Hostile-token corpus against the real orders service: ≥ 10,000 generated tokens (see
 * test/corpus/hostile-tokens.ts), every one refused with 401 and a reason that fits its
 * category, none crashing the process. Keys come from a JWKS served over HTTP; one of them is
 * revoked through a real key.revoked event on Kafka.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEvent, revocationTopicSpec } from '@revocable/events';
import { buildApp, loadConfig } from '@revocable/orders';
import { generateSigningKey, importPrivateKey, signAccessToken, type SigningKeyMaterial } from '@revocable/tokens';
import { hostileTokens, type HostileToken } from './corpus/hostile-tokens.ts';
import { kafkaEnv, testTransport, uniqueTopic, waitFor } from './support/env.ts';

const ISSUER = 'https://auth.corpus.test';
const CORPUS_SIZE = 10_400;
// 10,400 sequential requests: seconds on an idle machine, close to a minute on a box shared by
// several suites. The bound is generous so that only a hang fails it, not a busy CPU.
const CORPUS_TIMEOUT_MS = 300_000;

describe('hostile-token corpus against the orders service', () => {
  const topic = uniqueTopic('test.corpus');
  let jwks: FastifyInstance;
  let jwksHits = 0;
  let orders: FastifyInstance;
  let key: SigningKeyMaterial;
  let revokedKey: SigningKeyMaterial;

  const validToken = async () => {
    const signer = { kid: key.kid, alg: key.alg, privateKey: await importPrivateKey(key.privateJwk, key.alg) };
    return (await signAccessToken({ sub: 'corpus-user', aud: 'orders', jti: randomUUID(), sid: randomUUID(), ver: 1, client_id: 'revocable-app', scope: 'orders:read orders:write' }, signer, { issuer: ISSUER, accessTtlSeconds: 600 })).token;
  };

  beforeAll(async () => {
    key = await generateSigningKey('EdDSA');
    revokedKey = await generateSigningKey('EdDSA');
    jwks = Fastify();
    jwks.get('/.well-known/jwks.json', async () => {
      jwksHits++;
      return { keys: [key.publicJwk, revokedKey.publicJwk] };
    });
    await jwks.listen({ port: 0, host: '127.0.0.1' });
    const authUrl = `http://127.0.0.1:${(jwks.server.address() as AddressInfo).port}`;

    const transport = testTransport('corpus-test');
    const admin = await transport.admin();
    await admin.ensureTopic(revocationTopicSpec({ topic, maxAccessTtlSeconds: 900 }));
    await admin.close();
    const producer = await transport.producer();
    const nowS = Math.floor(Date.now() / 1000);
    await producer.send(topic, [
      { key: `kid:${revokedKey.kid}`, value: encodeEvent({ v: 1, id: randomUUID(), at: Date.now(), type: 'key.revoked', kid: revokedKey.kid, until: nowS + 900 }) },
    ]);
    await producer.close();

    const config = loadConfig({
      ...kafkaEnv(),
      REVOCATION_TOPIC: topic,
      AUTH_URL: authUrl,
      AUTH_ISSUER: ISSUER,
      JWKS_COOLDOWN_MS: '60000',
      LOG_LEVEL: 'silent',
    });
    orders = await buildApp(config);
    await orders.ready();
    await orders.revocable.whenReady();
    await waitFor(() => orders.revocable.denylist.size().key === 1, { timeoutMs: 20_000 });
  });

  afterAll(async () => {
    await orders?.close();
    await jwks?.close();
  });

  it('serves a valid token (the corpus baseline is sound)', async () => {
    const res = await orders.inject({ method: 'GET', url: '/v1/orders', headers: { authorization: `Bearer ${await validToken()}` } });
    expect(res.statusCode).toBe(200);
  });

  it(`refuses ${CORPUS_SIZE} hostile tokens with 401 and a fitting reason`, async () => {
    const byCategory = new Map<string, Map<string, number>>();
    const misfits: Array<{ category: string; status: number; reason: unknown; token: string }> = [];
    let total = 0;
    for (const item of hostileTokens({ key, revokedKey, issuer: ISSUER, audience: 'orders', nowMs: Date.now(), count: CORPUS_SIZE, seed: 20261126 })) {
      total++;
      const res = await orders.inject({ method: 'GET', url: '/v1/orders', headers: { authorization: `Bearer ${item.token}` } });
      const body = res.json() as { reason?: string; error?: string };
      const reasons = byCategory.get(item.category) ?? new Map<string, number>();
      reasons.set(String(body.reason), (reasons.get(String(body.reason)) ?? 0) + 1);
      byCategory.set(item.category, reasons);
      const fits =
        res.statusCode === 401 &&
        body.error === 'invalid_token' &&
        (item.reasons as readonly string[]).includes(String(body.reason)) &&
        String(res.headers['www-authenticate']).startsWith('Bearer error="invalid_token"');
      if (!fits && misfits.length < 20) misfits.push({ category: item.category, status: res.statusCode, reason: body.reason, token: item.token.slice(0, 200) });
    }
    const summary = Object.fromEntries([...byCategory].map(([category, reasons]) => [category, Object.fromEntries(reasons)]));
    expect(misfits, JSON.stringify(summary, null, 1)).toEqual([]);
    expect(total).toBeGreaterThanOrEqual(10_000);
    expect(byCategory.size).toBeGreaterThanOrEqual(40);
    // Random kids never turn into a JWKS fetch storm: the initial fetch, at most one refetch per cooldown.
    expect(jwksHits).toBeLessThanOrEqual(2);
    // Failures are never cached; only validly signed tokens are (those of the revoked key, which the
    // denylist refuses on every request, and the one valid token).
    expect(orders.revocable.verifier.cacheStats().size).toBeLessThanOrEqual((byCategory.get('signed_by_revoked_key')?.get('revoked') ?? 0) + 1);
  }, CORPUS_TIMEOUT_MS);

  it('refuses a sample over real HTTP and stays healthy', async () => {
    await orders.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(orders.server.address() as AddressInfo).port}`;
    let sent = 0;
    const sample: HostileToken[] = [];
    for (const item of hostileTokens({ key, revokedKey, issuer: ISSUER, audience: 'orders', nowMs: Date.now(), count: 600, seed: 7 })) {
      // Node's HTTP parser answers 431 for headers over 16 KiB before any application code runs;
      // fetch refuses to send control characters. Both are outside the verifier.
      if (item.token.length > 12_000 || /[^\x21-\x7e]/.test(item.token)) continue;
      sample.push(item);
    }
    for (const item of sample) {
      const res = await fetch(`${base}/v1/orders`, { headers: { authorization: `Bearer ${item.token}` } });
      expect(res.status, item.category).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
      await res.body?.cancel();
      sent++;
    }
    expect(sent).toBeGreaterThan(400);
    // A one-megabyte header is refused by the HTTP layer, not by a crash.
    const huge = await fetch(`${base}/v1/orders`, { headers: { authorization: `Bearer ${'a'.repeat(1 << 20)}` } }).catch(() => null);
    if (huge !== null) expect([401, 431]).toContain(huge.status);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ok = await fetch(`${base}/v1/orders`, { headers: { authorization: `Bearer ${await validToken()}` } });
    expect(ok.status).toBe(200);
  });
});
