// SQL of the `users` table.
import type { Db } from './db.ts';

export interface LoginUserRow {
  id: string;
  password_hash: string;
  disabled_at: Date | null;
}

export interface LockedUserRow {
  email: string;
  token_version: number;
  disabled_at: Date | null;
}

/** Inserts a user; throws SQLSTATE 23505 when the email is taken. */
/** Inserts a user; a duplicate email violates `users_email_key`, a look-alike one `users_email_skeleton_key` (23505). */
export async function insertUser(db: Db, email: string, emailSkeleton: string, passwordHash: string, now: Date): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    'INSERT INTO users (email, email_skeleton, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING id',
    [email, emailSkeleton, passwordHash, now],
  );
  return (rows[0] as { id: string }).id;
}

/** Users created before skeletons were stored, in id order after `afterId`. */
export async function usersWithoutSkeleton(db: Db, afterId: string, limit: number): Promise<Array<{ id: string; email: string }>> {
  const { rows } = await db.query<{ id: string; email: string }>(
    'SELECT id, email FROM users WHERE email_skeleton IS NULL AND id > $1 ORDER BY id LIMIT $2',
    [afterId, limit],
  );
  return rows;
}

export async function setEmailSkeleton(db: Db, userId: string, emailSkeleton: string): Promise<void> {
  await db.query('UPDATE users SET email_skeleton = $2 WHERE id = $1 AND email_skeleton IS NULL', [userId, emailSkeleton]);
}

export async function findUserByEmail(db: Db, email: string): Promise<LoginUserRow | undefined> {
  const { rows } = await db.query<LoginUserRow>('SELECT id, password_hash, disabled_at FROM users WHERE email = $1', [email]);
  return rows[0];
}

export async function findUserCredentials(db: Db, userId: string): Promise<{ email: string; password_hash: string } | undefined> {
  const { rows } = await db.query<{ email: string; password_hash: string }>('SELECT email, password_hash FROM users WHERE id = $1', [userId]);
  return rows[0];
}

/**
 * Locks the user row for the rest of the transaction. Lock order everywhere: user, then
 * sessions (login, logout-all, password change, disable), so these never deadlock.
 */
export async function lockUser(db: Db, userId: string): Promise<LockedUserRow | undefined> {
  const { rows } = await db.query<LockedUserRow>('SELECT email, token_version, disabled_at FROM users WHERE id = $1 FOR UPDATE', [userId]);
  return rows[0];
}

/** Bumps `token_version` (every access token with a lower `ver` is dead); returns the new version, or undefined for an unknown user. */
export async function bumpTokenVersion(db: Db, userId: string, now: Date): Promise<number | undefined> {
  const { rows } = await db.query<{ token_version: number }>('UPDATE users SET token_version = token_version + 1, updated_at = $2 WHERE id = $1 RETURNING token_version', [
    userId,
    now,
  ]);
  return rows[0]?.token_version;
}

export async function setPasswordHash(db: Db, userId: string, passwordHash: string, now: Date): Promise<void> {
  await db.query('UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1', [userId, passwordHash, now]);
}

export async function setDisabledAt(db: Db, userId: string, disabledAt: Date | null, now: Date): Promise<void> {
  await db.query('UPDATE users SET disabled_at = $2, updated_at = $3 WHERE id = $1', [userId, disabledAt, now]);
}

/** What the admin directory shows of an account. */
export interface UserSummaryRow {
  id: string;
  email: string;
  token_version: number;
  disabled_at: Date | null;
  created_at: Date;
}

/** One account by its (normalised) email, for the admin directory. */
export async function findUserSummaryByEmail(db: Db, email: string): Promise<UserSummaryRow | undefined> {
  const { rows } = await db.query<UserSummaryRow>('SELECT id, email, token_version, disabled_at, created_at FROM users WHERE email = $1', [email]);
  return rows[0];
}

/** One account by id, for the admin directory. */
export async function findUserSummary(db: Db, userId: string): Promise<UserSummaryRow | undefined> {
  const { rows } = await db.query<UserSummaryRow>('SELECT id, email, token_version, disabled_at, created_at FROM users WHERE id = $1', [userId]);
  return rows[0];
}
