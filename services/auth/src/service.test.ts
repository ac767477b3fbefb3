// The auth services against the real PostgreSQL (no HTTP): login work for unknown accounts,
// ES256 keys, absolute session lifetime, session cap under concurrent logins.
import { randomBytes, randomUUID } from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAccessToken } from '@revocable/tokens';
import { loadConfig, type AuthConfig } from './config.ts';
import type { Pool } from './db.ts';
import { KeyStore } from './keys.ts';
import { startTestPool } from './test-app.ts';
import { createPasswordHasher, type PasswordHasher } from './password.ts';
import { createServices, type AuthServices } from './app.ts';

let dbUrl = '';
let close = async () => {};
let pool: Pool;
let offsetMs = 0;
const now = () => Date.now() + offsetMs;

beforeAll(async () => {
  ({ url: dbUrl, pool, close } = await startTestPool('auth_service_unit', 8));
});

afterAll(() => close());

/** Counts the scrypt work each login does, delegating to the real hasher. */
function countingHasher(inner: PasswordHasher): PasswordHasher & { verifications: number } {
  const counter = {
    verifications: 0,
    hash: (p: string) => inner.hash(p),
    prepare: () => inner.prepare(),
    verify: async (p: string, s: string) => {
      counter.verifications++;
      return inner.verify(p, s);
    },
    verifyDummy: async (p: string): Promise<false> => {
      counter.verifications++;
      return inner.verifyDummy(p);
    },
  };
  return counter;
}

async function serviceWith(env: Record<string, string>, hasher: PasswordHasher = createPasswordHasher(10)): Promise<{ service: AuthServices; keys: KeyStore; config: AuthConfig }> {
  const config = loadConfig({ DATABASE_URL: dbUrl, KEY_ENCRYPTION_KEY: KEK, PASSWORD_SCRYPT_COST: '10', ...env });
  const keys = new KeyStore({ pool, keyEncryptionKey: config.keyEncryptionKey, alg: config.signingAlg, accessTtlSeconds: config.accessTtlSeconds, clockSkewSeconds: config.clockSkewSeconds, now });
  await keys.ensureKeys();
  return { service: createServices(config, { pool, keys, hasher, now }), keys, config };
}
const KEK = randomBytes(32).toString('base64');

