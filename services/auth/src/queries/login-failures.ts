// SQL of `login_failures`: attempts per account key (an HMAC of the email) in the current
// window. A row counts every attempt claimed in its window; a successful one gives its
// claim back, so what stays counted are the failures (and the attempts still in flight).
import type { Db } from './db.ts';

/**
 * Claims one attempt in a single statement: counts it when the window has room (or
 * starts a new window when the old one ended at or before `windowStart`), and counts
 * nothing when `max` attempts are already counted. Concurrent claims serialise on the
 * row, so at most `max` attempts ever pass per window. Returns the window the claim
 * belongs to, or undefined when the limit is reached.
 */
export async function claimAttempt(db: Db, accountKey: Buffer, now: Date, windowStart: Date, max: number): Promise<{ window_started_at: Date } | undefined> {
  const { rows } = await db.query<{ window_started_at: Date }>(
    `INSERT INTO login_failures AS f (account_key, failures, window_started_at) VALUES ($1, 1, $2)
     ON CONFLICT (account_key) DO UPDATE SET
       failures = CASE WHEN f.window_started_at <= $3 THEN 1 ELSE f.failures + 1 END,
       window_started_at = CASE WHEN f.window_started_at <= $3 THEN $2 ELSE f.window_started_at END
     WHERE f.window_started_at <= $3 OR f.failures < $4
     RETURNING f.window_started_at`,
    [accountKey, now, windowStart, max],
  );
  return rows[0];
}

/** When the window of a refused claim started (for Retry-After). */
export async function findWindowStart(db: Db, accountKey: Buffer): Promise<Date | undefined> {
  const { rows } = await db.query<{ window_started_at: Date }>('SELECT window_started_at FROM login_failures WHERE account_key = $1', [accountKey]);
  return rows[0]?.window_started_at;
}

/** Gives one claim back (a success, or an attempt that never verified a password); only within the claim's own window. */
export async function releaseAttempt(db: Db, accountKey: Buffer, windowStartedAt: Date): Promise<void> {
  await db.query('UPDATE login_failures SET failures = failures - 1 WHERE account_key = $1 AND window_started_at = $2 AND failures > 0', [accountKey, windowStartedAt]);
}

export async function clearFailures(db: Db, accountKey: Buffer): Promise<void> {
  await db.query('DELETE FROM login_failures WHERE account_key = $1', [accountKey]);
}

export async function purgeFailures(db: Db, windowStartedBefore: Date): Promise<void> {
  await db.query('DELETE FROM login_failures WHERE window_started_at < $1', [windowStartedBefore]);
}
