import type { JWK } from 'jose';
import { generateSigningKey, importPrivateKey, publicJwkFor, type SignerKey, type SigningAlgorithm } from '@revocable/tokens';
import { open, seal } from './crypto.ts';
import type { EventKeyStore } from './event-keys.ts';
import type { Pool, PoolClient } from './db.ts';
import type { Db } from './queries/db.ts';
import { keyRevocationUntil, loadTtlHistory } from './ttl-history.ts';
import {
  activateKey,
  findActiveAndNext,
  findKeyByStatus,
  findPublishedKeys,
  insertKey,
  listKeys,
  lockKey,
  lockKeyMutations,
  lockNextKid,
  markKeyRevoked,
  retireKey,
  type KeyRow,
  type KeyStatus,
} from './queries/signing-keys.ts';

export type { KeyStatus };

/** Options for {@link KeyStore}. */
export interface KeyStoreOptions {
  pool: Pool;
  /** KEY_ENCRYPTION_KEY: 32 bytes, AES-256-GCM key for private keys at rest. */
  keyEncryptionKey: Buffer;
  alg: SigningAlgorithm;
  accessTtlSeconds: number;
  clockSkewSeconds: number;
  /**
   * VERIFIER_JWKS_MAX_AGE_SECONDS: how long a verifier may use a fetched JWKS. A revoked key's
   * `until` adds it, so verifiers still holding the key keep refusing what it signs. Default 600.
   */
  verifierJwksMaxAgeSeconds?: number;
  /**
   * Longest `ttl + skew` of a token that may still be live (the TTL history's; default
   * accessTtlSeconds + clockSkewSeconds): how long a retired key stays published.
   */
  longestLiveTtlSeconds?: number;
  now: () => number;
  /** The heartbeat-signing keys: created with the token keys, rotated with them, served in the same JWKS. */
  eventKeys?: EventKeyStore;
}



/** A key as the admin API reports it (never the private part). */
export interface KeyInfo {
  kid: string;
  alg: SigningAlgorithm;
  status: KeyStatus;
  /** ISO 8601. */
  created_at: string;
  /** ISO 8601, when it started signing (null for the next key). */
  activated_at: string | null;
  /** ISO 8601, when it stopped signing (retired keys). */
  retired_at: string | null;
  /** ISO 8601 (revoked keys). */
  revoked_at: string | null;
  /** Whether `/.well-known/jwks.json` serves it right now. */
  published: boolean;
}

/** Result of a rotation: the promoted key, the one it replaced, and the freshly generated next key. */
export interface RotationResult {
  /** The key that signs from now on (the former next key). */
  kid: string;
  /** The key that signed until now (retired, still published until its tokens expired). */
  previousKid: string | null;
  /** The new next key (published, not signing). */
  nextKid: string;
}

/** What revoking a key did. */
export interface KeyRevocation {
  /**
   * Epoch seconds, the event's `until`: the last possible `exp` of a token it signed (over the
   * TTL history, + skew) plus the verifiers' JWKS cache age.
   */
  until: number;
  /** Epoch ms: when it last signed (its retirement, or now). */
  lastSignedAtMs: number;
  /** The key that signs instead (the promoted next key), or the new next key; null for a retired key. */
  replacedBy: string | null;
  nextKid: string | null;
}

/** Thrown at start when KEY_ENCRYPTION_KEY cannot decrypt the stored private keys. */
export class KeyDecryptionError extends Error {
  readonly code = 'ERR_AUTH_KEY_DECRYPT';
  constructor(kid: string, options?: { cause?: unknown }) {
    super(`KEY_ENCRYPTION_KEY does not decrypt signing key ${kid}: start with the key the database was created with`, options);
    this.name = 'KeyDecryptionError';
  }
}


/**
 * Signing keys, generated and stored by this service. Private keys are encrypted at rest
 * and decrypted only into this process's memory; they are never served.
 *
 * There is always one `active` key (signs) and one `next` key (published in the JWKS but
 * never used to sign). Rotation promotes the next key, so resource services that fetched
 * the JWKS at any time since the previous rotation already hold the key that signs after
 * it: no `unknown_kid` gap while their JWKS cache or refetch cooldown runs. Retired keys
 * stay in the JWKS until every token they signed has expired; revoked keys leave it at once.
 *
 * Every instance reads the active key from PostgreSQL in the transaction that signs, so a
 * rotation done by any instance applies to all of them at its commit; only decrypted
 * private keys (immutable per kid) are cached in memory.
 */
