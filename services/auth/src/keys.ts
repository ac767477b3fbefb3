import type { JWK } from 'jose';
import { generateSigningKey, importPrivateKey, publicJwkFor, type SignerKey, type SigningAlgorithm } from '@revocable/tokens';
import { open, seal } from './crypto.ts';
import type { Pool, PoolClient } from './db.ts';

/** Options for {@link KeyStore}. */
export interface KeyStoreOptions {
  pool: Pool;
  /** KEY_ENCRYPTION_KEY: 32 bytes, AES-256-GCM key for private keys at rest. */
  keyEncryptionKey: Buffer;
  alg: SigningAlgorithm;
  accessTtlSeconds: number;
  clockSkewSeconds: number;
  now: () => number;
}

interface KeyRow {
  kid: string;
  alg: SigningAlgorithm;
  public_jwk: JWK;
  private_ciphertext: Buffer;
  private_iv: Buffer;
  private_tag: Buffer;
  status: 'active' | 'retired' | 'revoked';
  created_at: Date;
  retired_at: Date | null;
}

/** A key as the admin API reports it (never the private part). */
export interface KeyInfo {
  kid: string;
  alg: SigningAlgorithm;
  status: 'active' | 'retired' | 'revoked';
}

/** Thrown at start when KEY_ENCRYPTION_KEY cannot decrypt the stored private keys. */
export class KeyDecryptionError extends Error {
  readonly code = 'ERR_AUTH_KEY_DECRYPT';
  constructor(kid: string, options?: { cause?: unknown }) {
    super(`KEY_ENCRYPTION_KEY does not decrypt signing key ${kid}: start with the key the database was created with`, options);
    this.name = 'KeyDecryptionError';
  }
}

// Serialises key bootstrap, rotation and revocation across instances (arbitrary, project-specific constant).
const KEY_BOOTSTRAP_LOCK = 0x7265766f6b; // "revok"

/**
 * Signing keys, generated and stored by this service. Private keys are encrypted at rest
 * and decrypted only into this process's memory; they are never served. Retired keys
 * stay in the JWKS until every token they signed has expired; revoked keys leave it at once.
 */
export class KeyStore {
  readonly #o: KeyStoreOptions;
  readonly #signers = new Map<string, Promise<SignerKey>>();

  constructor(options: KeyStoreOptions) {
    this.#o = options;
  }

