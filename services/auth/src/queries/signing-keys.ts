// SQL of `signing_keys`. Mutations run in the caller's transaction, after lockKeyMutations.
import type { JWK } from 'jose';
import type { SigningAlgorithm } from '@revocable/tokens';
import type { Db } from './db.ts';

/**
 * Life cycle of a signing key: `next` (published, never signs) → `active` (signs; exactly
 * one) → `retired` (published until its last token expired) ; any of them → `revoked`
 * (emergency: unpublished at once, `key.revoked` denies what it signed).
 */
export type KeyStatus = 'next' | 'active' | 'retired' | 'revoked';

export interface KeyRow {
  kid: string;
  alg: SigningAlgorithm;
  public_jwk: JWK;
  private_ciphertext: Buffer;
  private_iv: Buffer;
  private_tag: Buffer;
  status: KeyStatus;
  created_at: Date;
  activated_at: Date | null;
  retired_at: Date | null;
  revoked_at: Date | null;
}

// Serialises key bootstrap, rotation and revocation across instances (arbitrary, project-specific constant).
const KEY_MUTATION_LOCK = 0x7265766f6b; // "revok"

// Which keys the JWKS serves ($1: retired keys retired after it still are).
const PUBLISHED = `status IN ('active', 'next') OR (status = 'retired' AND retired_at > $1)`;

/** Takes the transaction-scoped advisory lock every key mutation holds. */
export async function lockKeyMutations(db: Db): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock($1)', [KEY_MUTATION_LOCK]);
}

/** The active and the next key (`forUpdate`: locking them). */
export async function findActiveAndNext(db: Db, forUpdate: boolean): Promise<Array<Pick<KeyRow, 'kid' | 'status'>>> {
  const { rows } = await db.query<Pick<KeyRow, 'kid' | 'status'>>(`SELECT kid, status FROM signing_keys WHERE status IN ('active', 'next')${forUpdate ? ' FOR UPDATE' : ''}`);
  return rows;
}

/** The whole row of the key in `status` (active or next: at most one each). */
export async function findKeyByStatus(db: Db, status: 'active' | 'next'): Promise<KeyRow | undefined> {
  const { rows } = await db.query<KeyRow>('SELECT * FROM signing_keys WHERE status = $1', [status]);
  return rows[0];
}

/** The next key's kid, locked. */
export async function lockNextKid(db: Db): Promise<string | undefined> {
  const { rows } = await db.query<Pick<KeyRow, 'kid'>>(`SELECT kid FROM signing_keys WHERE status = 'next' FOR UPDATE`);
  return rows[0]?.kid;
}

export async function lockKey(db: Db, kid: string): Promise<Pick<KeyRow, 'kid' | 'status' | 'retired_at'> | undefined> {
  const { rows } = await db.query<Pick<KeyRow, 'kid' | 'status' | 'retired_at'>>('SELECT kid, status, retired_at FROM signing_keys WHERE kid = $1 FOR UPDATE', [kid]);
  return rows[0];
}

/** Public keys served by the JWKS: active, next, then retired ones retired after `retiredAfter`. */
export async function findPublishedKeys(db: Db, retiredAfter: Date): Promise<Array<Pick<KeyRow, 'kid' | 'alg' | 'public_jwk'>>> {
  const { rows } = await db.query<Pick<KeyRow, 'kid' | 'alg' | 'public_jwk'>>(
    `SELECT kid, alg, public_jwk FROM signing_keys
      WHERE ${PUBLISHED}
      ORDER BY CASE status WHEN 'active' THEN 0 WHEN 'next' THEN 1 ELSE 2 END, created_at DESC`,
    [retiredAfter],
  );
  return rows;
}

/** Every key (no private parts) with whether the JWKS serves it, newest first. */
export async function listKeys(db: Db, retiredAfter: Date): Promise<Array<Omit<KeyRow, 'public_jwk' | 'private_ciphertext' | 'private_iv' | 'private_tag'> & { published: boolean }>> {
  const { rows } = await db.query<Omit<KeyRow, 'public_jwk' | 'private_ciphertext' | 'private_iv' | 'private_tag'> & { published: boolean }>(
    `SELECT kid, alg, status, created_at, activated_at, retired_at, revoked_at, (${PUBLISHED}) AS published
       FROM signing_keys ORDER BY created_at DESC`,
    [retiredAfter],
  );
  return rows;
}

export async function retireKey(db: Db, kid: string, now: Date): Promise<void> {
  await db.query(`UPDATE signing_keys SET status = 'retired', retired_at = $2 WHERE kid = $1`, [kid, now]);
}

export async function markKeyRevoked(db: Db, kid: string, now: Date): Promise<void> {
  await db.query(`UPDATE signing_keys SET status = 'revoked', revoked_at = $2 WHERE kid = $1`, [kid, now]);
}

export async function activateKey(db: Db, kid: string, now: Date): Promise<void> {
  await db.query(`UPDATE signing_keys SET status = 'active', activated_at = $2 WHERE kid = $1`, [kid, now]);
}

export async function insertKey(
  db: Db,
  k: { kid: string; alg: SigningAlgorithm; publicJwk: JWK; ciphertext: Buffer; iv: Buffer; tag: Buffer; status: 'active' | 'next'; now: Date },
): Promise<void> {
  await db.query(
    `INSERT INTO signing_keys (kid, alg, public_jwk, private_ciphertext, private_iv, private_tag, status, created_at, activated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [k.kid, k.alg, k.publicJwk, k.ciphertext, k.iv, k.tag, k.status, k.now, k.status === 'active' ? k.now : null],
  );
}
