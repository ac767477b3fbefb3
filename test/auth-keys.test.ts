/**
 * Key rotation without a gap, against the real auth service on a real port (its own
 * PostgreSQL database, real Kafka): the key that signs after a rotation or an emergency key
 * revocation was published as the NEXT key before, so a verifier that fetched the JWKS
 * earlier accepts the new tokens at once, without refetching (and a refetch would not even
 * be allowed: the verifiers here have a 60 s refetch cooldown).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { createRemoteJWKSet, customFetch, decodeProtectedHeader, type JWTVerifyGetKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp as buildAuth, loadConfig as loadAuthConfig } from '@revocable/auth';
import { freePort } from '@revocable/infra';
import { buildApp as buildOrders, loadConfig as loadOrdersConfig } from '@revocable/orders';
import { verifyAccessToken } from '@revocable/tokens';
import { authEnv, createTestDatabase, kafkaEnv, uniqueTopic, waitFor } from './support/env.ts';
import { authCall, loginToken, registerUser } from './support/auth-http.ts';

const ADMIN = randomBytes(24).toString('base64url');
const PASSWORD = 'correct horse battery';
const COOLDOWN_MS = 60_000;

let db: { url: string; drop: () => Promise<void> };
let auth: FastifyInstance;
let authUrl: string;
const topic = uniqueTopic('auth-keys');

beforeAll(async () => {
  db = await createTestDatabase('revocable_auth_keys');
  const port = await freePort();
  authUrl = `http://127.0.0.1:${port}`;
  auth = await buildAuth(
    loadAuthConfig(
      authEnv(db.url, { PORT: String(port), REVOCATION_TOPIC: topic, AUTH_ISSUER: authUrl, AUDIENCES: 'orders,profile', ADMIN_TOKEN: ADMIN, HEARTBEAT_INTERVAL_MS: '200', COOKIE_SECURE: 'false' }),
    ),
    { logger: false },
  );
  await auth.listen({ port, host: '127.0.0.1' });
}, 120_000);

afterAll(async () => {
  await auth?.close();
  await db?.drop();
}, 60_000);

const call = (method: string, path: string, options: { body?: unknown; bearer?: string } = {}) => authCall(authUrl, method, path, options);
const newUser = () => registerUser(authUrl, 'keys', PASSWORD);
const login = (email: string) => loginToken(authUrl, email, PASSWORD);

const kidOf = (token: string) => decodeProtectedHeader(token).kid as string;

async function adminKeys(): Promise<Array<{ kid: string; status: string; published: boolean; activated_at: string | null }>> {
  const res = await call('GET', '/v1/admin/keys', { bearer: ADMIN });
  expect(res.status).toBe(200);
  return res.body['keys'] as Array<{ kid: string; status: string; published: boolean; activated_at: string | null }>;
}

/** A jose remote JWKS like the resource services use, counting its fetches. */
function countingRemoteJwks(): { getKey: JWTVerifyGetKey; fetches: () => number } {
  let fetches = 0;
  const getKey = createRemoteJWKSet(new URL(`${authUrl}/.well-known/jwks.json`), {
    cooldownDuration: COOLDOWN_MS,
    cacheMaxAge: 600_000,
    [customFetch]: (url, init) => {
      fetches += 1;
      return fetch(url, init);
    },
  });
  return { getKey, fetches: () => fetches };
}

