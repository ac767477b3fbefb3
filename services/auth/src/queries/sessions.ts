// SQL of `sessions` and `refresh_tokens` (one session = one refresh-token family).
import type { Db } from './db.ts';

export interface SessionRow {
  id: string;
  user_id: string;
  created_at: Date;
  last_used_at: Date;
  idle_expires_at: Date;
  absolute_expires_at: Date;
  revoked_at: Date | null;
  revoke_reason: string | null;
  user_agent: string | null;
  ip: string | null;
  /** The client the session was granted to (NULL: created before clients existed). */
  client_id: string | null;
  /** Audiences granted at login (NULL: before clients existed). */
  audiences: string[] | null;
  /** Scopes granted at login, space-separated (NULL: before clients existed). */
  scope: string | null;
}

/** A refresh token with its session and user, as the refresh grant needs them. */
export interface RefreshRow extends SessionRow {
  generation: number;
  rotated_at: Date | null;
  /** HMAC of the rotating client's IP and user agent; null for tokens rotated before it was recorded. */
  rotated_by: Buffer | null;
  token_version: number;
  disabled_at: Date | null;
}

export async function insertSession(
  db: Db,
  s: {
    id: string;
    userId: string;
    now: Date;
    idleExpiresAt: Date;
    absoluteExpiresAt: Date;
    userAgent: string | null;
    ip: string | null;
    clientId: string;
    audiences: string[];
    scope: string;
  },
): Promise<void> {
  await db.query(
    `INSERT INTO sessions (id, user_id, created_at, last_used_at, idle_expires_at, absolute_expires_at, user_agent, ip, client_id, audiences, scope)
     VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [s.id, s.userId, s.now, s.idleExpiresAt, s.absoluteExpiresAt, s.userAgent, s.ip, s.clientId, s.audiences, s.scope],
  );
}

/** The user's live sessions, newest first. */
export async function listLiveSessions(db: Db, userId: string, now: Date): Promise<SessionRow[]> {
  const { rows } = await db.query<SessionRow>(
    `SELECT * FROM sessions
      WHERE user_id = $1 AND revoked_at IS NULL AND idle_expires_at > $2 AND absolute_expires_at > $2
      ORDER BY created_at DESC, id`,
    [userId, now],
  );
  return rows;
}

/** Marks every live session of the user revoked, except `keepSid`. */
export async function revokeUserSessions(db: Db, userId: string, now: Date, reason: string, keepSid: string | undefined): Promise<void> {
  await db.query(
    `UPDATE sessions SET revoked_at = $2, revoke_reason = $3
      WHERE user_id = $1 AND revoked_at IS NULL AND ($4::uuid IS NULL OR id <> $4::uuid)`,
    [userId, now, reason, keepSid ?? null],
  );
}

/** Locks a session of the user that is not revoked; false if there is none. */
export async function lockUnrevokedSession(db: Db, sid: string, userId: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM sessions WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL FOR UPDATE', [sid, userId]);
  return rowCount !== null && rowCount > 0;
}

/**
 * Everything an access token's liveness depends on, in one statement: its session (live,
 * the same user), the user (current `ver`, not disabled), whether its `jti` was revoked,
 * and whether the key that signed it was revoked (on any instance, at its commit).
 */
export async function findTokenState(
  db: Db,
  sid: string,
  jti: string,
  kid: string,
): Promise<{ revoked_at: Date | null; user_id: string; email: string; token_version: number; disabled_at: Date | null; jti_revoked: boolean; key_revoked: boolean } | undefined> {
  const { rows } = await db.query<{ revoked_at: Date | null; user_id: string; email: string; token_version: number; disabled_at: Date | null; jti_revoked: boolean; key_revoked: boolean }>(
    `SELECT s.revoked_at, s.user_id, u.email, u.token_version, u.disabled_at,
            EXISTS (SELECT 1 FROM revoked_access_tokens r WHERE r.jti = $2) AS jti_revoked,
            EXISTS (SELECT 1 FROM signing_keys k WHERE k.kid = $3 AND k.status = 'revoked') AS key_revoked
       FROM sessions s JOIN users u ON u.id = s.user_id
      WHERE s.id = $1`,
    [sid, jti, kid],
  );
  return rows[0];
}

export async function touchSession(db: Db, sid: string, now: Date, idleExpiresAt: Date): Promise<void> {
  await db.query('UPDATE sessions SET last_used_at = $2, idle_expires_at = $3 WHERE id = $1', [sid, now, idleExpiresAt]);
}

/** Deletes dead sessions (revoked or past their absolute lifetime before `cutoff`); their refresh tokens go with them. */
export async function purgeSessions(db: Db, cutoff: Date): Promise<void> {
  await db.query('DELETE FROM sessions WHERE (revoked_at IS NOT NULL AND revoked_at < $1) OR absolute_expires_at < $1', [cutoff]);
}

export async function insertRefreshToken(db: Db, tokenHash: Buffer, sid: string, generation: number, now: Date): Promise<void> {
  await db.query('INSERT INTO refresh_tokens (token_hash, session_id, generation, created_at) VALUES ($1, $2, $3, $4)', [tokenHash, sid, generation, now]);
}

/** The refresh token by hash, with its session and user, locking the token and the session. */
export async function lockRefreshToken(db: Db, tokenHash: Buffer): Promise<RefreshRow | undefined> {
  const { rows } = await db.query<RefreshRow>(
    `SELECT s.*, rt.generation, rt.rotated_at, rt.rotated_by, u.token_version, u.disabled_at
       FROM refresh_tokens rt
       JOIN sessions s ON s.id = rt.session_id
       JOIN users u ON u.id = s.user_id
      WHERE rt.token_hash = $1
      FOR UPDATE OF rt, s`,
    [tokenHash],
  );
  return rows[0];
}

/** Locks a (successor) refresh token; undefined if it does not exist. */
export async function lockRefreshTokenOnly(db: Db, tokenHash: Buffer): Promise<{ rotated_at: Date | null } | undefined> {
  const { rows } = await db.query<{ rotated_at: Date | null }>('SELECT rotated_at FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE', [tokenHash]);
  return rows[0];
}

/** Marks a refresh token used, recording which client (`rotatedBy`, an HMAC of its IP and user agent) rotated it. */
export async function markRotated(db: Db, tokenHash: Buffer, now: Date, rotatedBy: Buffer): Promise<void> {
  await db.query('UPDATE refresh_tokens SET rotated_at = $2, rotated_by = $3 WHERE token_hash = $1', [tokenHash, now, rotatedBy]);
}

/** The session a refresh token belongs to (id and user). */
export async function findSessionByRefreshToken(db: Db, tokenHash: Buffer): Promise<{ id: string; user_id: string; client_id: string | null } | undefined> {
  const { rows } = await db.query<{ id: string; user_id: string; client_id: string | null }>('SELECT s.id, s.user_id, s.client_id FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id WHERE rt.token_hash = $1', [
    tokenHash,
  ]);
  return rows[0];
}
