import { EventKeyRing, type EventJwk } from '@revocable/events';
import type { Logger } from '@revocable/protocol';

/** Options of {@link JwksEventKeys}. */
export interface JwksEventKeysOptions {
  /** The issuer's JWKS (the same document the token keys come from). */
  url: URL;
  /** Least time between two refetches caused by an unknown heartbeat kid, ms. */
  cooldownMs: number;
  /** Refetch at least this often, ms. */
  maxAgeMs: number;
  /** One fetch's time limit, ms. Default 3000. */
  timeoutMs?: number;
  logger: Pick<Logger, 'warn'>;
}

/**
 * The event-signing keys of the issuer's JWKS, for heartbeat verification: fetched at
 * {@link start}, refetched every `maxAgeMs` and when a heartbeat names an unknown kid (at
 * most once per `cooldownMs`, so a flood of forged kids costs one fetch per cooldown). Only
 * keys marked for event signing are kept (`isEventSigningJwk`); a failed fetch keeps the
 * previous keys.
 */
export class JwksEventKeys {
  readonly ring: EventKeyRing;
  readonly #o: JwksEventKeysOptions;
  #lastFetchAt = Number.NEGATIVE_INFINITY;
  #inFlight: Promise<void> | null = null;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: JwksEventKeysOptions) {
    this.#o = options;
    this.ring = new EventKeyRing({ onUnknownKid: () => void this.refresh(false) });
  }

  /** First fetch now, then every `maxAgeMs` (the timer does not hold the process open). */
  start(): Promise<void> {
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => void this.refresh(true), this.#o.maxAgeMs);
      this.#timer.unref();
    }
    return this.refresh(true);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Refetches the JWKS (`force`: even within the cooldown). Never rejects. */
  refresh(force: boolean): Promise<void> {
    if (this.#inFlight !== null) return this.#inFlight;
    const now = performance.now();
    if (!force && now - this.#lastFetchAt < this.#o.cooldownMs) return Promise.resolve();
    this.#lastFetchAt = now;
    this.#inFlight = (async () => {
      try {
        const response = await fetch(this.#o.url, { signal: AbortSignal.timeout(this.#o.timeoutMs ?? 3000), headers: { accept: 'application/json' } });
        if (!response.ok) throw new Error(`JWKS answered ${response.status}`);
        const body = (await response.json()) as { keys?: unknown };
        if (!Array.isArray(body.keys)) throw new Error('JWKS has no keys array');
        this.ring.replace(body.keys.filter((k): k is EventJwk => typeof k === 'object' && k !== null));
      } catch (error) {
        this.#o.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'event-signing keys could not be fetched; heartbeats signed by unknown keys do not count');
      } finally {
        this.#inFlight = null;
      }
    })();
    return this.#inFlight;
  }
}
