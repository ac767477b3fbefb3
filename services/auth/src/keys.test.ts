// KeyStore against the real PostgreSQL: a database created before next keys existed gets
// one at start without disturbing the signing key; concurrent starts agree on one of each.
import { randomBytes } from 'node:crypto';
import { runner } from 'node-pg-migrate';
import { afterEach, describe, expect, it } from 'vitest';
import { generateSigningKey } from '@revocable/tokens';
import { seal } from './crypto.ts';
import { createPool, type Pool } from './db.ts';
import { EventKeyStore } from './event-keys.ts';
import { KeyStore } from './keys.ts';
import { isEventSigningJwk } from '@revocable/events';
import { withTransaction } from './db.ts';
import { MIGRATIONS_DIR, MIGRATIONS_TABLE, runMigrations } from './migrate.ts';
import { createScratchDatabase } from './test-database.ts';

const KEK = randomBytes(32);
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function freshDatabase(): Promise<{ url: string; pool: Pool }> {
  const { url, drop } = await createScratchDatabase('revocable_auth_keys_unit');
  const pool = createPool({ connectionString: url, max: 6, connectTimeoutMs: 2000, statementTimeoutMs: 5000, onIdleError: () => {} });
  cleanups.push(async () => {
    await pool.end();
    await drop();
  });
  return { url, pool };
}

function keyStore(pool: Pool): KeyStore {
  return new KeyStore({ pool, keyEncryptionKey: KEK, alg: 'EdDSA', accessTtlSeconds: 900, clockSkewSeconds: 30, now: Date.now });
}

describe('KeyStore', () => {
  it('upgrades a database that has only an active key: the next key is added at start, the active key keeps signing', async () => {
    const { url, pool } = await freshDatabase();
    // The schema as the previous release left it: only the initial migration, one active key.
    await runner({ databaseUrl: url, dir: MIGRATIONS_DIR, migrationsTable: MIGRATIONS_TABLE, direction: 'up', count: 1, log: () => {} });
    const old = await generateSigningKey('EdDSA');
    const sealed = seal(KEK, Buffer.from(JSON.stringify(old.privateJwk), 'utf8'), old.kid);
    const createdAt = new Date(Date.now() - 86_400_000);
    await pool.query(
      `INSERT INTO signing_keys (kid, alg, public_jwk, private_ciphertext, private_iv, private_tag, status, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, 'active', $7)`,
      [old.kid, old.alg, old.publicJwk, sealed.ciphertext, sealed.iv, sealed.tag, createdAt],
    );

    const applied = await runMigrations(url);
    expect(applied[0]).toBe('1732700000000_next-signing-key');
    const keys = keyStore(pool);
    await keys.ensureKeys();

    const list = await keys.list();
    expect(list.map((k) => k.status)).toEqual(['next', 'active']);
    expect(list[1]).toMatchObject({ kid: old.kid, activated_at: createdAt.toISOString(), published: true });
    expect(list[0]).toMatchObject({ activated_at: null, published: true });
    const client = await pool.connect();
    try {
      expect((await keys.activeSigner(client)).kid).toBe(old.kid);
    } finally {
      client.release();
    }
    expect((await keys.publicKeys()).map((k) => k.kid)).toEqual([old.kid, list[0]?.kid]);
    // At most one next key, whatever a buggy or concurrent writer tries.
    await expect(
      pool.query(`UPDATE signing_keys SET status = 'next' WHERE kid = $1`, [old.kid]),
    ).rejects.toMatchObject({ code: '23505' });
  });

  it('instances starting at once on an empty database create exactly one active and one next key', async () => {
    const { url, pool } = await freshDatabase();
    await runMigrations(url);
    await Promise.all([keyStore(pool).ensureKeys(), keyStore(pool).ensureKeys(), keyStore(pool).ensureKeys()]);
    const list = await keyStore(pool).list();
    expect(list.filter((k) => k.status === 'active')).toHaveLength(1);
    expect(list.filter((k) => k.status === 'next')).toHaveLength(1);
    expect(list).toHaveLength(2);
  });

  it('event-signing keys: created with the token keys, served in the JWKS marked apart, rotated with them, the retired one kept for the retention', async () => {
    const { url, pool } = await freshDatabase();
    await runMigrations(url);
    let nowMs = Date.UTC(2026, 11, 2);
    const eventKeys = new EventKeyStore({ pool, keyEncryptionKey: KEK, retentionMs: () => 3_600_000, now: () => nowMs });
    const keys = new KeyStore({ pool, keyEncryptionKey: KEK, alg: 'EdDSA', accessTtlSeconds: 900, clockSkewSeconds: 30, now: () => nowMs, eventKeys });
    await keys.ensureKeys();
    const tokenKids = (await keys.publicKeys()).map((k) => k.kid);
    const jwks = await keys.jwks();
    const events = jwks.filter((k) => isEventSigningJwk(k));
    // Active and next event keys, after the token keys; no token key is marked, no event key is a token key.
    expect(events).toHaveLength(2);
    expect(jwks.slice(0, tokenKids.length).map((k) => k.kid)).toEqual(tokenKids);
    expect(tokenKids.some((kid) => kid?.startsWith('evt.'))).toBe(false);
    expect(events[0]).toMatchObject({ use: 'sig', alg: 'EdDSA', kty: 'OKP', crv: 'Ed25519', revocable_use: 'event' });
    expect(events.some((k) => 'd' in k)).toBe(false);
    const signing = (await eventKeys.activeSigner()).kid;
    expect(events[0]?.kid).toBe(signing);

    await withTransaction(pool, (client) => keys.rotate(client));
    // The pre-published next event key signs now; the old one stays published for the retention.
    expect((await eventKeys.activeSigner()).kid).toBe(events[1]?.kid);
    expect((await eventKeys.publicKeys()).map((k) => k.kid)).toContain(signing);
    expect(await eventKeys.publicKeys()).toHaveLength(3);
    nowMs += 3_600_001;
    expect((await eventKeys.publicKeys()).map((k) => k.kid)).not.toContain(signing);
    // Instances starting at once still agree on one active and one next event key.
    await Promise.all([keys.ensureKeys(), keys.ensureKeys()]);
    expect(await eventKeys.publicKeys()).toHaveLength(2);
  });
});
