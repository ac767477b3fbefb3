import { hmac, subkey } from '../crypto.ts';
import { AuthError } from '../errors.ts';
import type { AuthMetrics } from '../metrics.ts';
import type { Db } from '../queries/db.ts';
import { clearFailures, findFailures, recordFailure } from '../queries/login-failures.ts';

/** Options for {@link LoginThrottle}. */
export interface LoginThrottleOptions {
  db: Db;
  /** KEY_ENCRYPTION_KEY: the account key is an HMAC of the email under a subkey of it. */
  keyEncryptionKey: Buffer;
  /** LOGIN_MAX_FAILURES_PER_ACCOUNT. */
  maxFailures: number;
  /** LOGIN_ACCOUNT_WINDOW_SECONDS. */
  windowSeconds: number;
  metrics?: AuthMetrics | undefined;
  now: () => number;
}

/**
 * Failed logins per account, in PostgreSQL (shared by every instance). The account key is
 * an HMAC of the normalised email, so unknown emails are counted too and no email is stored.
 */
export class LoginThrottle {
  readonly #o: LoginThrottleOptions;
  readonly #accountKey: Buffer;

  constructor(options: LoginThrottleOptions) {
    this.#o = options;
    this.#accountKey = subkey(options.keyEncryptionKey, 'login-account');
  }

  /** The account key of a normalised email. */
  accountKey(email: string): Buffer {
    return hmac(this.#accountKey, email);
  }

  /** Throws ERR_AUTH_RATE_LIMITED (429, Retry-After) past the limit inside the window. */
  async check(accountKey: Buffer): Promise<void> {
    const nowMs = this.#o.now();
    const row = await findFailures(this.#o.db, accountKey);
    if (row === undefined) return;
    const windowEnds = row.window_started_at.getTime() + this.#o.windowSeconds * 1000;
    if (windowEnds > nowMs && row.failures >= this.#o.maxFailures) {
      this.#o.metrics?.logins.inc({ result: 'throttled' });
      throw new AuthError('ERR_AUTH_RATE_LIMITED', 'too many failed logins for this account, retry later', {
        retryAfterSeconds: Math.max(1, Math.ceil((windowEnds - nowMs) / 1000)),
      });
    }
  }

  async recordFailure(accountKey: Buffer): Promise<void> {
    const nowMs = this.#o.now();
    await recordFailure(this.#o.db, accountKey, new Date(nowMs), new Date(nowMs - this.#o.windowSeconds * 1000));
  }

  /** Forgets the account's failures (a successful login, an admin enable). `db`: the caller's transaction, if any. */
  async clear(accountKey: Buffer, db: Db = this.#o.db): Promise<void> {
    await clearFailures(db, accountKey);
  }
}
