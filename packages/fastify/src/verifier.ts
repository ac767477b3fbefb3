import { LRUCache } from 'lru-cache';
import { VERIFICATION_ALGORITHMS, TokenVerificationError, verifyAccessToken, type AccessTokenClaims, type VerificationAlgorithm, type VerifyAccessTokenOptions } from '@revocable/tokens';
import type { JWTVerifyGetKey } from 'jose';
import type { DenialKind } from '@revocable/protocol';

type TokenIds = { jti: string; sid: string; sub: string; ver: number; kid: string };

/**
 * The part of `@revocable/denylist`'s `Denylist` the verifier needs. With `prepare` and
 * `checkPrepared` (the Denylist has both), a cached token's ids are hashed once, when it
 * enters the cache, instead of on every request.
 */
export interface DenylistLookup<P = unknown> {
  check(query: TokenIds): DenialKind | null;
  prepare?(query: TokenIds): P;
  checkPrepared?(prepared: P): DenialKind | null;
}

/** What {@link TokenVerifier.check} found: a verified token and the denylist's answer for it. */
export interface TokenCheck {
  context: AuthContext;
  /** Signature work was skipped (cache hit). */
  cached: boolean;
  /** The denylist entry kind that denies the token, or null. */
  denied: DenialKind | null;
}

/** A verified, not-revoked access token, as handlers see it on `request.auth`. */
export interface AuthContext {
  claims: AccessTokenClaims;
  /** Key id the token was signed with. */
  kid: string;
  alg: VerificationAlgorithm;
  /** The token's scopes (parsed from the space-separated `scope` claim). */
  scopes: ReadonlySet<string>;
}

/**
 * Options for {@link TokenVerifier}: those of `verifyAccessToken` that it passes on (issuer,
 * audience, algorithms, clock tolerance, token lifetime, token size, clock; same meanings and defaults), and its own.
 */
export interface TokenVerifierOptions extends Pick<VerifyAccessTokenOptions, 'issuer' | 'audience' | 'algorithms' | 'clockToleranceSeconds' | 'maxLifetimeSeconds' | 'maxTokenBytes' | 'now'> {
  /** Resolves the verification key from the token header (e.g. jose's `createRemoteJWKSet`). */
  getKey: JWTVerifyGetKey;
  /** Consulted on every request, cached token or not. */
  denylist: DenylistLookup;
  /** Most verified tokens kept in the cache. Default 10000; 0 disables the cache. */
  cacheMax?: number;
}

interface CacheEntry {
  /** The whole token: the cache key is only its tail (see {@link cacheKey}). */
  token: string;
  context: AuthContext;
  /** `exp` in epoch ms: the entry is useless (and never served) after it. */
  expiresAtMs: number;
  /** The denylist's prepared ids (hashed once), when it supports that. */
  prepared: unknown;
}

/**
 * Verifies bearer tokens for one audience: a verified-token cache (entries live until the
 * token's `exp`) in front of full signature + claim verification, then a denylist check on
 * every call. Throws {@link TokenVerificationError} (reason `revoked` for denied tokens).
 *
 * A token signed by a revoked key never outlives its key's denylist entry in the cache: a
 * token the denylist denies by `key` is not cached, and {@link forgetKid} (called when a
 * `key.revoked` event is applied) drops every cached token signed by that key, so after the
 * entry expired such a token needs the key again, which no JWKS serves any more.
 */
export class TokenVerifier {
  readonly #options: TokenVerifierOptions;
  readonly #cache: LRUCache<string, CacheEntry> | null;
  readonly #now: () => number;
  /** Verifications in progress, so a burst of one new token costs one signature check. */
  readonly #inFlight = new Map<string, Promise<TokenCheck>>();
  #hits = 0;
  #misses = 0;

  constructor(options: TokenVerifierOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    const max = options.cacheMax ?? 10_000;
    this.#cache = max > 0 ? new LRUCache<string, CacheEntry>({ max }) : null;
  }

  /**
   * Verifies `token` and checks it against the denylist.
   * @returns the auth context and whether signature work was skipped (cache hit).
   * @throws {@link TokenVerificationError}; {@link RevokedTokenError} for a denied token.
   */
  async verify(token: string): Promise<{ context: AuthContext; cached: boolean }> {
    const checked = await this.check(token);
    if (checked.denied !== null) throw new RevokedTokenError(checked.denied);
    return { context: checked.context, cached: checked.cached };
  }

  /**
   * Like {@link verify}, but a denied token is an answer (`denied`), not an exception, and a
   * cache hit answers synchronously (no promise): the request path of a known token
   * allocates no error and waits for nothing. Verification failures still reject (or throw)
   * with {@link TokenVerificationError}.
   */
  check(token: string): TokenCheck | Promise<TokenCheck> {
    return this.cached(token) ?? this.checkUncached(token);
  }