  /** Makes sure exactly one active key exists (run at start; safe with many instances). */
  async ensureActiveKey(): Promise<void> {
    const client = await this.#o.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [KEY_BOOTSTRAP_LOCK]);
      const { rowCount } = await client.query(`SELECT 1 FROM signing_keys WHERE status = 'active'`);
      if (rowCount === 0) await this.#insertNewKey(client);
      await client.query('COMMIT');
      // Fail at start, not on the first login, when the key encryption key is wrong.
      await this.activeSigner(client);
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  /** The current signing key, read inside the caller's transaction (other instances may have rotated). */
  async activeSigner(client: PoolClient): Promise<SignerKey> {
    const { rows } = await client.query<KeyRow>(`SELECT * FROM signing_keys WHERE status = 'active'`);
    const row = rows[0];
    if (row === undefined) throw new Error('no active signing key');
    return this.#signer(row);
  }

  /** Public keys a token may currently be verified with (JWKS `keys`). */
  async publicKeys(client?: PoolClient | Pool): Promise<JWK[]> {
    const db = client ?? this.#o.pool;
    const oldestValid = new Date(this.#o.now() - (this.#o.accessTtlSeconds + this.#o.clockSkewSeconds) * 1000);
    const { rows } = await db.query<KeyRow>(
      `SELECT kid, alg, public_jwk FROM signing_keys
        WHERE status = 'active' OR (status = 'retired' AND retired_at > $1)
        ORDER BY created_at DESC`,
      [oldestValid],
    );
    return rows.map((r) => publicJwkFor(r.public_jwk, r.kid, r.alg));
  }

  /** Makes a new key active; the old one is retired but stays published until its tokens expired. */
  async rotate(client: PoolClient): Promise<{ kid: string; previousKid: string | null }> {
    // Without the lock, two concurrent rotations would both retire the same key and the
    // second insert would hit the one-active-key index.
    await client.query('SELECT pg_advisory_xact_lock($1)', [KEY_BOOTSTRAP_LOCK]);
    const { rows } = await client.query<KeyRow>(`SELECT kid FROM signing_keys WHERE status = 'active' FOR UPDATE`);
    const previousKid = rows[0]?.kid ?? null;
    if (previousKid !== null) {
      await client.query(`UPDATE signing_keys SET status = 'retired', retired_at = $2 WHERE kid = $1`, [previousKid, new Date(this.#o.now())]);
    }
    const kid = await this.#insertNewKey(client);
    return { kid, previousKid };
  }

  /**
   * Revokes `kid` at once. Returns the last epoch second at which a token signed by it
   * could still be valid, or null if it was already revoked; a new active key replaces a
   * revoked active one in the same transaction.
   */
  async revoke(client: PoolClient, kid: string): Promise<{ until: number; replacedBy: string | null } | null | 'not_found'> {
    await client.query('SELECT pg_advisory_xact_lock($1)', [KEY_BOOTSTRAP_LOCK]);
    const { rows } = await client.query<KeyRow>(`SELECT kid, status, retired_at FROM signing_keys WHERE kid = $1 FOR UPDATE`, [kid]);
    const row = rows[0];
    if (row === undefined) return 'not_found';
    if (row.status === 'revoked') return null;
    const nowMs = this.#o.now();
    const lastSignedMs = row.status === 'retired' && row.retired_at !== null ? row.retired_at.getTime() : nowMs;
    const until = Math.ceil(lastSignedMs / 1000) + this.#o.accessTtlSeconds + this.#o.clockSkewSeconds;
    await client.query(`UPDATE signing_keys SET status = 'revoked', revoked_at = $2 WHERE kid = $1`, [kid, new Date(nowMs)]);
    this.#signers.delete(kid);
    const replacedBy = row.status === 'active' ? await this.#insertNewKey(client) : null;
    return { until, replacedBy };
  }

  /**
   * Rotates when the active key is older than `maxAgeSeconds` (scheduled rotation). Safe
   * with many instances: the lock lets one rotate, the others then see a young key.
   */
  async rotateIfOlderThan(client: PoolClient, maxAgeSeconds: number): Promise<{ kid: string; previousKid: string | null } | null> {
    await client.query('SELECT pg_advisory_xact_lock($1)', [KEY_BOOTSTRAP_LOCK]);
    const { rows } = await client.query<KeyRow>(`SELECT created_at FROM signing_keys WHERE status = 'active'`);
    const created = rows[0]?.created_at;
    if (created !== undefined && this.#o.now() - created.getTime() < maxAgeSeconds * 1000) return null;
    return this.rotate(client);
  }

  /** Every key with its status (admin view). */
  async list(): Promise<KeyInfo[]> {
    const { rows } = await this.#o.pool.query<KeyRow>(`SELECT kid, alg, status FROM signing_keys ORDER BY created_at DESC`);
    return rows.map((r) => ({ kid: r.kid, alg: r.alg, status: r.status }));
  }

  async #insertNewKey(client: PoolClient): Promise<string> {
    const material = await generateSigningKey(this.#o.alg);
    const sealed = seal(this.#o.keyEncryptionKey, Buffer.from(JSON.stringify(material.privateJwk), 'utf8'), material.kid);
    await client.query(
      `INSERT INTO signing_keys (kid, alg, public_jwk, private_ciphertext, private_iv, private_tag, status, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, 'active', $7)`,
      [material.kid, material.alg, material.publicJwk, sealed.ciphertext, sealed.iv, sealed.tag, new Date(this.#o.now())],
    );
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
