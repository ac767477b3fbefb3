/**
 * Issue 9 part 4, "windows that never reopen", against the real broker and PostgreSQL: the
 * auth service (in-process, real port, its own database) and the orders service (in-process,
 * its verifier fed by the real topic, keys from the auth service's JWKS) share an injected
 * clock, so minutes pass without waiting for them.
 *
 * (a) Lowering ACCESS_TTL_SECONDS across a restart does not shorten the revocation of tokens
 *     issued under the longer TTL: they stay 401 `revoked` until their own expiry.
 * (b) A revoked key's `key.revoked` lives past the key's last token by the verifiers' JWKS
 *     cache age: a token the stolen key signs later stays 401 while a verifier may still hold
 *     the key (here: it does, its JWKS cache is young).
 */
import { createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { decodeJwt, decodeProtectedHeader, type JWK } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp as buildAuth, loadConfig as loadAuthConfig } from '@revocable/auth';
import type { RevocableEvent } from '@revocable/events';
import { freePort } from '@revocable/infra';
import { buildApp as buildOrders, loadConfig as loadOrdersConfig } from '@revocable/orders';
import { importPrivateKey, signAccessToken } from '@revocable/tokens';
import { authEnv, createTestDatabase, kafkaBrokers, kafkaEnv, kafkaSasl, testTransport, uniqueTopic, waitFor } from './support/env.ts';
import { readTopic, type TopicReader } from './support/topic-reader.ts';
import { authCall, loginToken, registerUser } from './support/auth-http.ts';

const ADMIN = randomBytes(24).toString('base64url');
const KEK = randomBytes(32).toString('base64');
const PASSWORD = 'correct horse battery';
const SKEW = 30;
/** The denylist keeps denying this long past `until` (its grace). */
const GRACE = 60;
const JWKS_MAX_AGE = 600;

let offsetMs = 0;
const clock = () => Date.now() + offsetMs;
/** Moves the shared clock so that it reads `epochSeconds` now. */
const setClock = (epochSeconds: number) => {
  offsetMs = epochSeconds * 1000 - Date.now();
};

const topic = uniqueTopic('test.revocation-windows');
let db: { url: string; drop: () => Promise<void> };
let port: number;
let authUrl: string;
let auth: FastifyInstance | undefined;
let orders: FastifyInstance;
let reader: TopicReader;
const events: RevocableEvent[] = [];

async function startAuth(ttlSeconds: number): Promise<void> {
  const config = loadAuthConfig(
    authEnv(db.url, {
      PORT: String(port),
      REVOCATION_TOPIC: topic,
      AUTH_ISSUER: authUrl,
      ADMIN_TOKEN: ADMIN,
      KEY_ENCRYPTION_KEY: KEK,
      ACCESS_TTL_SECONDS: String(ttlSeconds),
      CLOCK_SKEW_SECONDS: String(SKEW),
      HEARTBEAT_INTERVAL_MS: '200',
      COOKIE_SECURE: 'false',
      LOG_LEVEL: 'silent',
    }),
  );
  auth = await buildAuth(config, { logger: false, now: clock });
  await auth.listen({ port, host: '127.0.0.1' });
}

const call = (method: string, path: string, options: { body?: unknown; bearer?: string } = {}) => authCall(authUrl, method, path, options);
const newUser = () => registerUser(authUrl, 'windows', PASSWORD);
const login = (email: string) => loginToken(authUrl, email, PASSWORD);

const claimsOf = (token: string) => decodeJwt(token) as { iat: number; exp: number; sub: string; ver: number; sid: string };
const getOrders = (token: string) => orders.inject({ method: 'GET', url: '/v1/orders', headers: { authorization: `Bearer ${token}` } });
const reasonOf = async (token: string) => {
  const res = await getOrders(token);
  return res.statusCode === 200 ? 'accepted' : `${res.statusCode} ${(res.json() as { reason?: string }).reason ?? ''}`;
};

/** The signing key's private half, as a thief has it: decrypted from the database with the KEK. */
async function stolenKey(kid: string) {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ alg: 'EdDSA'; private_ciphertext: Buffer; private_iv: Buffer; private_tag: Buffer }>(
      'SELECT alg, private_ciphertext, private_iv, private_tag FROM signing_keys WHERE kid = $1',
      [kid],
    );
    const row = rows[0];
    if (row === undefined) throw new Error(`no signing key ${kid}`);
    const decipher = createDecipheriv('aes-256-gcm', Buffer.from(KEK, 'base64'), row.private_iv);
    decipher.setAAD(Buffer.from(kid, 'utf8'));
    decipher.setAuthTag(row.private_tag);
    const jwk = JSON.parse(Buffer.concat([decipher.update(row.private_ciphertext), decipher.final()]).toString('utf8')) as JWK;
    return { kid, alg: row.alg, privateKey: await importPrivateKey(jwk, row.alg) };
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  db = await createTestDatabase('revocable_windows');
  port = await freePort();
  authUrl = `http://127.0.0.1:${port}`;
  await startAuth(1800);
  orders = await buildOrders(
    loadOrdersConfig({ ...kafkaEnv(), REVOCATION_TOPIC: topic, AUTH_URL: authUrl, JWKS_COOLDOWN_MS: '500', RECEIPTS_ENABLED: 'false', LOG_LEVEL: 'silent' }),
    // Freshness on the real monotonic clock; tokens, heartbeats' skew and the denylist on the shared one.
    { now: clock, monotonicNow: () => performance.now() },
  );
  await orders.ready();
  await orders.revocable.whenReady();
  reader = await readTopic(kafkaBrokers(), topic, (event) => events.push(event), kafkaSasl());
}, 180_000);