  /**
   * The miss half of {@link check}, for a caller that just had {@link cached} answer
   * undefined: verifies `token` in full (one verification shared by concurrent callers) and
   * caches it, without looking the cache up again.
   */
  checkUncached(token: string): Promise<TokenCheck> {
    this.#misses++;
    let pending = this.#inFlight.get(token);
    if (pending === undefined) {
      pending = this.#verifyFully(token, this.#now()).then((verified) => {
        const denied = this.#denied(verified, undefined);
        // A token of a revoked key is not kept: the key's entry expires, the cache would not.
        if (denied !== 'key') {
          const prepared = this.#options.denylist.prepare?.(idsOf(verified));
          this.#cache?.set(cacheKey(token), { token, context: verified, expiresAtMs: verified.claims.exp * 1000, prepared });
        }
        return { context: verified, cached: false, denied };
      });
      const settled = pending.finally(() => this.#inFlight.delete(token));
      // The rejection is handled by every awaiting caller; this copy only cleans up.
      settled.catch(() => undefined);
      this.#inFlight.set(token, pending);
    }
    return pending;
  }

  /**
   * The cache-hit half of {@link check}: the answer for a token verified before and not yet
   * expired (the denylist is asked now), or undefined when it would need verifying. Reads
   * nothing of the token but its tail and, on a hit, one comparison of the whole string, so
   * a caller may look a token up before checking its characters (an exact match proves them).
   */
  cached(token: string): TokenCheck | undefined {
    const cache = this.#cache;
    if (cache === null) return undefined;
    const key = cacheKey(token);
    const entry = cache.get(key);
    if (entry === undefined || entry.token !== token) return undefined;
    if (entry.expiresAtMs <= this.#now()) {
      cache.delete(key);
      return undefined;
    }
    this.#hits++;
    return { context: entry.context, cached: true, denied: this.#denied(entry.context, entry.prepared) };
  }

  #denied(context: AuthContext, prepared: unknown): DenialKind | null {
    const denylist = this.#options.denylist;
    if (prepared !== undefined && denylist.checkPrepared !== undefined) return denylist.checkPrepared(prepared);
    return denylist.check(idsOf(context));
  }

  /**
   * Drops every cached token signed by `kid` (its key was revoked): each must be verified
   * again, with a key the JWKS still serves. Returns how many were dropped.
   */
  forgetKid(kid: string): number {
    const cache = this.#cache;
    if (cache === null) return 0;
    const dropped: string[] = [];
    for (const [key, entry] of cache.entries()) if (entry.context.kid === kid) dropped.push(key);
    for (const key of dropped) cache.delete(key);
    return dropped.length;
  }

  /** Cache hits and misses since start (misses include failed verifications). */
  cacheStats(): { hits: number; misses: number; size: number } {
    return { hits: this.#hits, misses: this.#misses, size: this.#cache?.size ?? 0 };
  }

  async #verifyFully(token: string, nowMs: number): Promise<AuthContext> {
    const o = this.#options;
    const verified = await verifyAccessToken(token, o.getKey, {
      issuer: o.issuer,
      audience: o.audience,
      algorithms: o.algorithms ?? VERIFICATION_ALGORITHMS,
      ...(o.clockToleranceSeconds !== undefined ? { clockToleranceSeconds: o.clockToleranceSeconds } : {}),
      ...(o.maxLifetimeSeconds !== undefined ? { maxLifetimeSeconds: o.maxLifetimeSeconds } : {}),
      ...(o.maxTokenBytes !== undefined ? { maxTokenBytes: o.maxTokenBytes } : {}),
      now: () => nowMs,
    });
    const scope = verified.claims.scope;
    const scopes = new Set(scope === undefined ? [] : scope.split(' ').filter((s) => s.length > 0));
    return { claims: verified.claims, kid: verified.kid, alg: verified.alg, scopes };
  }
}

// A token's last characters are signature bytes, as random as a key needs: keying the cache
// on them hashes 16 characters per lookup instead of the whole ~500-character token (the
// lookup runs on every request). A hit still compares the whole token, so another string
// with the same tail is a miss, verified in full; only verified tokens ever enter the cache.
const KEY_CHARS = 16;

function cacheKey(token: string): string {
  return token.length > KEY_CHARS ? token.slice(token.length - KEY_CHARS) : token;
}

function idsOf(context: AuthContext): TokenIds {
  const { claims, kid } = context;
  return { jti: claims.jti, sid: claims.sid, sub: claims.sub, ver: claims.ver, kid };
}

/** A validly issued token that the denylist denies; `kind` says which entry matched. */
export class RevokedTokenError extends TokenVerificationError {
  readonly kind: DenialKind;
  constructor(kind: DenialKind) {
    super('revoked', 'token has been revoked');
    this.kind = kind;
  }
}
