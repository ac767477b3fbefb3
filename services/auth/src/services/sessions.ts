import { randomUUID } from 'node:crypto';
import type { SessionRevokeReason } from '@revocable/events';
import { TokenVerificationError, type AccessTokenClaims } from '@revocable/tokens';
import { timingSafeEqual } from 'node:crypto';
import { hmac, looksLikeRefreshToken, newRefreshToken, sha256, subkey, successorRefreshToken } from '../crypto.ts';
import { withTransaction, type Pool } from '../db.ts';
import { AuthError, type RefreshRefusalReason } from '../errors.ts';
import type { PasswordHasher } from '../password.ts';
import type { Db } from '../queries/db.ts';
import {
  findSessionByRefreshToken,
  insertRefreshToken,
  insertSession,
  listLiveSessions,
  lockRefreshToken,
  lockRefreshTokenOnly,
  markRotated,
  touchSession,
} from '../queries/sessions.ts';
import { findUserByEmail, lockUser } from '../queries/users.ts';
import type { ClientRegistry, Grant, OAuthClient } from '../clients.ts';
import type { AccessTokenResponse, AccessTokenService } from './access-tokens.ts';
import { normalizeEmail, PASSWORD_MAX, UUID } from './email.ts';
import type { LoginThrottle } from './login-throttle.ts';
import type { Revocations } from './revocations.ts';
import type { ServiceContext } from './context.ts';

/** RFC 6749 token response. */
export interface TokenPair extends AccessTokenResponse {
  refresh_token: string;
}

/** What a login or refresh asks for (RFC 8707 `resource`, RFC 6749 §3.3 `scope`). */
export interface GrantRequest {
  /** Audience names or their absolute URIs; default: the client's (login) or the session's (refresh). */
  resource?: string | readonly string[] | undefined;
  /** Space-separated; default: the client's default scopes (login) or the session's (refresh), of the granted audiences. */
  scope?: string | undefined;
}

/** A token response plus what the cookie needs. */
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

/** What {@link SessionService} needs (and nothing more of the configuration). */
export interface SessionServiceOptions extends ServiceContext {
  pool: Pool;
  tokens: AccessTokenService;
  /** The client registry: who may ask for which audiences and scopes. */
  clients: ClientRegistry;
  revocations: Revocations;
  throttle: LoginThrottle;
  hasher: PasswordHasher;
  /** KEY_ENCRYPTION_KEY: the refresh-successor HMAC key is derived from it. */
  keyEncryptionKey: Buffer;
  sessionIdleTtlSeconds: number;
  sessionAbsoluteTtlSeconds: number;
  maxSessionsPerUser: number;
  refreshReuseGraceSeconds: number;
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

/**
 * Sessions (refresh-token families): login, rotation with reuse detection, logout, the
 * per-user cap, the device list, and RFC 7009 revocation. Every revocation writes its
 * event in the same transaction (or the same statement).
 */
export class SessionService {
  readonly #o: SessionServiceOptions;
  readonly #successorKey: Buffer;
  readonly #clientKey: Buffer;

  constructor(options: SessionServiceOptions) {
    this.#o = options;
    this.#successorKey = subkey(options.keyEncryptionKey, 'refresh-successor');
    this.#clientKey = subkey(options.keyEncryptionKey, 'refresh-client');
  }

  /** Who a refresh comes from, for the grace window: an HMAC of its IP and user agent (neither is stored). */
  #clientFingerprint(meta: ClientMeta): Buffer {
    return hmac(this.#clientKey, `${meta.ip ?? ''}\n${meta.userAgent ?? ''}`);
  }

