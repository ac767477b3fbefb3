import type { EventBuilder } from '@revocable/events';
import { withTransaction, type Pool } from '../db.ts';
import { AuthError } from '../errors.ts';
import type { CachedKeyResolver } from '../key-resolver.ts';
import type { KeyInfo, KeyStore, RotationResult } from '../keys.ts';
import { enqueueEvent } from '../outbox.ts';
import type { ServiceContext } from './context.ts';

/** What {@link KeyAdminService} needs. */
export interface KeyAdminServiceOptions extends ServiceContext {
  pool: Pool;
  keys: KeyStore;
  /** Invalidated after every change committed here, so this instance verifies with the new set at once. */
  resolver: CachedKeyResolver;
  events: EventBuilder;
}

/** Key administration: rotation (manual and scheduled), emergency revocation, the admin list. */
export class KeyAdminService {
  readonly #o: KeyAdminServiceOptions;

  constructor(options: KeyAdminServiceOptions) {
    this.#o = options;
  }

  /**
   * Admin: promotes the pre-published next key to active and generates a new next key;
   * tokens of the previous key stay valid until they expire.
   */
  async rotateKey(): Promise<RotationResult> {
    const result = await withTransaction(this.#o.pool, (client) => this.#o.keys.rotate(client));
    this.#o.resolver.invalidate();
    this.#o.log?.info({ event: 'key.rotated', kid: result.kid, previousKid: result.previousKid, nextKid: result.nextKid }, 'signing key rotated');
    return result;
  }

  /** Scheduled rotation (KEY_ROTATION_INTERVAL_SECONDS): rotates if the active key is that old. */
  async rotateKeyIfDue(maxAgeSeconds: number): Promise<RotationResult | null> {
    const result = await withTransaction(this.#o.pool, (client) => this.#o.keys.rotateIfOlderThan(client, maxAgeSeconds));
    if (result !== null) {
      this.#o.resolver.invalidate();
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
    try {
      return await withTransaction(this.#o.pool, async (client) => {
        const result = await this.#o.keys.revoke(client, kid);
        if (result === 'not_found') throw new AuthError('ERR_AUTH_NOT_FOUND', 'no such key');
        if (result === null) return { kid, until: null, replacedBy: null, nextKid: null };
        this.#o.log?.warn({ event: 'key.revoked', kid, until: result.until, replacedBy: result.replacedBy, nextKid: result.nextKid }, 'signing key revoked');
        await enqueueEvent(client, this.#o.events.keyRevoked({ kid, lastSignedAtMs: result.lastSignedAtMs, atMs: this.#o.now(), until: result.until }));
        this.#o.metrics?.revocations.inc({ type: 'key.revoked', reason: 'admin' });
        return { kid, until: result.until, replacedBy: result.replacedBy, nextKid: result.nextKid };
      });
    } finally {
      // Also after a failure: the transaction may have committed before the answer was lost.
      this.#o.resolver.invalidate();
    }
  }

  /** Every key with its status, newest first (admin view). */
  list(): Promise<KeyInfo[]> {
    return this.#o.keys.list();
  }
}
