import { randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import { MAX_ACCESS_TTL_SECONDS, signAccessToken, TokenVerificationError, verifyAccessToken, type AccessTokenClaims, type SignerKey } from '@revocable/tokens';
import { isDbUnavailable } from '../db.ts';
import { AuthError } from '../errors.ts';
import type { CachedKeyResolver } from '../key-resolver.ts';
import type { Db } from '../queries/db.ts';
import { findTokenState } from '../queries/sessions.ts';
import { UUID } from './email.ts';

/** RFC 6749 token response (the refresh token is added by the session service). */
export interface AccessTokenResponse {
  access_token: string;
  token_type: 'Bearer';
  /** Seconds. */
  expires_in: number;
  /** RFC 6749 §5.1: the granted scopes (space-separated); omitted when none was granted. */
  scope?: string;
}

/** What one access token is issued for. */
export interface AccessTokenGrant {
  sub: string;
  sid: string;
  ver: number;
  /** One audience is written as a string, several as an array. */
  aud: string | string[];
  /** Space-separated; `''` writes no `scope` claim. */
  scope: string;
  /** Default: the registry's default client (tokens issued before clients existed carry none). */
  clientId: string | undefined;
}

/**
 * RFC 7662 introspection answer: `token_type` is the token type of RFC 6749 §7.1
 * (`Bearer`), `username` the account's email, and every claim of the token.
 */
export type IntrospectionResponse =
  | { active: false }
  | ({ active: true; token_type: 'Bearer'; username: string } & Omit<AccessTokenClaims, 'roles'> & { roles?: string[] });

/** What {@link AccessTokenService} needs (and nothing more of the configuration). */
export interface AccessTokenServiceOptions {
  /** Runs the one liveness statement of authenticate/introspect. */
  db: Db;
  /** Public keys for verification, cached. */
  keys: CachedKeyResolver;
  /** The active signing key, read inside the caller's transaction (`KeyStore.activeSigner`). */
  activeSigner: (db: Db) => Promise<SignerKey>;
  /** AUTH_ISSUER. */
  issuer: string;
  /** Every audience this issuer signs for: AUDIENCES plus ACCOUNT_AUDIENCE. */
  audiences: readonly string[];
  /** ACCOUNT_AUDIENCE: the only audience {@link AccessTokenService.authenticate} accepts. */
  accountAudience: string;
  /** The registry's default client: `client_id` of a re-issued token that had none. */
  defaultClientId: string;
  accessTtlSeconds: number;
  now: () => number;
}


/**
 * Access tokens: issues them (RFC 9068 at+jwt, signed with the active key) and verifies
 * them (cached keys: no statement on a warm path), and decides whether one is live
 * (one statement: session, user version, jti, key).
 */
export class AccessTokenService {
  readonly #o: AccessTokenServiceOptions;

  constructor(options: AccessTokenServiceOptions) {
    this.#o = options;
  }

  /** Keeps only audiences still on the allow-list (a password change re-issues the caller's token). */
  allowedAudiences(aud: string | string[]): string | string[] {
    return Array.isArray(aud) ? aud.filter((a) => this.#o.audiences.includes(a)) : aud;
  }

  /**
   * Signs an access token with the key that is active in `db`'s transaction: RFC 9068
   * claims (`iss`, `sub`, `aud`, `exp`, `iat`, `nbf`, `jti`, `client_id`, `scope`) plus `sid`, `ver`.
   */
  async issue(db: Db, input: AccessTokenGrant): Promise<AccessTokenResponse> {
    const key = await this.#o.activeSigner(db);
    const aud = Array.isArray(input.aud) && input.aud.length === 1 ? (input.aud[0] as string) : input.aud;
    const { token } = await signAccessToken(
      {
        sub: input.sub,
        sid: input.sid,
        ver: input.ver,
        aud,
        jti: randomUUID(),
        client_id: input.clientId ?? this.#o.defaultClientId,
        ...(input.scope !== '' ? { scope: input.scope } : {}),
      },
      key,
      { issuer: this.#o.issuer, accessTtlSeconds: this.#o.accessTtlSeconds, now: this.#o.now },
    );
    return { access_token: token, token_type: 'Bearer', expires_in: this.#o.accessTtlSeconds, ...(input.scope !== '' ? { scope: input.scope } : {}) };
  }

  /** Verifies an access token issued here, for any audience of the allow-list. Throws TokenVerificationError. */
  async verify(token: string, options: { audience?: string; now?: number } = {}): Promise<AccessTokenClaims> {
    return (await this.#verify(token, options)).claims;
  }

  async #verify(token: string, options: { audience?: string; now?: number }): Promise<{ claims: AccessTokenClaims; kid: string }> {
    let audience = options.audience;
    if (audience === undefined) {
      let claims: ReturnType<typeof decodeJwt>;
      try {
        claims = decodeJwt(token);
      } catch (error) {
        throw new TokenVerificationError('malformed', 'token is malformed', { cause: error });
      }
      const auds = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
      audience = this.#o.audiences.find((a) => auds.includes(a));
      if (audience === undefined) throw new TokenVerificationError('wrong_audience', "token is not meant for this issuer's services");
    }
    const nowMs = options.now ?? this.#o.now();
    await this.#o.keys.prepare();
    try {
      const { claims, kid } = await verifyAccessToken(token, this.#o.keys.getKey, {
        issuer: this.#o.issuer,
        audience,
        clockToleranceSeconds: 5,
        // Not this instance's TTL: tokens signed under an earlier, longer one are still ours.
        maxLifetimeSeconds: MAX_ACCESS_TTL_SECONDS,
        now: () => nowMs,
      });
      return { claims, kid };
    } catch (error) {
      // An unknown kid reloads the keys inside verification: PostgreSQL being away is a 503, not a refused token.
      if (error instanceof TokenVerificationError && isDbUnavailable(error.cause)) throw error.cause;
      throw error;
    }
  }

  /**
   * Authenticates a request to this service's own account endpoints: a valid access token
   * for ACCOUNT_AUDIENCE (a token for a resource service only is `wrong_audience`),
   * whose session is live, whose `ver` is current, whose `jti` and key were not revoked.
   * (This service has the database, so it checks it directly instead of a denylist.)
   * `allowExpired` and `anyAudience` are for logout: it only takes privileges away (as RFC
   * 7009 lets any holder revoke a token), so an expired but genuine token, or one for any
   * audience this issuer signs for, may do it (everything else is still checked).
   */
  async authenticate(token: string, options: { allowExpired?: boolean; anyAudience?: boolean } = {}): Promise<AccessTokenClaims> {
    const audience = options.anyAudience === true ? undefined : this.#o.accountAudience;
    let verified: { claims: AccessTokenClaims; kid: string };
    try {
      verified = await this.#verify(token, audience === undefined ? {} : { audience });
    } catch (error) {
      if (error instanceof TokenVerificationError && error.reason === 'expired' && options.allowExpired === true) {
        verified = await this.#verifyAtExpiry(token, audience);
      } else if (error instanceof TokenVerificationError) {
        throw new AuthError('ERR_AUTH_INVALID_TOKEN', `access token rejected: ${error.reason}`, { cause: error });
      } else {
        throw error;
      }
    }
    if ((await this.#liveState(verified)) === undefined) throw new AuthError('ERR_AUTH_INVALID_TOKEN', 'access token rejected: revoked');
    return verified.claims;
  }

  /** RFC 7662 for resource service `clientId`: active only for live access tokens meant for it. One statement. */
  async introspect(clientId: string, token: string): Promise<IntrospectionResponse> {
    let verified: { claims: AccessTokenClaims; kid: string };
    try {
      verified = await this.#verify(token, { audience: clientId });
    } catch (error) {
      if (error instanceof TokenVerificationError) return { active: false };
      throw error;
    }
    const live = await this.#liveState(verified);
    if (live === undefined) return { active: false };
    return { ...verified.claims, active: true, token_type: 'Bearer', username: live.email };
  }

  async #verifyAtExpiry(token: string, audience: string | undefined): Promise<{ claims: AccessTokenClaims; kid: string }> {
    try {
      const exp = decodeJwt(token).exp;
      if (typeof exp !== 'number') throw new TokenVerificationError('invalid_claims', 'exp missing');
      return await this.#verify(token, { ...(audience === undefined ? {} : { audience }), now: (exp - 1) * 1000 });
    } catch (error) {
      if (error instanceof TokenVerificationError) throw new AuthError('ERR_AUTH_INVALID_TOKEN', `access token rejected: ${error.reason}`, { cause: error });
      throw error;
    }
  }

  /** The account of a live token (session live, `ver` current, jti and key not revoked), else undefined. */
  async #liveState({ claims, kid }: { claims: AccessTokenClaims; kid: string }): Promise<{ email: string } | undefined> {
    if (!UUID.test(claims.sid) || !UUID.test(claims.sub)) return undefined;
    const row = await findTokenState(this.#o.db, claims.sid, claims.jti, kid);
    const live =
      row !== undefined &&
      row.user_id === claims.sub &&
      row.revoked_at === null &&
      row.disabled_at === null &&
      claims.ver >= row.token_version &&
      !row.jti_revoked &&
      !row.key_revoked;
    return live ? { email: row.email } : undefined;
  }
}