afterAll(async () => {
  await reader?.stop();
  await orders?.close();
  await auth?.close();
  await db?.drop();
}, 60_000);

const eventOf = <T extends RevocableEvent['type']>(type: T, match: (e: Extract<RevocableEvent, { type: T }>) => boolean) =>
  waitFor(() => events.find((e): e is Extract<RevocableEvent, { type: T }> => e.type === type && match(e as Extract<RevocableEvent, { type: T }>)), { timeoutMs: 20_000, what: `a ${type} event` });

describe('windows that never reopen', () => {
  it('(a) after a restart with a lower ACCESS_TTL_SECONDS, tokens of the longer TTL stay revoked until their own expiry', async () => {
    const email = await newUser();
    const old = await login(email);
    const oldClaims = claimsOf(old);
    expect(oldClaims.exp - oldClaims.iat).toBe(1800);
    expect(await reasonOf(old)).toBe('accepted');

    // Two minutes later the auth service comes back with a 60 s TTL.
    await auth?.close();
    offsetMs += 120_000;
    await startAuth(60);
    const fresh = await login(email);
    expect(claimsOf(fresh).exp - claimsOf(fresh).iat).toBe(60);
    // The topic's retention still follows the 1800 s TTL (plus the JWKS cache age): 2 × (1800 + 30 + 600) s.
    const admin = await testTransport('windows-admin').admin();
    try {
      expect(Number((await admin.describeTopicConfigs(topic))['retention.ms'])).toBeGreaterThanOrEqual(2 * (1800 + SKEW + JWKS_MAX_AGE) * 1000);
    } finally {
      await admin.close();
    }

    // Logout-all with the old, 1800 s token: the restarted service still knows it as its own.
    const loggedOut = await call('POST', '/v1/logout-all', { bearer: old });
    expect(loggedOut.status, JSON.stringify(loggedOut.body)).toBe(204);
    const event = await eventOf('user.revoked', (e) => e.sub === oldClaims.sub);
    // The event covers the old TTL, not the 60 s one.
    expect(event.until).toBeGreaterThanOrEqual(oldClaims.exp + SKEW);
    await waitFor(async () => (await reasonOf(old)) === '401 revoked' && (await reasonOf(fresh)) === '401 revoked', { what: 'both tokens refused at orders' });

    // Past the old rule's expiry (revocation + 60 + skew + grace) and up to the token's exp: still revoked.
    const revokedAt = Math.ceil(event.at / 1000);
    setClock(revokedAt + 60 + SKEW + GRACE + 5);
    expect(await reasonOf(old)).toBe('401 revoked');
    setClock(oldClaims.exp - 1);
    expect(await reasonOf(old)).toBe('401 revoked');
    // And after its own expiry it is refused as expired (the verifier's 5 s tolerance passed).
    setClock(oldClaims.exp + 6);
    expect(await reasonOf(old)).toBe('401 expired');
  }, 120_000);

  it('(b) a revoked key stays refused past TTL + skew + 60 s while a verifier may still hold it in its JWKS cache', async () => {
    // Back to the present: the auth service runs with the 60 s TTL.
    offsetMs = 0;
    const email = await newUser();
    const token = await login(email);
    const claims = claimsOf(token);
    const kid = decodeProtectedHeader(token).kid as string;
    // orders fetches the JWKS now and keeps it for its cache age (10 min of real time).
    await waitFor(async () => (await reasonOf(token)) === 'accepted', { what: 'the token accepted at orders' });

    // The key is stolen: the thief signs a long-lived token (the verifier's maximum lifetime) and uses it.
    const signer = await stolenKey(kid);
    const forge = async (ttlSeconds: number) =>
      (await signAccessToken({ sub: claims.sub, aud: 'orders', jti: randomUUID(), sid: claims.sid, ver: claims.ver, client_id: 'revocable-app', scope: 'orders:read' }, signer, { issuer: authUrl, accessTtlSeconds: ttlSeconds, now: clock })).token;
    const forgedEarly = await forge(3600);
    expect(await reasonOf(forgedEarly)).toBe('accepted');

    const revoked = await call('POST', `/v1/admin/keys/${kid}/revoke`, { bearer: ADMIN });
    expect(revoked.status, JSON.stringify(revoked.body)).toBe(200);
    const event = await eventOf('key.revoked', (e) => e.kid === kid);
    expect(revoked.body['until']).toBe(event.until);
    // The key's last legitimate token expires at claims.exp at the latest (it signed up to the revocation).
    const lastExp = Math.ceil(event.at / 1000) + 60;
    expect(event.until).toBeGreaterThanOrEqual(lastExp + JWKS_MAX_AGE);
    expect(event.until).toBeGreaterThanOrEqual(claims.exp + JWKS_MAX_AGE);
    await waitFor(async () => (await reasonOf(token)) === '401 revoked' && (await reasonOf(forgedEarly)) === '401 revoked', { what: 'the key refused at orders' });

    // Past TTL + skew + 60 s: the old entry would be gone; orders still holds the key (its JWKS is young).
    setClock(Math.ceil(event.at / 1000) + 60 + SKEW + GRACE + 5);
    expect(await reasonOf(forgedEarly)).toBe('401 revoked');
    expect(await reasonOf(await forge(60))).toBe('401 revoked');
    // Up to the last second a verifier could have fetched the key and still be using it.
    setClock(event.until);
    expect(await reasonOf(forgedEarly)).toBe('401 revoked');
    expect(await reasonOf(await forge(60))).toBe('401 revoked');
  }, 120_000);
});
