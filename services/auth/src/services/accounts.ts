import type { AccessTokenClaims } from '@revocable/tokens';
import { withTransaction, type Pool } from '../db.ts';
import { AuthError } from '../errors.ts';
import type { PasswordHasher } from '../password.ts';
import { lockUnrevokedSession } from '../queries/sessions.ts';
import { findUserCredentials, insertUser, lockUser, setDisabledAt, setEmailSkeleton, setPasswordHash, usersWithoutSkeleton } from '../queries/users.ts';
import type { AccessTokenResponse, AccessTokenService } from './access-tokens.ts';
import { emailSkeleton, normalizeEmail, UUID } from './email.ts';
import { checkPassword } from './password-policy.ts';
import type { LoginThrottle } from './login-throttle.ts';
import type { Revocations } from './revocations.ts';
import type { ServiceContext } from './context.ts';

/** An account's state after an admin disable/enable. */
export interface AccountStatus {
  userId: string;
  disabled: boolean;
  /** When it was disabled; null while enabled. */
  disabledAt: Date | null;
  /** The user's current token version: every access token with a lower `ver` is dead. */
  minVer: number;
}

/** What {@link AccountService} needs (and nothing more of the configuration). */
export interface AccountServiceOptions extends ServiceContext {
  pool: Pool;
  tokens: AccessTokenService;
  revocations: Revocations;
  throttle: LoginThrottle;
  hasher: PasswordHasher;
  /** Hashes registrations (the registration lane of the hashing queue); default `hasher`. */
  registrationHasher?: PasswordHasher | undefined;
  /** PASSWORD_MIN_LENGTH (characters, NFKC). */
  passwordMinLength: number;
}

/** Accounts: registration, password change, admin revoke-all, disable and enable. */
export class AccountService {
  readonly #o: AccountServiceOptions;

  constructor(options: AccountServiceOptions) {
    this.#o = options;
  }

