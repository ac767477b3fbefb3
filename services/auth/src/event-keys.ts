import type { JWK } from 'jose';
import { generateEventSigningKey, importEventSigner, type EventSigner } from '@revocable/events';
import { open, seal } from './crypto.ts';
import type { Pool } from './db.ts';
import type { Db } from './queries/db.ts';
import {
  activateEventKey,
  findActiveEventKey,
  findPublishedEventKeys,
  insertEventKey,
  lockActiveAndNextEventKeys,
  retireEventKey,
  type EventKeyRow,
} from './queries/event-signing-keys.ts';
import { KeyDecryptionError } from './keys.ts';

/** Options for {@link EventKeyStore}. */
export interface EventKeyStoreOptions {
  pool: Pool;
  /** KEY_ENCRYPTION_KEY (AES-256-GCM, AAD = kid). */
  keyEncryptionKey: Buffer;
  /**
   * How long a retired event key stays published, ms: the revocation topic's retention (a
   * heartbeat it signed may still be on the topic).
   */
  retentionMs: () => number;
  now: () => number;
}

/**
 * The event-signing keys (Ed25519) that sign heartbeats. Like the token keys: one `active`
 * key signs, one `next` key is published before it ever signs, a rotation (run by
 * `KeyStore.rotate`, in the same transaction as the token keys' rotation) promotes the
 * next key and retires the active one, which stays published for the topic's retention.
 * Private keys are encrypted at rest; the JWKS serves the public halves, marked for event
 * signing (`evt.` kid, `revocable_use: "event"`), which no verifier accepts for a token.
 */
export class EventKeyStore {
  readonly #o: EventKeyStoreOptions;
  readonly #signers = new Map<string, EventSigner>();

  constructor(options: EventKeyStoreOptions) {
    this.#o = options;
  }

  /** Makes sure one active and one next event key exist (caller holds the key-mutation lock). */
  async ensure(client: Db): Promise<void> {
    const rows = await lockActiveAndNextEventKeys(client);
    if (!rows.some((r) => r.status === 'active')) {
      const next = rows.find((r) => r.status === 'next');
      if (next !== undefined) await activateEventKey(client, next.kid, new Date(this.#o.now()));
      else await this.#insert(client, 'active');
      await this.#insert(client, 'next');
    } else if (!rows.some((r) => r.status === 'next')) {
      await this.#insert(client, 'next');
    }
  }

  /** Promotes the next event key, retires the active one, generates a new next key (caller's transaction, key-mutation lock held). */
  async rotate(client: Db): Promise<void> {
    const rows = await lockActiveAndNextEventKeys(client);
    const now = new Date(this.#o.now());
    const active = rows.find((r) => r.status === 'active');
    if (active !== undefined) await retireEventKey(client, active.kid, now);
    const next = rows.find((r) => r.status === 'next');
    if (next !== undefined) await activateEventKey(client, next.kid, now);
    else await this.#insert(client, 'active');
    await this.#insert(client, 'next');
  }

  /** The key that signs heartbeats now (read from the database: another instance may have rotated). */
  async activeSigner(db?: Db): Promise<EventSigner> {
    const row = await findActiveEventKey(db ?? this.#o.pool);
    if (row === undefined) throw new Error('no active event-signing key');
    let signer = this.#signers.get(row.kid);
    if (signer === undefined) {
      signer = this.#decrypt(row);
      this.#signers.clear();
      this.#signers.set(row.kid, signer);
    }
    return signer;
  }

  /** Public JWKs for the JWKS: active, next, and retired keys whose heartbeats may still be on the topic. */
  async publicKeys(db?: Db): Promise<JWK[]> {
    const rows = await findPublishedEventKeys(db ?? this.#o.pool, new Date(this.#o.now() - this.#o.retentionMs()));
    return rows.map((r) => r.public_jwk);
  }

  #decrypt(row: EventKeyRow): EventSigner {
    let plaintext: Buffer;
    try {
      plaintext = open(this.#o.keyEncryptionKey, { ciphertext: row.private_ciphertext, iv: row.private_iv, tag: row.private_tag }, row.kid);
    } catch (error) {
      throw new KeyDecryptionError(row.kid, { cause: error });
    }
    return importEventSigner(JSON.parse(plaintext.toString('utf8')) as JWK, row.kid);
  }

  async #insert(client: Db, status: 'active' | 'next'): Promise<string> {
    const material = generateEventSigningKey();
    const sealed = seal(this.#o.keyEncryptionKey, Buffer.from(JSON.stringify(material.privateJwk), 'utf8'), material.kid);
    await insertEventKey(client, { kid: material.kid, publicJwk: material.publicJwk as JWK, ...sealed, status, now: new Date(this.#o.now()) });
    return material.kid;
  }
}