/** JWKS requests the auth service answered, from its own /metrics. */
async function jwksServed(): Promise<number> {
  const text = await (await fetch(`${authUrl}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith('revocable_http_request_duration_seconds_count{') && l.includes('route="/.well-known/jwks.json"') && l.includes('status="200"'));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('signing keys: the next key is published before it signs', () => {
  it('a verifier that fetched the JWKS before a rotation accepts tokens signed right after it, without refetching', async () => {
    const email = await newUser();
    const before = await login(email);
    const verifier = countingRemoteJwks();
    const verify = (token: string) => verifyAccessToken(token, verifier.getKey, { issuer: authUrl, audience: 'orders' });
    await verify(before);
    expect(verifier.fetches()).toBe(1);
    const published = await adminKeys();
    const next = published.find((k) => k.status === 'next');
    expect(next).toMatchObject({ published: true, activated_at: null });

    const rotated = await call('POST', '/v1/admin/keys/rotate', { bearer: ADMIN });
    expect(rotated.status).toBe(200);
    expect(rotated.body).toMatchObject({ kid: next?.kid, previous_kid: kidOf(before), next_kid: expect.any(String) });
    const after = await login(email);
    expect(kidOf(after)).toBe(next?.kid);

    // Accepted at once, from the JWKS fetched before the rotation.
    const { claims } = await verify(after);
    expect(claims.sub).toBe((await verify(before)).claims.sub);
    expect(verifier.fetches()).toBe(1);

    // The previous key stays published (its tokens verify until they expire); the new next key is published too.
    const keys = await adminKeys();
    expect(keys.find((k) => k.kid === kidOf(before))).toMatchObject({ status: 'retired', published: true });
    expect(keys.find((k) => k.kid === rotated.body['next_kid'])).toMatchObject({ status: 'next', published: true });
    expect(keys.find((k) => k.kid === kidOf(after))?.activated_at).not.toBeNull();
    const fresh = countingRemoteJwks();
    await verifyAccessToken(before, fresh.getKey, { issuer: authUrl, audience: 'orders' });
  });

  it('an emergency revocation of the active key: a running resource service accepts the replacement key at once and denies the revoked one', async () => {
    const orders = await buildOrders(
      loadOrdersConfig({
        ...kafkaEnv(),
        REVOCATION_TOPIC: topic,
        AUTH_URL: authUrl,
        JWKS_COOLDOWN_MS: String(COOLDOWN_MS),
        FRESHNESS_MAX_SECONDS: '10',
        LOG_LEVEL: 'silent',
      }),
    );
    try {
      await orders.ready();
      await orders.revocable.whenReady();
      const get = (token: string) => orders.inject({ method: 'GET', url: '/v1/orders', headers: { authorization: `Bearer ${token}` } });
      const email = await newUser();
      const compromised = await login(email);
      expect((await get(compromised)).statusCode).toBe(200);
      const fetchedBefore = await jwksServed();
      expect(fetchedBefore).toBeGreaterThanOrEqual(1);

      const revoked = await call('POST', `/v1/admin/keys/${encodeURIComponent(kidOf(compromised))}/revoke`, { bearer: ADMIN });
      expect(revoked.status).toBe(200);
      const replacedBy = revoked.body['replaced_by'] as string;
      expect(revoked.body).toMatchObject({ kid: kidOf(compromised), revoked: true, next_kid: expect.any(String) });
      const keys = await adminKeys();
      expect(keys.find((k) => k.kid === kidOf(compromised))).toMatchObject({ status: 'revoked', published: false });
      expect(keys.find((k) => k.kid === replacedBy)?.status).toBe('active');
      expect(keys.find((k) => k.kid === revoked.body['next_kid'])?.status).toBe('next');

      // The replacement was the published next key: orders verifies it with the keys it already has.
      const replacement = await login(email);
      expect(kidOf(replacement)).toBe(replacedBy);
      const res = await get(replacement);
      expect(res.statusCode, res.body).toBe(200);
      expect(await jwksServed()).toBe(fetchedBefore);

      // Everything the revoked key signed is denied as soon as key.revoked arrives.
      const denied = await waitFor(
        async () => {
          const r = await get(compromised);
          return r.statusCode === 401 ? r : false;
        },
        { timeoutMs: 20_000, what: 'orders to deny the revoked key' },
      );
      expect(denied.json()).toMatchObject({ error: 'invalid_token', reason: 'revoked' });
      expect((await get(replacement)).statusCode).toBe(200);
    } finally {
      await orders.close();
    }
  });
});
