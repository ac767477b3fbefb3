import { hmac, subkey } from '../crypto.ts';
import { AuthError } from '../errors.ts';
import type { AuthMetrics } from '../metrics.ts';
import type { Db } from '../queries/db.ts';
import { claimAttempt, clearFailures, findWindowStart, releaseAttempt } from '../queries/login-failures.ts';

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

/** One claimed attempt: give it back with {@link LoginThrottle.release} when it succeeded. */
export interface AttemptClaim {
  accountKey: Buffer;
  windowStartedAt: Date;
}

/**
 * Password attempts per account, in PostgreSQL (shared by every instance). The account
 * key is an HMAC of the normalised email, so unknown emails are counted too and no email
 * is stored.
 *
 * An attempt is claimed (counted) before its password is verified, in one statement, so
 * the limit holds under concurrency: of 40 parallel guesses against a limit of 10, 10
 * verify a password and 30 get 429 without one. A successful attempt gives only its own
 * claim back; failures counted meanwhile by other attempts stay counted.
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

  /**
   * Counts one attempt before its password is checked. Throws ERR_AUTH_RATE_LIMITED (429,
   * Retry-After until the window ends) when LOGIN_MAX_FAILURES_PER_ACCOUNT attempts are
   * already counted in the window.
   */
  async claim(accountKey: Buffer): Promise<AttemptClaim> {
    const nowMs = this.#o.now();
    const windowMs = this.#o.windowSeconds * 1000;
    const claimed = await claimAttempt(this.#o.db, accountKey, new Date(nowMs), new Date(nowMs - windowMs), this.#o.maxFailures);
    if (claimed !== undefined) return { accountKey, windowStartedAt: claimed.window_started_at };
    this.#o.metrics?.logins.inc({ result: 'throttled' });
    const started = await findWindowStart(this.#o.db, accountKey);
    const windowEnds = (started?.getTime() ?? nowMs) + windowMs;
    throw new AuthError('ERR_AUTH_RATE_LIMITED', 'too many failed attempts for this account, retry later', {
      retryAfterSeconds: Math.max(1, Math.ceil((windowEnds - nowMs) / 1000)),
    });
  }

  /** Gives a claim back: the attempt succeeded, or never got to verify a password. `db`: the caller's transaction, if any. */
  async release(claim: AttemptClaim, db: Db = this.#o.db): Promise<void> {
    await releaseAttempt(db, claim.accountKey, claim.windowStartedAt);
  }

  /** Forgets every counted attempt of the account (an admin enable). `db`: the caller's transaction, if any. */
  async clear(accountKey: Buffer, db: Db = this.#o.db): Promise<void> {
    await clearFailures(db, accountKey);
  }
}