export class KeyStore {
  readonly #o: KeyStoreOptions;
  readonly #signers = new Map<string, Promise<SignerKey>>();

  constructor(options: KeyStoreOptions) {
    this.#o = options;
  }

  /**
   * Makes sure exactly one active and one next key exist (run at start; safe with many
   * instances). A database from before next keys existed gets its next key here.
   */
  async ensureKeys(): Promise<void> {
    const client = await this.#o.pool.connect();
    try {
      await client.query('BEGIN');
      await lockKeyMutations(client);
      const rows = await findActiveAndNext(client, false);
      const active = rows.find((r) => r.status === 'active');
      const next = rows.find((r) => r.status === 'next');
      if (active === undefined && next !== undefined) {
        // Only reachable by hand-editing the table: the published next key is the best successor.
        await this.#promoteNext(client, next.kid);
        await this.#insertNewKey(client, 'next');
      } else {
        if (active === undefined) await this.#insertNewKey(client, 'active');
        if (next === undefined) await this.#insertNewKey(client, 'next');
      }
      await this.#o.eventKeys?.ensure(client);
      await client.query('COMMIT');
      await this.#o.eventKeys?.activeSigner(client);
      // Fail at start, not on the first login or rotation, when the key encryption key is wrong.
      await this.activeSigner(client);
      const nextKey = await findKeyByStatus(client, 'next');
      if (nextKey !== undefined) await this.#signer(nextKey);
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  /** The current signing key, read inside the caller's transaction (other instances may have rotated). */
  async activeSigner(client: Db): Promise<SignerKey> {
    const row = await findKeyByStatus(client, 'active');
    if (row === undefined) throw new Error('no active signing key');
    const signer = this.#signer(row);
    // Another instance may have rotated or revoked: drop private keys that no longer sign.
    for (const kid of this.#signers.keys()) if (kid !== row.kid) this.#signers.delete(kid);
    return signer;
  }

  /** Public keys a token may currently be verified with (JWKS `keys`): active, next, and retired keys whose tokens may still be valid. */
  async publicKeys(client?: Db): Promise<JWK[]> {
    const rows = await findPublishedKeys(client ?? this.#o.pool, this.#oldestPublishedRetirement());
    return rows.map((r) => publicJwkFor(r.public_jwk, r.kid, r.alg));
  }

  /**
   * The JWKS document's keys: {@link publicKeys} (token keys) followed by the event-signing
   * keys (marked apart: `evt.` kid, `revocable_use: "event"`; never valid for a token).
   */
  async jwks(client?: Db): Promise<JWK[]> {
    const [tokenKeys, eventKeys] = await Promise.all([this.publicKeys(client), this.#o.eventKeys?.publicKeys(client) ?? []]);
    return [...tokenKeys, ...eventKeys];
  }

  /**
   * Promotes the next key to active, retires the active one (it stays published until its
   * tokens expired) and generates a new next key, in the caller's transaction.
   */
  async rotate(client: PoolClient): Promise<RotationResult> {
    // Serialises key mutations across instances; the row locks and the one-active /
    // one-next unique indexes back it up.
    await lockKeyMutations(client);
    const rows = await findActiveAndNext(client, true);
    const previousKid = rows.find((r) => r.status === 'active')?.kid ?? null;
    if (previousKid !== null) {
      await retireKey(client, previousKid, new Date(this.#o.now()));
    }
    const kid = await this.#promoteNext(client, rows.find((r) => r.status === 'next')?.kid);
    const nextKid = await this.#insertNewKey(client, 'next');
    // The event-signing keys rotate with the token keys (same transaction, same lock).
    await this.#o.eventKeys?.rotate(client);
    return { kid, previousKid, nextKid };
  }

  /**
   * Revokes `kid` at once. Returns the `until` of its `key.revoked` event (the last epoch
   * second a token it signed could be valid, plus the verifiers' JWKS cache age), or null if
   * it was already revoked. Revoking the active key
   * promotes the next key (already published, so verifiers accept its tokens at once);
   * revoking the active or the next key generates a new next key, in the same transaction.
   */
  async revoke(client: PoolClient, kid: string): Promise<KeyRevocation | null | 'not_found'> {
    await lockKeyMutations(client);
    const row = await lockKey(client, kid);
    if (row === undefined) return 'not_found';
    if (row.status === 'revoked') return null;
    const nowMs = this.#o.now();
    const lastSignedMs = row.status === 'retired' && row.retired_at !== null ? row.retired_at.getTime() : nowMs;
    const history = await loadTtlHistory(client, nowMs);
    const until = keyRevocationUntil(history, lastSignedMs, this.#o, this.#o.verifierJwksMaxAgeSeconds ?? 600);
    await markKeyRevoked(client, kid, new Date(nowMs));
    this.#signers.delete(kid);
    if (row.status === 'active') {
      const replacedBy = await this.#promoteNext(client, await lockNextKid(client));
      return { until, lastSignedAtMs: lastSignedMs, replacedBy, nextKid: await this.#insertNewKey(client, 'next') };
    }
    if (row.status === 'next') {
      const nextKid = await this.#insertNewKey(client, 'next');
      return { until, lastSignedAtMs: lastSignedMs, replacedBy: nextKid, nextKid };
    }
    return { until, lastSignedAtMs: lastSignedMs, replacedBy: null, nextKid: null };
  }

  /**
   * Rotates when the active key is older than `maxAgeSeconds` (scheduled rotation). Safe
   * with many instances: the lock lets one rotate, the others then see a young key.
   */
  async rotateIfOlderThan(client: PoolClient, maxAgeSeconds: number): Promise<RotationResult | null> {
    await lockKeyMutations(client);
    const row = await findKeyByStatus(client, 'active');
    // Age as the signing key: a promoted next key may have been created long before.
    const since = row === undefined ? undefined : (row.activated_at ?? row.created_at);
    if (since !== undefined && this.#o.now() - since.getTime() < maxAgeSeconds * 1000) return null;
    return this.rotate(client);
  }

  /** Every key with its status, newest first (admin view). */
  async list(): Promise<KeyInfo[]> {
    const rows = await listKeys(this.#o.pool, this.#oldestPublishedRetirement());
    return rows.map((r) => ({
      kid: r.kid,
      alg: r.alg,
      status: r.status,
      created_at: r.created_at.toISOString(),
      activated_at: r.activated_at?.toISOString() ?? null,
      retired_at: r.retired_at?.toISOString() ?? null,
      revoked_at: r.revoked_at?.toISOString() ?? null,
      published: r.published,
    }));
  }

  /** Retired keys retired after this instant are still published (their tokens may be valid). */
  #oldestPublishedRetirement(): Date {
    return new Date(this.#o.now() - (this.#o.longestLiveTtlSeconds ?? this.#o.accessTtlSeconds + this.#o.clockSkewSeconds) * 1000);
  }

  /** Makes `nextKid` active; without one (not expected after start) a brand-new key becomes active. */
  async #promoteNext(client: PoolClient, nextKid: string | undefined): Promise<string> {
    if (nextKid === undefined) return this.#insertNewKey(client, 'active');
    await activateKey(client, nextKid, new Date(this.#o.now()));
    return nextKid;
  }

  async #insertNewKey(client: PoolClient, status: 'active' | 'next'): Promise<string> {
    const material = await generateSigningKey(this.#o.alg);
    const sealed = seal(this.#o.keyEncryptionKey, Buffer.from(JSON.stringify(material.privateJwk), 'utf8'), material.kid);
    const now = new Date(this.#o.now());
    await insertKey(client, { kid: material.kid, alg: material.alg, publicJwk: material.publicJwk, ciphertext: sealed.ciphertext, iv: sealed.iv, tag: sealed.tag, status, now });
    return material.kid;
  }

  #signer(row: KeyRow): Promise<SignerKey> {
    let signer = this.#signers.get(row.kid);
    if (signer === undefined) {
      signer = (async () => {
        let plaintext: Buffer;
        try {
          plaintext = open(this.#o.keyEncryptionKey, { ciphertext: row.private_ciphertext, iv: row.private_iv, tag: row.private_tag }, row.kid);
        } catch (error) {
          throw new KeyDecryptionError(row.kid, { cause: error });
        }
        const jwk = JSON.parse(plaintext.toString('utf8')) as JWK;
        return { kid: row.kid, alg: row.alg, privateKey: await importPrivateKey(jwk, row.alg) };
      })();
      signer.catch(() => this.#signers.delete(row.kid));
      this.#signers.set(row.kid, signer);
    }
    return signer;
  }
}
