// Revocations that write their state change and their outbox row in ONE statement (a
// data-modifying CTE is atomic on its own): no BEGIN/COMMIT round trips, and the event
// exists if and only if the change did. The insert trigger NOTIFYs the relays at commit.
import type { OutboxRow } from '../outbox.ts';
import type { Db } from './db.ts';

/**
 * Revokes the session `sid` of `userId` unless it already was, writing `event` to the
 * outbox in the same statement, its `until` raised to cover every TTL of the issuer's history
 * (SQL function `revocation_covering_ttl_history`). Returns whether it revoked it (false: unknown, someone
 * else's, or already revoked — then no event).
 */
export async function revokeSessionWithEvent(db: Db, s: { sid: string; userId: string; now: Date; reason: string }, event: OutboxRow): Promise<boolean> {
  const { rowCount } = await db.query(
    `WITH revoked AS (
       UPDATE sessions SET revoked_at = $3, revoke_reason = $4
        WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL
        RETURNING id
     )
     INSERT INTO outbox (event_key, payload) SELECT $5, revocation_covering_ttl_history($6::jsonb) FROM revoked`,
    [s.sid, s.userId, s.now, s.reason, event.key, event.payload],
  );
  return rowCount === 1;
}

/**
 * Records the access token `jti` as revoked until `expiresAt`, with its outbox row, in one
 * statement. Returns false (and writes no event) if it already was.
 */
export async function revokeAccessTokenWithEvent(db: Db, t: { jti: string; sub: string; expiresAt: Date }, event: OutboxRow): Promise<boolean> {
  const { rowCount } = await db.query(
    `WITH revoked AS (
       INSERT INTO revoked_access_tokens (jti, sub, expires_at) VALUES ($1, $2, $3)
       ON CONFLICT (jti) DO NOTHING
       RETURNING jti
     )
     INSERT INTO outbox (event_key, payload) SELECT $4, $5::jsonb FROM revoked`,
    [t.jti, t.sub, t.expiresAt, event.key, event.payload],
  );
  return rowCount === 1;
}

/** Forgets revoked access tokens that expired before `before`. */
export async function purgeRevokedAccessTokens(db: Db, before: Date): Promise<void> {
  await db.query('DELETE FROM revoked_access_tokens WHERE expires_at < $1', [before]);
}