describe('auth services', () => {
  it('does the same scrypt work for unknown emails as for wrong passwords', async () => {
    const hasher = countingHasher(createPasswordHasher(10));
    const { service } = await serviceWith({}, hasher);
    const email = `timing-${randomUUID()}@example.com`;
    await service.accounts.register(email, 'the password');
    const attempts: Array<[string, string]> = [
      [email, 'wrong password'],
      [`nobody-${randomUUID()}@example.com`, 'wrong password'],
      ['not an email', 'wrong password'],
    ];
    for (const [e, p] of attempts) {
      const before = hasher.verifications;
      await expect(service.sessions.login(e, p, service.clients.defaultClient, {}, {})).rejects.toMatchObject({ code: 'ERR_AUTH_INVALID_CREDENTIALS' });
      expect(hasher.verifications - before).toBe(1);
    }
  });

  it('signs with ES256 when configured, verifiable with the published keys', async () => {
    // Retire the EdDSA keys (active and next) so that the start generates ES256 ones.
    await pool.query(`UPDATE signing_keys SET status = 'retired', retired_at = now() WHERE status IN ('active', 'next')`);
    const { service, keys } = await serviceWith({ SIGNING_ALG: 'ES256' });
    const email = `es256-${randomUUID()}@example.com`;
    await service.accounts.register(email, 'the password');
    const issued = await service.sessions.login(email, 'the password', service.clients.defaultClient, { resource: 'profile' }, {});
    expect(decodeProtectedHeader(issued.body.access_token)).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    const { claims } = await verifyAccessToken(issued.body.access_token, createLocalJWKSet({ keys: await keys.publicKeys() }), {
      issuer: 'http://127.0.0.1:3000',
      audience: 'profile',
      now,
    });
    expect(claims.sid).toBe(issued.sid);
  });

  it('ends a session at its absolute lifetime even when refreshed all along', async () => {
    const { service } = await serviceWith({ SESSION_IDLE_TTL_SECONDS: '600', SESSION_ABSOLUTE_TTL_SECONDS: '1800' });
    const email = `absolute-${randomUUID()}@example.com`;
    await service.accounts.register(email, 'the password');
    let token = (await service.sessions.login(email, 'the password', service.clients.defaultClient, {}, {})).body.refresh_token;
    const start = offsetMs;
    try {
      for (let i = 0; i < 3; i++) {
        offsetMs += 500_000; // within the idle window each time
        token = (await service.sessions.refresh(token, service.clients.defaultClient, {})).body.refresh_token;
      }
      offsetMs = start + 1_801_000;
      await expect(service.sessions.refresh(token, service.clients.defaultClient, {})).rejects.toMatchObject({ code: 'ERR_AUTH_INVALID_GRANT' });
    } finally {
      // The clock is shared by every test of this file: restore it even when an assertion fails.
      offsetMs = start;
    }
    const { rows } = await pool.query<{ revoke_reason: string }>(
      `SELECT s.revoke_reason FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = $1`,
      [email],
    );
    expect(rows.map((r) => r.revoke_reason)).toEqual(['absolute_timeout']);
    const { rows: events } = await pool.query<{ payload: { reason: string } }>(`SELECT payload FROM outbox WHERE payload->>'reason' = 'absolute_timeout'`);
    expect(events.length).toBeGreaterThanOrEqual(1);
  });

  it('rotates on schedule exactly once, even when several instances check at once', async () => {
    const { service, keys } = await serviceWith({});
    const before = await keys.list();
    const next = before.find((k) => k.status === 'next');
    expect(next).toBeDefined();
    expect(await service.keyAdmin.rotateKeyIfDue(3600)).toBeNull();
    const start = offsetMs;
    let results: Array<Awaited<ReturnType<typeof service.keyAdmin.rotateKeyIfDue>>>;
    try {
      offsetMs += 3601_000;
      results = await Promise.all([service.keyAdmin.rotateKeyIfDue(3600), service.keyAdmin.rotateKeyIfDue(3600), service.keyAdmin.rotateKeyIfDue(3600)]);
      // The promoted key was created an hour ago, but its age as the signing key starts now.
      expect(await service.keyAdmin.rotateKeyIfDue(3600)).toBeNull();
    } finally {
      offsetMs = start;
    }
    expect(results.filter((r) => r !== null)).toHaveLength(1);
    const after = await keys.list();
    const active = after.filter((k) => k.status === 'active');
    expect(active).toHaveLength(1);
    // The pre-published next key is the one that signs now.
    expect(active[0]?.kid).toBe(next?.kid);
    expect(after.filter((k) => k.status === 'next')).toHaveLength(1);
    // Concurrent manual rotations and revocations keep exactly one active and one next key.
    const current = active[0]?.kid as string;
    await Promise.all([service.keyAdmin.rotateKey(), service.keyAdmin.rotateKey(), service.keyAdmin.revokeKey(current), service.keyAdmin.rotateKey()]);
    const final = await keys.list();
    expect(final.filter((k) => k.status === 'active')).toHaveLength(1);
    expect(final.filter((k) => k.status === 'next')).toHaveLength(1);
    expect(final.find((k) => k.kid === current)?.status).toBe('revoked');
  });

  it('every instance signs with the key another instance rotated in, at its commit', async () => {
    const a = await serviceWith({});
    const b = await serviceWith({});
    const email = `instances-${randomUUID()}@example.com`;
    await a.service.accounts.register(email, 'the password');
    const signedBy = async (service: AuthServices) => decodeProtectedHeader((await service.sessions.login(email, 'the password', service.clients.defaultClient, {}, {})).body.access_token).kid;
    const { kid } = await a.service.keyAdmin.rotateKey();
    expect(await signedBy(b.service)).toBe(kid);
    const { replacedBy } = await b.service.keyAdmin.revokeKey(kid);
    expect(await signedBy(a.service)).toBe(replacedBy);
  });

  it('verifies from cached keys, yet a key revoked by another instance is refused at once where liveness is checked', async () => {
    // A long TTL, so nothing here depends on how fast the machine runs.
    const a = await serviceWith({ KEY_CACHE_TTL_SECONDS: '3600' });
    const b = await serviceWith({});
    const email = `keycache-${randomUUID()}@example.com`;
    await a.service.accounts.register(email, 'the password');
    const { access_token } = (await a.service.sessions.login(email, 'the password', a.service.clients.defaultClient, { resource: ['orders', 'auth'] }, {})).body;
    expect(await a.service.tokens.introspect('orders', access_token)).toMatchObject({ active: true });
    await a.service.tokens.authenticate(access_token);
    const kid = decodeProtectedHeader(access_token).kid as string;
    // Another instance revokes the key that signed it; a's cached key set still holds it.
    await b.service.keyAdmin.revokeKey(kid);
    expect(await a.service.tokens.verify(access_token)).toMatchObject({ sub: expect.any(String) });
    expect(await a.service.tokens.introspect('orders', access_token)).toEqual({ active: false });
    await expect(a.service.tokens.authenticate(access_token)).rejects.toMatchObject({ code: 'ERR_AUTH_INVALID_TOKEN' });
    // Revoked on this instance: even bare verification stops accepting it at once.
    const { access_token: second } = (await a.service.sessions.login(email, 'the password', a.service.clients.defaultClient, { resource: 'orders' }, {})).body;
    await a.service.tokens.verify(second);
    await a.service.keyAdmin.revokeKey(decodeProtectedHeader(second).kid as string);
    await expect(a.service.tokens.verify(second)).rejects.toMatchObject({ reason: 'unknown_kid' });
  });

  it('holds the session cap under concurrent logins', async () => {
    const { service } = await serviceWith({ MAX_SESSIONS_PER_USER: '2' });
    const email = `cap-${randomUUID()}@example.com`;
    const user = await service.accounts.register(email, 'the password');
    await Promise.all(Array.from({ length: 6 }, () => service.sessions.login(email, 'the password', service.clients.defaultClient, {}, {})));
    const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM sessions WHERE user_id = $1 AND revoked_at IS NULL`, [user.id]);
    expect(Number(rows[0]?.n)).toBe(2);
    const { rows: events } = await pool.query(`SELECT 1 FROM outbox WHERE payload->>'sub' = $1 AND payload->>'reason' = 'session_cap'`, [user.id]);
    expect(events).toHaveLength(4);
  });
});
