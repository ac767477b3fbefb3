import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, decodeJwt, type JWTVerifyGetKey } from 'jose';
import type { SessionRevokeReason, UserRevokeReason } from '@revocable/events';
import { signAccessToken, verifyAccessToken, TokenVerificationError, type AccessTokenClaims } from '@revocable/tokens';
import type { AuthConfig } from './config.ts';
import { hmac, looksLikeRefreshToken, newRefreshToken, sha256, subkey, successorRefreshToken } from './crypto.ts';
import { query, withTransaction, type Pool, type PoolClient } from './db.ts';
import { AuthError, type RefreshRefusalReason } from './errors.ts';
import type { KeyStore, RotationResult } from './keys.ts';
import type { AuthMetrics } from './metrics.ts';
import { enqueueEvent } from './outbox.ts';
import type { PasswordHasher } from './password.ts';

/** RFC 6749 token response (plus `sid` and the refresh token's absolute expiry, for cookies). */
export interface TokenPair {
  access_token: string;
  token_type: 'Bearer';
  /** Seconds. */
  expires_in: number;
  refresh_token: string;
  scope?: string;
}

export interface IssuedTokens {
  body: TokenPair;
  sid: string;
  /** Epoch ms after which the refresh token is dead regardless of use. */
  refreshExpiresAt: number;
}

export interface SessionInfo {
  sid: string;
  created_at: string;
  last_used_at: string;
  idle_expires_at: string;
  absolute_expires_at: string;
  user_agent: string | null;
  ip: string | null;
  current: boolean;
}

export interface ClientMeta {
  userAgent?: string | undefined;
  ip?: string | undefined;
}

/** An account's state after an admin disable/enable. */
export interface AccountStatus {
  userId: string;
  disabled: boolean;
  /** When it was disabled; null while enabled. */
  disabledAt: Date | null;
  /** The user's current token version: every access token with a lower `ver` is dead. */
  minVer: number;
}

/** RFC 7662 introspection answer. */
export type IntrospectionResponse =
  | { active: false }
  | ({ active: true; token_type: 'access_token'; client_id?: string } & Omit<AccessTokenClaims, 'roles'> & { roles?: string[] });

/** pino-compatible logger subset for security-relevant events (never tokens or passwords). */
export interface AuthLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface AuthServiceOptions {
  /** Where security events go (reuse detected, evictions, key changes). Default: nowhere. */
  log?: AuthLogger;
  pool: Pool;
  config: AuthConfig;
  keys: KeyStore;
  hasher: PasswordHasher;
  metrics?: AuthMetrics;
  now: () => number;
}

// One fixed description per refusal reason: nothing about who ended the session, when, or why beyond it.
const REFRESH_REFUSALS: Record<RefreshRefusalReason, string> = {
  reuse_detected: 'refresh token was already used; the session has been revoked',
  session_revoked: 'the session has been revoked',
  session_expired: 'the session has expired',
  unknown_token: 'refresh token is invalid',
};

/** The `invalid_grant` error of a refused refresh, with its machine-readable `reason`. */
function refusedRefresh(reason: RefreshRefusalReason): AuthError {
  return new AuthError('ERR_AUTH_INVALID_GRANT', REFRESH_REFUSALS[reason], { reason });
}

const SESSION_TIMEOUT_REASONS: ReadonlySet<string> = new Set<SessionRevokeReason>(['idle_timeout', 'absolute_timeout']);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EMAIL_MAX = 254;
const PASSWORD_MAX = 1024;

interface UserRow {
  id: string;
  email: string;
  password_hash: string;
  token_version: number;
  disabled_at: Date | null;
}

interface SessionRow {
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
}

/**
 * Normalises an email for storage and lookup: NFC, trimmed, lower-cased. Rejects control
 * and format characters, whitespace, lone surrogates and anything without exactly one `@`
 * between non-empty parts. Internationalised addresses are accepted.
 */
export function normalizeEmail(input: string): string {
  const email = input.normalize('NFC').trim().toLowerCase();
  if (email.length < 3 || email.length > EMAIL_MAX || !email.isWellFormed()) {
    throw new AuthError('ERR_AUTH_INVALID_EMAIL', 'email must be a valid address of at most 254 characters');
  }
  if (!/^[^\s@\p{C}]{1,64}@[^\s@\p{C}]+\.[^\s@\p{C}]+$/u.test(email) || email.includes('..')) {
    throw new AuthError('ERR_AUTH_INVALID_EMAIL', 'email must be a valid address of at most 254 characters');
  }
  return email;
}

/**
 * The issuer: users, sessions (refresh-token families), access tokens, revocations. Every
 * method that revokes something writes its event to the outbox in the same transaction.
 */
