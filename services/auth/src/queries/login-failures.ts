// SQL of `login_failures`: failed logins per account key (an HMAC of the email).
import type { Db } from './db.ts';

export async function findFailures(db: Db, accountKey: Buffer): Promise<{ failures: number; window_started_at: Date } | undefined> {
  const { rows } = await db.query<{ failures: number; window_started_at: Date }>('SELECT failures, window_started_at FROM login_failures WHERE account_key = $1', [accountKey]);
  return rows[0];
}

/** Counts one failure; a window that started at or before `windowStart` begins anew. */
export async function recordFailure(db: Db, accountKey: Buffer, now: Date, windowStart: Date): Promise<void> {
  await db.query(
    `INSERT INTO login_failures (account_key, failures, window_started_at) VALUES ($1, 1, $2)
     ON CONFLICT (account_key) DO UPDATE SET
       failures = CASE WHEN login_failures.window_started_at <= $3 THEN 1 ELSE login_failures.failures + 1 END,
       window_started_at = CASE WHEN login_failures.window_started_at <= $3 THEN $2 ELSE login_failures.window_started_at END`,
    [accountKey, now, windowStart],
  );
}

export async function clearFailures(db: Db, accountKey: Buffer): Promise<void> {
  await db.query('DELETE FROM login_failures WHERE account_key = $1', [accountKey]);
}

export async function purgeFailures(db: Db, windowStartedBefore: Date): Promise<void> {
  await db.query('DELETE FROM login_failures WHERE window_started_at < $1', [windowStartedBefore]);
}
