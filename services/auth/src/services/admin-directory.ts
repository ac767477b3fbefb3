import type { Logger } from '@revocable/protocol';
import type { Pool } from '../db.ts';
import { AuthError } from '../errors.ts';
import { listLiveSessions } from '../queries/sessions.ts';
import { findUserSummary, findUserSummaryByEmail, type UserSummaryRow } from '../queries/users.ts';
import { normalizeEmail, UUID } from './email.ts';
import type { Revocations } from './revocations.ts';

/** An account as the admin sees it. */
export interface UserSummary {
  userId: string;
  email: string;
  disabled: boolean;
  disabledAt: Date | null;
  /** Current token version: access tokens with a lower `ver` are dead. */
  minVer: number;
  createdAt: Date;
}

/** A live session as the admin sees it (device = user agent at login). */
export interface AdminSessionInfo {
  sid: string;
  createdAt: Date;
  lastUsedAt: Date;
  idleExpiresAt: Date;
  absoluteExpiresAt: Date;
  userAgent: string | null;
  ip: string | null;
}

/** What {@link AdminDirectory} needs. */
export interface AdminDirectoryOptions {
  pool: Pool;
  revocations: Revocations;
  log?: Pick<Logger, 'info'> | undefined;
  now: () => number;
}

const summary = (row: UserSummaryRow): UserSummary => ({
  userId: row.id,
  email: row.email,
  disabled: row.disabled_at !== null,
  disabledAt: row.disabled_at,
  minVer: row.token_version,
  createdAt: row.created_at,
});

/**
 * The admin's view of accounts and sessions: find an account by email, list its live
 * sessions, revoke one of them (`session.revoked`, reason `admin`, through the same
 * revocation code as logout). Account-wide actions (revoke all, disable, enable) stay with
 * the account service.
 */
export class AdminDirectory {
  readonly #o: AdminDirectoryOptions;

  constructor(options: AdminDirectoryOptions) {
    this.#o = options;
  }

  /** The account of `emailInput` (normalised as at registration), or `ERR_AUTH_NOT_FOUND`. */
  async findByEmail(emailInput: string): Promise<UserSummary> {
    const row = await findUserSummaryByEmail(this.#o.pool, normalizeEmail(emailInput));
    if (row === undefined) throw new AuthError('ERR_AUTH_NOT_FOUND', 'no account with this email');
    return summary(row);
  }

  /** The account and its live sessions, newest first. */
  async userWithSessions(userId: string): Promise<{ user: UserSummary; sessions: AdminSessionInfo[] }> {
    if (!UUID.test(userId)) throw new AuthError('ERR_AUTH_NOT_FOUND', 'no such user');
    const row = await findUserSummary(this.#o.pool, userId);
    if (row === undefined) throw new AuthError('ERR_AUTH_NOT_FOUND', 'no such user');
    const sessions = await listLiveSessions(this.#o.pool, userId, new Date(this.#o.now()));
    return {
      user: summary(row),
      sessions: sessions.map((s) => ({
        sid: s.id,
        createdAt: s.created_at,
        lastUsedAt: s.last_used_at,
        idleExpiresAt: s.idle_expires_at,
        absoluteExpiresAt: s.absolute_expires_at,
        userAgent: s.user_agent,
        ip: s.ip,
      })),
    };
  }

  /** Revokes one live session of the user; `ERR_AUTH_NOT_FOUND` if it is not theirs or already gone. */
  async revokeSession(userId: string, sid: string): Promise<void> {
    if (!UUID.test(userId) || !UUID.test(sid)) throw new AuthError('ERR_AUTH_NOT_FOUND', 'no such session');
    const revoked = await this.#o.revocations.session(this.#o.pool, userId, sid, 'admin', this.#o.now());
    if (!revoked) throw new AuthError('ERR_AUTH_NOT_FOUND', 'no such session');
    this.#o.log?.info({ event: 'session.revoked', sub: userId, sid, by: 'admin' }, 'session revoked by an admin');
  }
}