export class AuthService {
  readonly #o: AuthServiceOptions;
  readonly #successorKey: Buffer;
  readonly #accountKey: Buffer;

  constructor(options: AuthServiceOptions) {
    this.#o = options;
    this.#successorKey = subkey(options.config.keyEncryptionKey, 'refresh-successor');
    this.#accountKey = subkey(options.config.keyEncryptionKey, 'login-account');
  }

  get #c(): AuthConfig {
    return this.#o.config;
  }

  #now(): number {
    return this.#o.now();
  }

  /** Epoch seconds until which a session/user revocation must be remembered. */
  #revocationUntil(nowMs: number): number {
    return Math.ceil(nowMs / 1000) + this.#c.accessTtlSeconds + this.#c.clockSkewSeconds;
  }

  // ---------------------------------------------------------------- users

  async register(emailInput: string, password: string): Promise<{ id: string; email: string }> {
    const email = normalizeEmail(emailInput);
    this.#checkPassword(password);
    const hash = await this.#o.hasher.hash(password);
    const now = new Date(this.#now());
    try {
      const { rows } = await query<{ id: string }>(
        this.#o.pool,
        'INSERT INTO users (email, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $3) RETURNING id',
        [email, hash, now],
      );
      return { id: (rows[0] as { id: string }).id, email };
    } catch (error) {
      if ((error as { code?: string }).code === '23505') throw new AuthError('ERR_AUTH_EMAIL_TAKEN', 'an account with this email already exists');
      throw error;
    }
  }

  #checkPassword(password: string): void {
    const length = [...password.normalize('NFKC')].length;
    if (length < this.#c.passwordMinLength || password.length > PASSWORD_MAX) {
      throw new AuthError('ERR_AUTH_WEAK_PASSWORD', `password must be ${this.#c.passwordMinLength} to ${PASSWORD_MAX} characters`);
    }
  }

  /**
   * Email + password login. Unknown emails cost one scrypt verification, like wrong
   * passwords. Failed attempts are counted per account (an HMAC of the email, so unknown
   * emails count too) and refused with 429 past LOGIN_MAX_FAILURES_PER_ACCOUNT.
   */
  async login(emailInput: string, password: string, audience: string | string[] | undefined, meta: ClientMeta): Promise<IssuedTokens> {
    const aud = this.#audience(audience);
    let email: string;
    try {
      email = normalizeEmail(emailInput);
    } catch {
      await this.#o.hasher.verifyDummy(password);
      this.#o.metrics?.logins.inc({ result: 'invalid_credentials' });
      throw new AuthError('ERR_AUTH_INVALID_CREDENTIALS', 'invalid email or password');
    }
    if (password.length > PASSWORD_MAX) throw new AuthError('ERR_AUTH_INVALID_REQUEST', `password must be at most ${PASSWORD_MAX} characters`);
    const accountKey = hmac(this.#accountKey, email);
    await this.#checkAccountThrottle(accountKey);

    const { rows } = await query<UserRow>(this.#o.pool, 'SELECT id, password_hash, disabled_at FROM users WHERE email = $1', [email]);
    const user = rows[0];
    const ok = user === undefined ? await this.#o.hasher.verifyDummy(password) : await this.#o.hasher.verify(password, user.password_hash);
    if (!ok || user === undefined || user.disabled_at !== null) {
      await this.#recordFailure(accountKey);
      this.#o.metrics?.logins.inc({ result: 'invalid_credentials' });
      throw new AuthError('ERR_AUTH_INVALID_CREDENTIALS', 'invalid email or password');
    }
    await query(this.#o.pool, 'DELETE FROM login_failures WHERE account_key = $1', [accountKey]);

    const issued = await withTransaction(this.#o.pool, async (client) => {
      const nowMs = this.#now();
      // Serialises this user's logins so the session cap holds under concurrency.
      const locked = await client.query<UserRow>('SELECT id, token_version, disabled_at FROM users WHERE id = $1 FOR UPDATE', [user.id]);
      const current = locked.rows[0];
      if (current === undefined || current.disabled_at !== null) throw new AuthError('ERR_AUTH_INVALID_CREDENTIALS', 'invalid email or password');
      await this.#enforceSessionCap(client, user.id, nowMs);
      const sid = randomUUID();
      const now = new Date(nowMs);
      const absoluteExpiresAt = nowMs + this.#c.sessionAbsoluteTtlSeconds * 1000;
      await client.query(
        `INSERT INTO sessions (id, user_id, created_at, last_used_at, idle_expires_at, absolute_expires_at, user_agent, ip)
         VALUES ($1, $2, $3, $3, $4, $5, $6, $7)`,
        [sid, user.id, now, new Date(Math.min(nowMs + this.#c.sessionIdleTtlSeconds * 1000, absoluteExpiresAt)), new Date(absoluteExpiresAt), truncate(meta.userAgent, 512), truncate(meta.ip, 64)],
      );
      const refreshToken = newRefreshToken();
      await client.query('INSERT INTO refresh_tokens (token_hash, session_id, generation, created_at) VALUES ($1, $2, 1, $3)', [sha256(refreshToken), sid, now]);
      const access = await this.#sign(client, { sub: user.id, sid, ver: current.token_version, aud });
      return { body: { ...access, refresh_token: refreshToken }, sid, refreshExpiresAt: absoluteExpiresAt };
    });
    this.#o.metrics?.logins.inc({ result: 'success' });
    return issued;
  }

  async #checkAccountThrottle(accountKey: Buffer): Promise<void> {
    const nowMs = this.#now();
    const { rows } = await query<{ failures: number; window_started_at: Date }>(
      this.#o.pool,
      'SELECT failures, window_started_at FROM login_failures WHERE account_key = $1',
      [accountKey],
    );
    const row = rows[0];
    if (row === undefined) return;
    const windowEnds = row.window_started_at.getTime() + this.#c.loginAccountWindowSeconds * 1000;
    if (windowEnds > nowMs && row.failures >= this.#c.loginMaxFailuresPerAccount) {
      this.#o.metrics?.logins.inc({ result: 'throttled' });
      throw new AuthError('ERR_AUTH_RATE_LIMITED', 'too many failed logins for this account, retry later', {
        retryAfterSeconds: Math.max(1, Math.ceil((windowEnds - nowMs) / 1000)),
      });
    }
  }

  async #recordFailure(accountKey: Buffer): Promise<void> {
    const nowMs = this.#now();
    const windowStart = new Date(nowMs - this.#c.loginAccountWindowSeconds * 1000);
    await query(
      this.#o.pool,
      `INSERT INTO login_failures (account_key, failures, window_started_at) VALUES ($1, 1, $2)
       ON CONFLICT (account_key) DO UPDATE SET
         failures = CASE WHEN login_failures.window_started_at <= $3 THEN 1 ELSE login_failures.failures + 1 END,
         window_started_at = CASE WHEN login_failures.window_started_at <= $3 THEN $2 ELSE login_failures.window_started_at END`,
      [accountKey, new Date(nowMs), windowStart],
    );
  }

  #audience(requested: string | string[] | undefined): string | string[] {
    if (requested === undefined || (Array.isArray(requested) && requested.length === 0)) return this.#c.audiences[0] as string;
    const list = [...new Set(Array.isArray(requested) ? requested : [requested])];
    for (const aud of list) {
      if (!this.#c.audiences.includes(aud)) {
        throw new AuthError('ERR_AUTH_INVALID_TARGET', `unknown audience/resource; allowed: ${this.#c.audiences.join(', ')}`);
      }
    }
    return list.length === 1 ? (list[0] as string) : list;
  }

  async #sign(client: PoolClient, input: { sub: string; sid: string; ver: number; aud: string | string[] }): Promise<Omit<TokenPair, 'refresh_token'>> {
    const key = await this.#o.keys.activeSigner(client);
    const { token } = await signAccessToken({ ...input, jti: randomUUID() }, key, {
      issuer: this.#c.issuer,
      accessTtlSeconds: this.#c.accessTtlSeconds,
      now: this.#o.now,
    });
    return { access_token: token, token_type: 'Bearer', expires_in: this.#c.accessTtlSeconds };
  }

  /** Evicts the oldest active sessions so that one more fits under the cap (with events). */
  async #enforceSessionCap(client: PoolClient, userId: string, nowMs: number): Promise<void> {
    const now = new Date(nowMs);
    const { rows } = await client.query<{ id: string }>(
      `SELECT id FROM sessions
        WHERE user_id = $1 AND revoked_at IS NULL AND idle_expires_at > $2 AND absolute_expires_at > $2
        ORDER BY created_at DESC, id`,
      [userId, now],
    );
    const excess = rows.slice(this.#c.maxSessionsPerUser - 1);
    for (const row of excess) await this.#revokeSession(client, userId, row.id, 'session_cap', nowMs);
  }

  /** Marks one session revoked and writes `session.revoked`. No-op if it already was. */
  async #revokeSession(client: PoolClient, userId: string, sid: string, reason: SessionRevokeReason, nowMs: number): Promise<boolean> {
    const { rowCount } = await client.query(
      'UPDATE sessions SET revoked_at = $3, revoke_reason = $4 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL',
      [sid, userId, new Date(nowMs), reason],
    );
    if (rowCount === 0) return false;
    const level = reason === 'reuse_detected' ? 'warn' : 'info';
    this.#o.log?.[level]({ event: 'session.revoked', sub: userId, sid, reason }, reason === 'reuse_detected' ? 'refresh token reuse detected: session revoked' : 'session revoked');
    await enqueueEvent(client, {
      v: 1,
      id: randomUUID(),
      at: nowMs,
      type: 'session.revoked',
      sub: userId,
      sid,
      reason,
      until: this.#revocationUntil(nowMs),
    });
    this.#o.metrics?.revocations.inc({ type: 'session.revoked', reason });
    return true;
  }

  /** Bumps `ver`, revokes every session, writes one `user.revoked {minVer}`. Returns the new version. */
  async #revokeUser(client: PoolClient, userId: string, reason: UserRevokeReason, nowMs: number, sessionReason: SessionRevokeReason, keepSid?: string): Promise<number | null> {
    const { rows } = await client.query<{ token_version: number }>(
      'UPDATE users SET token_version = token_version + 1, updated_at = $2 WHERE id = $1 RETURNING token_version',
      [userId, new Date(nowMs)],
    );
    const row = rows[0];
    if (row === undefined) return null;
    await client.query(
      `UPDATE sessions SET revoked_at = $2, revoke_reason = $3
        WHERE user_id = $1 AND revoked_at IS NULL AND ($4::uuid IS NULL OR id <> $4::uuid)`,
      [userId, new Date(nowMs), sessionReason, keepSid ?? null],
    );
    this.#o.log?.info({ event: 'user.revoked', sub: userId, minVer: row.token_version, reason }, 'all tokens of the user revoked');
    await enqueueEvent(client, {
      v: 1,
      id: randomUUID(),
      at: nowMs,
      type: 'user.revoked',
      sub: userId,
      minVer: row.token_version,
      reason,
      until: this.#revocationUntil(nowMs),
    });
    this.#o.metrics?.revocations.inc({ type: 'user.revoked', reason });
    return row.token_version;
  }

  // ---------------------------------------------------------------- refresh

  /**
   * RFC 6749 §6 refresh with rotation. A rotated token presented again is reuse: the whole
   * session is revoked (`reuse_detected`), unless it comes within the grace window and its
   * successor is still unused, in which case the duplicate gets that same successor.
   * A refusal is `ERR_AUTH_INVALID_GRANT` with a {@link RefreshRefusalReason}.
   */
  async refresh(refreshToken: string, resource: string | string[] | undefined): Promise<IssuedTokens> {
    const aud = this.#audience(resource);
    if (!looksLikeRefreshToken(refreshToken)) {
      this.#o.metrics?.refreshes.inc({ result: 'invalid' });
      throw refusedRefresh('unknown_token');
    }
    // Revocations done on the way (reuse, expiry) must commit even though the grant fails.
    let failure: AuthError | undefined;
    const issued = await withTransaction(this.#o.pool, async (client): Promise<IssuedTokens | undefined> => {
      const nowMs = this.#now();
      const found = await client.query<SessionRow & { generation: number; rotated_at: Date | null; token_version: number; disabled_at: Date | null }>(
        `SELECT s.*, rt.generation, rt.rotated_at, u.token_version, u.disabled_at
           FROM refresh_tokens rt
           JOIN sessions s ON s.id = rt.session_id
           JOIN users u ON u.id = s.user_id
          WHERE rt.token_hash = $1
          FOR UPDATE OF rt, s`,
        [sha256(refreshToken)],
      );
      const row = found.rows[0];
      if (row === undefined) {
        this.#o.metrics?.refreshes.inc({ result: 'invalid' });
        failure = refusedRefresh('unknown_token');
        return undefined;
      }
      if (row.revoked_at !== null || row.disabled_at !== null) {
        this.#o.metrics?.refreshes.inc({ result: 'invalid' });
        // A session already ended by its lifetime stays "expired" when its token comes back.
        const expired = row.disabled_at === null && row.revoke_reason !== null && SESSION_TIMEOUT_REASONS.has(row.revoke_reason);
        failure = refusedRefresh(expired ? 'session_expired' : 'session_revoked');
        return undefined;
      }
      if (row.rotated_at !== null) {
        const successor = successorRefreshToken(this.#successorKey, refreshToken);
        const next = await client.query<{ rotated_at: Date | null }>('SELECT rotated_at FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE', [sha256(successor)]);
        const inGrace = nowMs - row.rotated_at.getTime() <= this.#c.refreshReuseGraceSeconds * 1000;
        if (inGrace && next.rows[0] !== undefined && next.rows[0].rotated_at === null) {
          const access = await this.#sign(client, { sub: row.user_id, sid: row.id, ver: row.token_version, aud });
          this.#o.metrics?.refreshes.inc({ result: 'grace_duplicate' });
          return { body: { ...access, refresh_token: successor }, sid: row.id, refreshExpiresAt: row.absolute_expires_at.getTime() };
        }
        await this.#revokeSession(client, row.user_id, row.id, 'reuse_detected', nowMs);
        this.#o.metrics?.refreshes.inc({ result: 'reuse_detected' });
        failure = refusedRefresh('reuse_detected');
        return undefined;
      }
      if (row.absolute_expires_at.getTime() <= nowMs || row.idle_expires_at.getTime() <= nowMs) {
        const reason = row.absolute_expires_at.getTime() <= nowMs ? 'absolute_timeout' : 'idle_timeout';
        await this.#revokeSession(client, row.user_id, row.id, reason, nowMs);
        this.#o.metrics?.refreshes.inc({ result: 'expired' });
        failure = refusedRefresh('session_expired');
        return undefined;
      }
      const now = new Date(nowMs);
      const successor = successorRefreshToken(this.#successorKey, refreshToken);
      await client.query('UPDATE refresh_tokens SET rotated_at = $2 WHERE token_hash = $1', [sha256(refreshToken), now]);
      await client.query('INSERT INTO refresh_tokens (token_hash, session_id, generation, created_at) VALUES ($1, $2, $3, $4)', [
        sha256(successor),
        row.id,
        row.generation + 1,
        now,
      ]);
      const absolute = row.absolute_expires_at.getTime();
      await client.query('UPDATE sessions SET last_used_at = $2, idle_expires_at = $3 WHERE id = $1', [
        row.id,
        now,
        new Date(Math.min(nowMs + this.#c.sessionIdleTtlSeconds * 1000, absolute)),
      ]);
      const access = await this.#sign(client, { sub: row.user_id, sid: row.id, ver: row.token_version, aud });
      this.#o.metrics?.refreshes.inc({ result: 'success' });
      return { body: { ...access, refresh_token: successor }, sid: row.id, refreshExpiresAt: absolute };
    });
    if (issued === undefined) throw failure ?? refusedRefresh('unknown_token');
    return issued;
  }

  // ---------------------------------------------------------------- access tokens

  async #getKey(): Promise<JWTVerifyGetKey> {
    return createLocalJWKSet({ keys: await this.#o.keys.publicKeys() });
  }

  /** Verifies an access token issued here, for any audience of the allow-list. Throws TokenVerificationError. */
  async verify(token: string, options: { audience?: string; now?: number } = {}): Promise<AccessTokenClaims> {
    let audience = options.audience;
    if (audience === undefined) {
      let claims: ReturnType<typeof decodeJwt>;
      try {
        claims = decodeJwt(token);
      } catch (error) {
        throw new TokenVerificationError('malformed', 'token is malformed', { cause: error });
      }
      const auds = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
      audience = this.#c.audiences.find((a) => auds.includes(a));
      if (audience === undefined) throw new TokenVerificationError('wrong_audience', 'token is not meant for this issuer\'s services');
    }
    const getKey = await this.#getKey();
    const nowMs = options.now ?? this.#now();
    const { claims } = await verifyAccessToken(token, getKey, {
      issuer: this.#c.issuer,
      audience,
      clockToleranceSeconds: 5,
      maxLifetimeSeconds: Math.max(this.#c.accessTtlSeconds, 60),
      now: () => nowMs,
    });
    return claims;
  }

  /**
   * Authenticates a request to this service's own account endpoints: a valid access token
   * whose session is live, whose `ver` is current and whose `jti` was not revoked. (This
   * service has the database, so it checks it directly instead of a denylist.)
   */
  async authenticate(token: string, options: { allowExpired?: boolean } = {}): Promise<AccessTokenClaims> {
    let claims: AccessTokenClaims;
    try {
      claims = await this.verify(token);
    } catch (error) {
      if (error instanceof TokenVerificationError && error.reason === 'expired' && options.allowExpired === true) {
        // Logging out only takes privileges away: an expired but genuine token may do it.
        // Everything else (signature, key still published, iss, aud, claims) is still checked.
        claims = await this.#verifyAtExpiry(token);
      } else if (error instanceof TokenVerificationError) {
        throw new AuthError('ERR_AUTH_INVALID_TOKEN', `access token rejected: ${error.reason}`, { cause: error });
      } else {
        throw error;
      }
    }
    if (!(await this.#isLive(claims))) throw new AuthError('ERR_AUTH_INVALID_TOKEN', 'access token rejected: revoked');
    return claims;
  }

  async #verifyAtExpiry(token: string): Promise<AccessTokenClaims> {
    try {
      const exp = decodeJwt(token).exp;
      if (typeof exp !== 'number') throw new TokenVerificationError('invalid_claims', 'exp missing');
      return await this.verify(token, { now: (exp - 1) * 1000 });
    } catch (error) {
      if (error instanceof TokenVerificationError) throw new AuthError('ERR_AUTH_INVALID_TOKEN', `access token rejected: ${error.reason}`, { cause: error });
      throw error;
    }
  }

  async #isLive(claims: AccessTokenClaims): Promise<boolean> {
    if (!UUID.test(claims.sid) || !UUID.test(claims.sub)) return false;
    const { rows } = await query<{ revoked_at: Date | null; user_id: string; token_version: number; disabled_at: Date | null; jti_revoked: boolean }>(
      this.#o.pool,
      `SELECT s.revoked_at, s.user_id, u.token_version, u.disabled_at,
              EXISTS (SELECT 1 FROM revoked_access_tokens r WHERE r.jti = $2) AS jti_revoked
         FROM sessions s JOIN users u ON u.id = s.user_id
        WHERE s.id = $1`,
      [claims.sid, claims.jti],
    );
    const row = rows[0];
    return (
      row !== undefined &&
      row.user_id === claims.sub &&
      row.revoked_at === null &&
      row.disabled_at === null &&
      claims.ver >= row.token_version &&
      !row.jti_revoked
    );
  }

  // ---------------------------------------------------------------- logout & sessions

  /** Revokes the session of `claims` (logout). */
  async logout(claims: AccessTokenClaims): Promise<void> {
    await withTransaction(this.#o.pool, (client) => this.#revokeSession(client, claims.sub, claims.sid, 'logout', this.#now()));
  }

  /** Revokes the session a refresh token belongs to (logout by cookie; RFC 7009 for refresh tokens). */
  async logoutByRefreshToken(refreshToken: string): Promise<boolean> {
    if (!looksLikeRefreshToken(refreshToken)) return false;
    return withTransaction(this.#o.pool, async (client) => {
      const { rows } = await client.query<{ id: string; user_id: string }>(
        `SELECT s.id, s.user_id FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id WHERE rt.token_hash = $1 FOR UPDATE OF s`,
        [sha256(refreshToken)],
      );
      const row = rows[0];
      if (row === undefined) return false;
      return this.#revokeSession(client, row.user_id, row.id, 'logout', this.#now());
    });
  }

  /** Revokes every session of the user and every access token issued so far (`user.revoked`). */
  async logoutAll(sub: string): Promise<void> {
    await withTransaction(this.#o.pool, (client) => this.#revokeUser(client, sub, 'logout_all', this.#now(), 'logout'));
  }

  async listSessions(claims: AccessTokenClaims): Promise<SessionInfo[]> {
    const now = new Date(this.#now());
    const { rows } = await query<SessionRow>(
      this.#o.pool,
      `SELECT * FROM sessions
        WHERE user_id = $1 AND revoked_at IS NULL AND idle_expires_at > $2 AND absolute_expires_at > $2
        ORDER BY created_at DESC`,
      [claims.sub, now],
    );
    return rows.map((s) => ({
      sid: s.id,
      created_at: s.created_at.toISOString(),
      last_used_at: s.last_used_at.toISOString(),
      idle_expires_at: s.idle_expires_at.toISOString(),
      absolute_expires_at: s.absolute_expires_at.toISOString(),
      user_agent: s.user_agent,
      ip: s.ip,
      current: s.id === claims.sid,
    }));
  }

  /** Revokes one of the caller's own sessions (another device). 404 if not theirs or already gone. */
  async deleteSession(claims: AccessTokenClaims, sid: string): Promise<void> {
    if (!UUID.test(sid)) throw new AuthError('ERR_AUTH_NOT_FOUND', 'no such session');
    const revoked = await withTransaction(this.#o.pool, (client) => this.#revokeSession(client, claims.sub, sid, 'user_deleted_session', this.#now()));
    if (!revoked) throw new AuthError('ERR_AUTH_NOT_FOUND', 'no such session');
  }

  /**
   * Changes the password: verifies the current one, bumps `ver` (denying every access token
   * issued so far), revokes the other sessions, and returns a fresh access token for the
   * caller's session, which stays logged in.
   */
  async changePassword(claims: AccessTokenClaims, currentPassword: string, newPassword: string): Promise<Omit<TokenPair, 'refresh_token'>> {
    this.#checkPassword(newPassword);
    const { rows } = await query<UserRow>(this.#o.pool, 'SELECT id, email, password_hash FROM users WHERE id = $1', [claims.sub]);
    const user = rows[0];
    if (user === undefined) throw new AuthError('ERR_AUTH_INVALID_TOKEN', 'access token rejected: revoked');
    const accountKey = hmac(this.#accountKey, user.email);
    await this.#checkAccountThrottle(accountKey);
    if (!(await this.#o.hasher.verify(currentPassword, user.password_hash))) {
      await this.#recordFailure(accountKey);
      throw new AuthError('ERR_AUTH_INVALID_CREDENTIALS', 'current password is wrong');
    }
    const hash = await this.#o.hasher.hash(newPassword);
    const aud = Array.isArray(claims.aud) ? claims.aud.filter((a) => this.#c.audiences.includes(a)) : claims.aud;
    return withTransaction(this.#o.pool, async (client) => {
      const nowMs = this.#now();
      // Lock order user → sessions, as in login and logout-all (no deadlocks between them).
      const locked = await client.query<{ disabled_at: Date | null }>('SELECT disabled_at FROM users WHERE id = $1 FOR UPDATE', [claims.sub]);
      // Disabled between authenticate() and here: refuse like any revoked token.
      if (locked.rows[0]?.disabled_at !== null) throw new AuthError('ERR_AUTH_INVALID_TOKEN', 'access token rejected: revoked');
      const live = await client.query('SELECT 1 FROM sessions WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL FOR UPDATE', [claims.sid, claims.sub]);
      if (live.rowCount === 0) throw new AuthError('ERR_AUTH_INVALID_TOKEN', 'access token rejected: revoked');
      await client.query('UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1', [claims.sub, hash, new Date(nowMs)]);
      const ver = await this.#revokeUser(client, claims.sub, 'password_changed', nowMs, 'password_changed', claims.sid);
      return this.#sign(client, { sub: claims.sub, sid: claims.sid, ver: ver as number, aud });
    });
  }

  // ---------------------------------------------------------------- RFC 7009 / RFC 7662

  /**
   * RFC 7009: revokes a refresh token (its whole session) or one access token (by `jti`,
   * until its `exp`). Unknown, invalid or expired tokens are not an error (§2.2).
   */
  async revokeToken(token: string, hint: string | undefined): Promise<void> {
    const tryRefresh = async () => (looksLikeRefreshToken(token) ? this.logoutByRefreshToken(token) : false);
    if (hint === 'refresh_token' && (await tryRefresh())) return;
    let claims: AccessTokenClaims | undefined;
    try {
      claims = await this.verify(token);
    } catch (error) {
      if (!(error instanceof TokenVerificationError)) throw error;
    }
    if (claims === undefined) {
      if (hint !== 'refresh_token') await tryRefresh();
      return;
    }
    const { sub, jti, exp } = claims;
    await withTransaction(this.#o.pool, async (client) => {
      const nowMs = this.#now();
      const { rowCount } = await client.query(
        'INSERT INTO revoked_access_tokens (jti, sub, expires_at) VALUES ($1, $2, $3) ON CONFLICT (jti) DO NOTHING',
        [jti, sub, new Date(exp * 1000)],
      );
      if (rowCount === 0) return;
      await enqueueEvent(client, { v: 1, id: randomUUID(), at: nowMs, type: 'token.revoked', sub, jti, until: exp + this.#c.clockSkewSeconds });
      this.#o.metrics?.revocations.inc({ type: 'token.revoked', reason: 'rfc7009' });
    });
  }

  /** RFC 7662 for resource service `clientId`: active only for live access tokens meant for it. */
  async introspect(clientId: string, token: string): Promise<IntrospectionResponse> {
    let claims: AccessTokenClaims;
    try {
      claims = await this.verify(token, { audience: clientId });
    } catch (error) {
      if (error instanceof TokenVerificationError) return { active: false };
      throw error;
    }
    if (!(await this.#isLive(claims))) return { active: false };
    return { active: true, token_type: 'access_token', ...claims };
  }

  // ---------------------------------------------------------------- admin

  /** Admin: revokes every session and token of a user (`user.revoked`, reason admin). */
  async adminRevokeUser(userId: string): Promise<{ minVer: number }> {
    if (!UUID.test(userId)) throw new AuthError('ERR_AUTH_NOT_FOUND', 'no such user');
    const minVer = await withTransaction(this.#o.pool, (client) => this.#revokeUser(client, userId, 'admin', this.#now(), 'admin'));
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
      const nowMs = this.#now();
      // Lock order user → sessions, as in login, logout-all and password change.
      const { rows } = await client.query<{ token_version: number; disabled_at: Date | null }>(
        'SELECT token_version, disabled_at FROM users WHERE id = $1 FOR UPDATE',
        [userId],
      );
      const row = rows[0];
      if (row === undefined) return null;
      if (row.disabled_at !== null) return { userId, disabled: true, disabledAt: row.disabled_at, minVer: row.token_version };
      const disabledAt = new Date(nowMs);
      await client.query('UPDATE users SET disabled_at = $2, updated_at = $2 WHERE id = $1', [userId, disabledAt]);
      const minVer = (await this.#revokeUser(client, userId, 'account_disabled', nowMs, 'admin')) as number;
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
      const nowMs = this.#now();
      const { rows } = await client.query<{ email: string; token_version: number; disabled_at: Date | null }>(
        'SELECT email, token_version, disabled_at FROM users WHERE id = $1 FOR UPDATE',
        [userId],
      );
      const row = rows[0];
      if (row === undefined) return null;
      if (row.disabled_at !== null) {
        await client.query('UPDATE users SET disabled_at = NULL, updated_at = $2 WHERE id = $1', [userId, new Date(nowMs)]);
        await client.query('DELETE FROM login_failures WHERE account_key = $1', [hmac(this.#accountKey, row.email)]);
        this.#o.log?.info({ event: 'user.enabled', sub: userId }, 'account enabled');
      }
      return { userId, disabled: false, disabledAt: null, minVer: row.token_version };
    });
    if (status === null) throw new AuthError('ERR_AUTH_NOT_FOUND', 'no such user');
    return status;
  }

  /**
   * Admin: promotes the pre-published next key to active and generates a new next key;
   * tokens of the previous key stay valid until they expire.
   */
  async rotateKey(): Promise<RotationResult> {
    const result = await withTransaction(this.#o.pool, (client) => this.#o.keys.rotate(client));
    this.#o.log?.info({ event: 'key.rotated', kid: result.kid, previousKid: result.previousKid, nextKid: result.nextKid }, 'signing key rotated');
    return result;
  }

  /** Scheduled rotation (KEY_ROTATION_INTERVAL_SECONDS): rotates if the active key is that old. */
  async rotateKeyIfDue(maxAgeSeconds: number): Promise<RotationResult | null> {
    const result = await withTransaction(this.#o.pool, (client) => this.#o.keys.rotateIfOlderThan(client, maxAgeSeconds));
    if (result !== null) {
      this.#o.log?.info({ event: 'key.rotated', kid: result.kid, previousKid: result.previousKid, nextKid: result.nextKid, scheduled: true }, 'signing key rotated');
    }
    return result;
  }

  /**
   * Admin: emergency revocation of a key (`key.revoked`). Revoking the active key promotes
   * the next key (already published); revoking the active or next key generates a new next key.
   */
  async revokeKey(kid: string): Promise<{ kid: string; until: number | null; replacedBy: string | null; nextKid: string | null }> {
    if (kid.length === 0 || kid.length > 256) throw new AuthError('ERR_AUTH_NOT_FOUND', 'no such key');
    return withTransaction(this.#o.pool, async (client) => {
      const result = await this.#o.keys.revoke(client, kid);
      if (result === 'not_found') throw new AuthError('ERR_AUTH_NOT_FOUND', 'no such key');
      if (result === null) return { kid, until: null, replacedBy: null, nextKid: null };
      this.#o.log?.warn({ event: 'key.revoked', kid, until: result.until, replacedBy: result.replacedBy, nextKid: result.nextKid }, 'signing key revoked');
      await enqueueEvent(client, { v: 1, id: randomUUID(), at: this.#now(), type: 'key.revoked', kid, until: result.until });
      this.#o.metrics?.revocations.inc({ type: 'key.revoked', reason: 'admin' });
      return { kid, until: result.until, replacedBy: result.replacedBy, nextKid: result.nextKid };
    });
  }

  /** Deletes rows nobody needs any more (expired revoked tokens, long-dead sessions). */
  async purgeExpired(): Promise<void> {
    const nowMs = this.#now();
    await query(this.#o.pool, 'DELETE FROM revoked_access_tokens WHERE expires_at < $1', [new Date(nowMs - this.#c.clockSkewSeconds * 1000)]);
    // Dead sessions are kept one access-TTL (plus a day for support look-ups) so reuse detection still sees them.
    const cutoff = new Date(nowMs - (this.#c.accessTtlSeconds + 86_400) * 1000);
    await query(this.#o.pool, 'DELETE FROM sessions WHERE (revoked_at IS NOT NULL AND revoked_at < $1) OR absolute_expires_at < $1', [cutoff]);
    await query(this.#o.pool, 'DELETE FROM login_failures WHERE window_started_at < $1', [new Date(nowMs - this.#c.loginAccountWindowSeconds * 1000)]);
  }
}

function truncate(value: string | undefined, max: number): string | null {
  if (value === undefined) return null;
  return value.length > max ? value.slice(0, max) : value;
}
