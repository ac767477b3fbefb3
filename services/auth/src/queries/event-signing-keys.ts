// SQL of `event_signing_keys`. Mutations run in the caller's transaction, after lockKeyMutations.
import type { JWK } from 'jose';
import type { Db } from './db.ts';

/** `next` (published, never signs) → `active` (signs heartbeats; exactly one) → `retired` (published for the topic's retention). */
export type EventKeyStatus = 'next' | 'active' | 'retired';

export interface EventKeyRow {
  kid: string;
  public_jwk: JWK;
  private_ciphertext: Buffer;
  private_iv: Buffer;
  private_tag: Buffer;
  status: EventKeyStatus;
  created_at: Date;
  activated_at: Date | null;
  retired_at: Date | null;
}

/** The active and the next event key (locked). */
export async function lockActiveAndNextEventKeys(db: Db): Promise<Array<Pick<EventKeyRow, 'kid' | 'status'>>> {
  const { rows } = await db.query<Pick<EventKeyRow, 'kid' | 'status'>>(`SELECT kid, status FROM event_signing_keys WHERE status IN ('active', 'next') FOR UPDATE`);
  return rows;
}

/** The whole row of the active event key. */
export async function findActiveEventKey(db: Db): Promise<EventKeyRow | undefined> {
  const { rows } = await db.query<EventKeyRow>(`SELECT * FROM event_signing_keys WHERE status = 'active'`);
  return rows[0];
}

/** Public JWKs served in the JWKS: active, next, and keys retired after `retiredAfter`. */
export async function findPublishedEventKeys(db: Db, retiredAfter: Date): Promise<Array<Pick<EventKeyRow, 'kid' | 'public_jwk'>>> {
  const { rows } = await db.query<Pick<EventKeyRow, 'kid' | 'public_jwk'>>(
    `SELECT kid, public_jwk FROM event_signing_keys
      WHERE status IN ('active', 'next') OR (status = 'retired' AND retired_at > $1)
      ORDER BY CASE status WHEN 'active' THEN 0 WHEN 'next' THEN 1 ELSE 2 END, created_at DESC`,
    [retiredAfter],
  );
  return rows;
}

export async function retireEventKey(db: Db, kid: string, now: Date): Promise<void> {
  await db.query(`UPDATE event_signing_keys SET status = 'retired', retired_at = $2 WHERE kid = $1`, [kid, now]);
}

export async function activateEventKey(db: Db, kid: string, now: Date): Promise<void> {
  await db.query(`UPDATE event_signing_keys SET status = 'active', activated_at = $2 WHERE kid = $1`, [kid, now]);
}

export async function insertEventKey(
  db: Db,
  k: { kid: string; publicJwk: JWK; ciphertext: Buffer; iv: Buffer; tag: Buffer; status: 'active' | 'next'; now: Date },
): Promise<void> {
  await db.query(
    `INSERT INTO event_signing_keys (kid, public_jwk, private_ciphertext, private_iv, private_tag, status, created_at, activated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [k.kid, k.publicJwk, k.ciphertext, k.iv, k.tag, k.status, k.now, k.status === 'active' ? k.now : null],
  );
}