  /**
   * Registers an account. The email is normalised (NFKC, case, trailing dot) and refused
   * when it or its confusable skeleton (Unicode TS #39) belongs to an existing account
   * (`ERR_AUTH_EMAIL_TAKEN`, `ERR_AUTH_EMAIL_CONFUSABLE`, both 409); the password must pass
   * the policy ({@link checkPassword}, `ERR_AUTH_WEAK_PASSWORD`).
   */
  async register(emailInput: string, password: string): Promise<{ id: string; email: string }> {
    const email = normalizeEmail(emailInput);
    checkPassword(password, email, this.#o.passwordMinLength);
    const skeleton = emailSkeleton(email);
    const hash = await (this.#o.registrationHasher ?? this.#o.hasher).hash(password);
    try {
      return { id: await insertUser(this.#o.pool, email, skeleton, hash, new Date(this.#o.now())), email };
    } catch (error) {
      const e = error as { code?: string; constraint?: string };
      if (e.code === '23505' && e.constraint === 'users_email_skeleton_key') {
        throw new AuthError('ERR_AUTH_EMAIL_CONFUSABLE', 'an account with an email that looks the same already exists');
      }
      if (e.code === '23505') throw new AuthError('ERR_AUTH_EMAIL_TAKEN', 'an account with this email already exists');
      throw error;
    }
  }

  /**
   * Stores the skeleton of accounts created before skeletons were (run at start, after the
   * migrations). An account whose skeleton collides with another existing one keeps none
   * (both stay usable; new look-alikes of either are still refused) and is counted in the
   * result. Idempotent, and safe with several instances starting at once.
   */
  async backfillEmailSkeletons(): Promise<{ filled: number; collisions: number }> {
    let filled = 0;
    let collisions = 0;
    let after = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      const rows = await usersWithoutSkeleton(this.#o.pool, after, 500);
      if (rows.length === 0) break;
      for (const row of rows) {
        after = row.id;
        try {
          await setEmailSkeleton(this.#o.pool, row.id, emailSkeleton(row.email));
          filled++;
        } catch (error) {
          if ((error as { code?: string }).code !== '23505') throw error;
          collisions++;
        }
      }
    }
    if (collisions > 0) this.#o.log?.warn({ event: 'users.skeleton_collisions', collisions }, 'existing accounts with look-alike emails keep no skeleton');
    return { filled, collisions };
  }

  /**
   * Changes the password: verifies the current one, bumps `ver` (denying every access token
   * issued so far), revokes the other sessions, and returns a fresh access token for the
   * caller's session, which stays logged in.
   */
  async changePassword(claims: AccessTokenClaims, currentPassword: string, newPassword: string): Promise<AccessTokenResponse> {
    const { pool, hasher, throttle, tokens } = this.#o;
    const user = await findUserCredentials(pool, claims.sub);
    if (user === undefined) throw new AuthError('ERR_AUTH_INVALID_TOKEN', 'access token rejected: revoked');
    checkPassword(newPassword, user.email, this.#o.passwordMinLength);
    // Counted before the password is checked, as in login (the same per-account limit).
    const claim = await throttle.claim(throttle.accountKey(user.email));
    let ok: boolean;
    try {
      ok = await hasher.verify(currentPassword, user.password_hash);
    } catch (error) {
      await throttle.release(claim).catch(() => {});
      throw error;
    }
    if (!ok) throw new AuthError('ERR_AUTH_INVALID_CREDENTIALS', 'current password is wrong');
    await throttle.release(claim);
    const hash = await hasher.hash(newPassword);
    const aud = tokens.allowedAudiences(claims.aud);
    return withTransaction(pool, async (client) => {
      const nowMs = this.#o.now();
      // Lock order user → sessions, as in login and logout-all (no deadlocks between them).
      const locked = await lockUser(client, claims.sub);
      // Disabled between authenticate() and here: refuse like any revoked token.
      if (locked === undefined || locked.disabled_at !== null) throw new AuthError('ERR_AUTH_INVALID_TOKEN', 'access token rejected: revoked');
      if (!(await lockUnrevokedSession(client, claims.sid, claims.sub))) throw new AuthError('ERR_AUTH_INVALID_TOKEN', 'access token rejected: revoked');
      await setPasswordHash(client, claims.sub, hash, new Date(nowMs));
      const ver = (await this.#o.revocations.user(client, claims.sub, 'password_changed', nowMs, 'password_changed', claims.sid)) as number;
      // The same grant as the caller's token: audiences, scopes and client carry over.
      return tokens.issue(client, { sub: claims.sub, sid: claims.sid, ver, aud, scope: claims.scope ?? '', clientId: claims.client_id });
    });
  }

  /** Admin: revokes every session and token of a user (`user.revoked`, reason admin). */
  async adminRevokeUser(userId: string): Promise<{ minVer: number }> {
    if (!UUID.test(userId)) throw new AuthError('ERR_AUTH_NOT_FOUND', 'no such user');
    const minVer = await withTransaction(this.#o.pool, (client) => this.#o.revocations.user(client, userId, 'admin', this.#o.now(), 'admin'));
    if (minVer === null) throw new AuthError('ERR_AUTH_NOT_FOUND', 'no such user');
    return { minVer };
  }

  /**
   * Admin: disables an account. In one transaction: sets `disabled_at`, bumps `ver`, revokes
   * every session and writes `user.revoked {minVer, reason: account_disabled}`. From then on
   * login answers exactly like a wrong password, refresh answers `session_revoked` and
   * introspection answers inactive. Idempotent: an already disabled account is answered
   * as it stands (its original `disabledAt`), with no second event.
   * Throws `ERR_AUTH_INVALID_REQUEST` for an id that is not a UUID, `ERR_AUTH_NOT_FOUND` for an unknown user.
   */
  async disableUser(userId: string): Promise<AccountStatus> {
    if (!UUID.test(userId)) throw new AuthError('ERR_AUTH_INVALID_REQUEST', 'user id must be a UUID');
    const status = await withTransaction(this.#o.pool, async (client): Promise<AccountStatus | null> => {
      const nowMs = this.#o.now();
      // Lock order user → sessions, as in login, logout-all and password change.
      const row = await lockUser(client, userId);
      if (row === undefined) return null;
      if (row.disabled_at !== null) return { userId, disabled: true, disabledAt: row.disabled_at, minVer: row.token_version };
      const disabledAt = new Date(nowMs);
      await setDisabledAt(client, userId, disabledAt, disabledAt);
      const minVer = (await this.#o.revocations.user(client, userId, 'account_disabled', nowMs, 'admin')) as number;
      this.#o.log?.info({ event: 'user.disabled', sub: userId, minVer }, 'account disabled');
      return { userId, disabled: true, disabledAt, minVer };
    });
    if (status === null) throw new AuthError('ERR_AUTH_NOT_FOUND', 'no such user');
    return status;
  }

  /**
   * Admin: enables a disabled account again. Tokens issued before the disable stay dead
   * (their `ver` is below `minVer`, their sessions stay revoked); the user logs in anew.
   * Also forgets the account's failed logins (attempts refused while it was disabled).
   * No event: nothing becomes revoked. Idempotent.
   * Throws `ERR_AUTH_INVALID_REQUEST` for an id that is not a UUID, `ERR_AUTH_NOT_FOUND` for an unknown user.
   */
  async enableUser(userId: string): Promise<AccountStatus> {
    if (!UUID.test(userId)) throw new AuthError('ERR_AUTH_INVALID_REQUEST', 'user id must be a UUID');
    const status = await withTransaction(this.#o.pool, async (client): Promise<AccountStatus | null> => {
      const row = await lockUser(client, userId);
      if (row === undefined) return null;
      if (row.disabled_at !== null) {
        await setDisabledAt(client, userId, null, new Date(this.#o.now()));
        await this.#o.throttle.clear(this.#o.throttle.accountKey(row.email), client);
        this.#o.log?.info({ event: 'user.enabled', sub: userId }, 'account enabled');
      }
      return { userId, disabled: false, disabledAt: null, minVer: row.token_version };
    });
    if (status === null) throw new AuthError('ERR_AUTH_NOT_FOUND', 'no such user');
    return status;
  }
}