  /**
   * Email + password login. Unknown emails cost one scrypt verification, like wrong
   * passwords. Failed attempts are counted per account (an HMAC of the email, so unknown
   * emails count too) and refused with 429 past LOGIN_MAX_FAILURES_PER_ACCOUNT.
   */
  async login(emailInput: string, password: string, client: OAuthClient, request: GrantRequest, meta: ClientMeta): Promise<IssuedTokens> {
    const { hasher, metrics, throttle, pool } = this.#o;
    const grant = this.#o.clients.grant(client, request);
    let email: string;
    try {
      email = normalizeEmail(emailInput);
    } catch {
      await hasher.verifyDummy(password);
      metrics?.logins.inc({ result: 'invalid_credentials' });
      throw new AuthError('ERR_AUTH_INVALID_CREDENTIALS', 'invalid email or password');
    }
    if (password.length > PASSWORD_MAX) throw new AuthError('ERR_AUTH_INVALID_REQUEST', `password must be at most ${PASSWORD_MAX} characters`);
    // Counted before the password is checked (one statement): the limit holds under concurrency.
    const claim = await throttle.claim(throttle.accountKey(email));
    let user: Awaited<ReturnType<typeof findUserByEmail>>;
    let ok: boolean;
    try {
      user = await findUserByEmail(pool, email);
      ok = user === undefined ? await hasher.verifyDummy(password) : await hasher.verify(password, user.password_hash);
    } catch (error) {
      // No password was checked (busy, database): the attempt does not count.
      await throttle.release(claim).catch(() => {});
      throw error;
    }
    if (!ok || user === undefined || user.disabled_at !== null) {
      metrics?.logins.inc({ result: 'invalid_credentials' });
      throw new AuthError('ERR_AUTH_INVALID_CREDENTIALS', 'invalid email or password');
    }
    // Only this attempt's claim: failures counted meanwhile by other attempts stay.
    await throttle.release(claim);
    const found = user;

    const issued = await withTransaction(pool, async (db) => {
      const nowMs = this.#o.now();
      // Serialises this user's logins so the session cap holds under concurrency.
      const current = await lockUser(db, found.id);
      if (current === undefined || current.disabled_at !== null) throw new AuthError('ERR_AUTH_INVALID_CREDENTIALS', 'invalid email or password');
      await this.#enforceSessionCap(db, found.id, nowMs);
      const sid = randomUUID();
      const now = new Date(nowMs);
      const absoluteExpiresAt = nowMs + this.#o.sessionAbsoluteTtlSeconds * 1000;
      await insertSession(db, {
        id: sid,
        userId: found.id,
        now,
        idleExpiresAt: new Date(Math.min(nowMs + this.#o.sessionIdleTtlSeconds * 1000, absoluteExpiresAt)),
        absoluteExpiresAt: new Date(absoluteExpiresAt),
        userAgent: truncate(meta.userAgent, 512),
        ip: truncate(meta.ip, 64),
        clientId: client.clientId,
        audiences: grant.aud,
        scope: grant.scope,
      });
      const refreshToken = newRefreshToken();
      await insertRefreshToken(db, sha256(refreshToken), sid, 1, now);
      const access = await this.#o.tokens.issue(db, { sub: found.id, sid, ver: current.token_version, aud: grant.aud, scope: grant.scope, clientId: client.clientId });
      return { body: { ...access, refresh_token: refreshToken }, sid, refreshExpiresAt: absoluteExpiresAt };
    });
    metrics?.logins.inc({ result: 'success' });
    return issued;
  }

  /** Evicts the oldest live sessions so that one more fits under the cap (with events). */
  async #enforceSessionCap(db: Db, userId: string, nowMs: number): Promise<void> {
    const live = await listLiveSessions(db, userId, new Date(nowMs));
    for (const row of live.slice(this.#o.maxSessionsPerUser - 1)) await this.#o.revocations.session(db, userId, row.id, 'session_cap', nowMs);
  }

  /**
   * RFC 6749 §6 refresh with rotation. A rotated token presented again is reuse: the whole
   * session is revoked (`reuse_detected`), unless it comes within the grace window
   * (REFRESH_REUSE_GRACE_SECONDS), from the same client that rotated it (same IP and user
   * agent, `meta`), and its successor is still unused: then the duplicate gets that same
   * successor (logged and counted). A refusal is `ERR_AUTH_INVALID_GRANT` with a
   * {@link RefreshRefusalReason}.
   */
  async refresh(refreshToken: string, client: OAuthClient, request: GrantRequest, meta: ClientMeta = {}): Promise<IssuedTokens> {
    const { metrics, tokens, revocations, log, clients } = this.#o;
    const fingerprint = this.#clientFingerprint(meta);
    // Unknown resources fail before any state is touched.
    clients.resolveResources(request.resource);
    if (!looksLikeRefreshToken(refreshToken)) {
      metrics?.refreshes.inc({ result: 'invalid' });
      throw refusedRefresh('unknown_token');
    }
    // Revocations done on the way (reuse, expiry) must commit even though the grant fails.
    let failure: AuthError | undefined;
    const issued = await withTransaction(this.#o.pool, async (db): Promise<IssuedTokens | undefined> => {
      const nowMs = this.#o.now();
      const row = await lockRefreshToken(db, sha256(refreshToken));
      if (row === undefined) {
        metrics?.refreshes.inc({ result: 'invalid' });
        failure = refusedRefresh('unknown_token');
        return undefined;
      }
      if (row.revoked_at !== null || row.disabled_at !== null) {
        metrics?.refreshes.inc({ result: 'invalid' });
        // A session already ended by its lifetime stays "expired" when its token comes back.
        const expired = row.disabled_at === null && row.revoke_reason !== null && SESSION_TIMEOUT_REASONS.has(row.revoke_reason);
        failure = refusedRefresh(expired ? 'session_expired' : 'session_revoked');
        return undefined;
      }
      // RFC 6749 §6: a refresh token is bound to the client it was issued to.
      const sessionClient = row.client_id ?? clients.defaultClient.clientId;
      if (sessionClient !== client.clientId) {
        metrics?.refreshes.inc({ result: 'invalid' });
        failure = new AuthError('ERR_AUTH_INVALID_GRANT', 'refresh token was issued to another client', { reason: 'unknown_token' });
        return undefined;
      }
      // Throws invalid_target / invalid_scope; the transaction then rolls back untouched.
      const grantFor = (): Grant =>
        clients.grant(client, request, {
          aud: row.audiences ?? [...client.audiences],
          scope: row.scope ?? client.defaultScopes.join(' '),
        });
      const issue = (grant: Grant) =>
        tokens.issue(db, { sub: row.user_id, sid: row.id, ver: row.token_version, aud: grant.aud, scope: grant.scope, clientId: client.clientId });
      if (row.rotated_at !== null) {
        const successor = successorRefreshToken(this.#successorKey, refreshToken);
        const next = await lockRefreshTokenOnly(db, sha256(successor));
        const ageMs = nowMs - row.rotated_at.getTime();
        const inGrace = ageMs <= this.#o.refreshReuseGraceSeconds * 1000 && next !== undefined && next.rotated_at === null;
        const sameClient = row.rotated_by !== null && row.rotated_by.length === fingerprint.length && timingSafeEqual(row.rotated_by, fingerprint);
        if (inGrace && sameClient) {
          const access = await issue(grantFor());
          metrics?.refreshes.inc({ result: 'grace_duplicate' });
          metrics?.refreshGrace.inc({ outcome: 'honoured' });
          log?.info({ event: 'refresh.grace_duplicate', sub: row.user_id, sid: row.id, ageMs }, 'duplicate refresh inside the grace window: same successor');
          return { body: { ...access, refresh_token: successor }, sid: row.id, refreshExpiresAt: row.absolute_expires_at.getTime() };
        }
        if (inGrace) {
          metrics?.refreshGrace.inc({ outcome: 'other_client' });
          log?.warn({ event: 'refresh.grace_refused', sub: row.user_id, sid: row.id, ageMs }, 'duplicate refresh inside the grace window from another client: reuse');
        }
        await revocations.session(db, row.user_id, row.id, 'reuse_detected', nowMs);
        metrics?.refreshes.inc({ result: 'reuse_detected' });
        failure = refusedRefresh('reuse_detected');
        return undefined;
      }
      if (row.absolute_expires_at.getTime() <= nowMs || row.idle_expires_at.getTime() <= nowMs) {
        const reason = row.absolute_expires_at.getTime() <= nowMs ? 'absolute_timeout' : 'idle_timeout';
        await revocations.session(db, row.user_id, row.id, reason, nowMs);
        metrics?.refreshes.inc({ result: 'expired' });
        failure = refusedRefresh('session_expired');
        return undefined;
      }
      const grant = grantFor();
      const now = new Date(nowMs);
      const successor = successorRefreshToken(this.#successorKey, refreshToken);
      await markRotated(db, sha256(refreshToken), now, fingerprint);
      await insertRefreshToken(db, sha256(successor), row.id, row.generation + 1, now);
      const absolute = row.absolute_expires_at.getTime();
      await touchSession(db, row.id, now, new Date(Math.min(nowMs + this.#o.sessionIdleTtlSeconds * 1000, absolute)));
      const access = await issue(grant);
      metrics?.refreshes.inc({ result: 'success' });
      return { body: { ...access, refresh_token: successor }, sid: row.id, refreshExpiresAt: absolute };
    });
    if (issued === undefined) throw failure ?? refusedRefresh('unknown_token');
    return issued;
  }

  /** Revokes the session of `claims` (logout): one statement. */
  async logout(claims: AccessTokenClaims): Promise<void> {
    await this.#o.revocations.session(this.#o.pool, claims.sub, claims.sid, 'logout', this.#o.now());
  }

  /**
   * Revokes the session a refresh token belongs to (logout by cookie; RFC 7009 for refresh
   * tokens). With `client`, the session must have been granted to it (RFC 7009 §2.1):
   * `ERR_AUTH_UNAUTHORIZED_CLIENT` otherwise.
   */
  async logoutByRefreshToken(refreshToken: string, client?: OAuthClient): Promise<boolean> {
    if (!looksLikeRefreshToken(refreshToken)) return false;
    const session = await findSessionByRefreshToken(this.#o.pool, sha256(refreshToken));
    if (session === undefined) return false;
    if (client !== undefined && (session.client_id ?? this.#o.clients.defaultClient.clientId) !== client.clientId) {
      throw new AuthError('ERR_AUTH_UNAUTHORIZED_CLIENT', 'the token was not issued to this client');
    }
    // The revoking statement itself skips a session that is already revoked: no lock needed.
    return this.#o.revocations.session(this.#o.pool, session.user_id, session.id, 'logout', this.#o.now());
  }

  /** Revokes every session of the user and every access token issued so far (`user.revoked`). */
  async logoutAll(sub: string): Promise<void> {
    await withTransaction(this.#o.pool, (client) => this.#o.revocations.user(client, sub, 'logout_all', this.#o.now(), 'logout'));
  }

  async listSessions(claims: AccessTokenClaims): Promise<SessionInfo[]> {
    const rows = await listLiveSessions(this.#o.pool, claims.sub, new Date(this.#o.now()));
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
    const revoked = await this.#o.revocations.session(this.#o.pool, claims.sub, sid, 'user_deleted_session', this.#o.now());
    if (!revoked) throw new AuthError('ERR_AUTH_NOT_FOUND', 'no such session');
  }

  /**
   * RFC 7009: revokes a refresh token (its whole session) or one access token (by `jti`,
   * until its `exp`; one statement with its event). Unknown, invalid or expired tokens are
   * not an error (§2.2). The token must belong to `client` (§2.1): issued to it, or, for a
   * confidential client (a resource service), an access token meant for its audience;
   * else `ERR_AUTH_UNAUTHORIZED_CLIENT`.
   */
  async revokeToken(token: string, hint: string | undefined, client: OAuthClient): Promise<void> {
    const tryRefresh = async () => (looksLikeRefreshToken(token) ? this.logoutByRefreshToken(token, client) : false);
    if (hint === 'refresh_token' && (await tryRefresh())) return;
    let claims: AccessTokenClaims | undefined;
    try {
      claims = await this.#o.tokens.verify(token);
    } catch (error) {
      if (!(error instanceof TokenVerificationError)) throw error;
    }
    if (claims === undefined) {
      if (hint !== 'refresh_token') await tryRefresh();
      return;
    }
    const owner = claims.client_id ?? this.#o.clients.defaultClient.clientId;
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    const mayRevoke = owner === client.clientId || (client.type === 'confidential' && client.audiences.some((a) => aud.includes(a)));
    if (!mayRevoke) throw new AuthError('ERR_AUTH_UNAUTHORIZED_CLIENT', 'the token was not issued to this client');
    await this.#o.revocations.accessToken(this.#o.pool, claims, this.#o.now());
  }
}

function truncate(value: string | undefined, max: number): string | null {
  if (value === undefined) return null;
  return value.length > max ? value.slice(0, max) : value;
}
