import { createLocalJWKSet, type JWK, type JWTVerifyGetKey } from 'jose';

/** Options for {@link CachedKeyResolver}. */
export interface CachedKeyResolverOptions {
  /** Reads the published public keys (one statement: `KeyStore.publicKeys`). */
  load: () => Promise<JWK[]>;
  /** How long a loaded key set is used before it is read again, in ms (KEY_CACHE_TTL_SECONDS). */
  ttlMs: number;
  /** A token with a `kid` the set lacks reloads it, at most once per this many ms (bounds the statements garbage kids can cause). Default 1000. */
  unknownKidCooldownMs?: number;
  now: () => number;
}

interface LoadedSet {
  getKey: JWTVerifyGetKey;
  kids: ReadonlySet<string>;
  loadedAtMs: number;
}

/**
 * The public keys `verify()` checks signatures with, cached so that a warm verification
 * sends no statement to PostgreSQL.
 *
 * Freshness:
 * - a key rotated or revoked on this instance: {@link invalidate} runs right after the
 *   commit, so the next verification reads the keys again (at once);
 * - a key rotated on another instance: tokens of the promoted key verify at once (it was
 *   the published next key, already in the set); a kid the set does not know reloads it,
 *   at most once per `unknownKidCooldownMs`;
 * - anything else another instance changed (a revoked key leaving the set, a retired key
 *   ageing out) is picked up within `ttlMs`. Requests that authenticate (introspection,
 *   the account endpoints) do not wait for that: their liveness statement also checks that
 *   the token's key is not revoked, on every call.
 */
export class CachedKeyResolver {
  readonly #o: CachedKeyResolverOptions;
  #set: LoadedSet | undefined;
  #loading: Promise<LoadedSet> | undefined;
  // Bumped by invalidate(): a load that started before it must not be kept as fresh.
  #generation = 0;

  constructor(options: CachedKeyResolverOptions) {
    this.#o = options;
  }

  /** Key lookup for `verifyAccessToken`. */
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    let set = await this.#current();
    const kid = header.kid;
    if (kid !== undefined && !set.kids.has(kid) && this.#o.now() - set.loadedAtMs >= (this.#o.unknownKidCooldownMs ?? 1000)) {
      set = await this.#reload();
    }
    return set.getKey(header, token);
  };

  /**
   * Loads the set if it is missing or stale. Call it before verifying, so a database
   * failure surfaces as itself (503) instead of as a refused token.
   */
  async prepare(): Promise<void> {
    await this.#current();
  }

  /** Forgets the cached set: the next verification reads the keys again. */
  invalidate(): void {
    this.#generation++;
    this.#set = undefined;
    this.#loading = undefined;
  }

  async #current(): Promise<LoadedSet> {
    const set = this.#set;
    if (set !== undefined && this.#o.now() - set.loadedAtMs < this.#o.ttlMs) return set;
    return this.#reload();
  }

  #reload(): Promise<LoadedSet> {
    // Concurrent verifications share one read.
    if (this.#loading !== undefined) return this.#loading;
    const generation = this.#generation;
    const loading = (async () => {
      const keys = await this.#o.load();
      const set: LoadedSet = {
        getKey: createLocalJWKSet({ keys }),
        kids: new Set(keys.flatMap((k) => (typeof k.kid === 'string' ? [k.kid] : []))),
        loadedAtMs: this.#o.now(),
      };
      if (generation === this.#generation) this.#set = set;
      return set;
    })();
    this.#loading = loading;
    const clear = () => {
      if (this.#loading === loading) this.#loading = undefined;
    };
    loading.then(clear, clear);
    return loading;
  }
}
