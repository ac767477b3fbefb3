import { randomUUID } from 'node:crypto';
import type {
  HeartbeatEvent,
  KeyRevokedEvent,
  SessionRevokedEvent,
  SessionRevokeReason,
  TokenRevokedEvent,
  UserRevokedEvent,
  UserRevokeReason,
} from './schema.ts';

/**
 * What the expiry (`until`) of a revocation depends on: the issuer's longest access-token
 * lifetime and the clock skew verifiers tolerate. Both in seconds.
 */
export interface RevocationWindow {
  /** ACCESS_TTL_SECONDS of the issuer. */
  accessTtlSeconds: number;
  /** CLOCK_SKEW_SECONDS: added to every `until`. */
  clockSkewSeconds: number;
}

/**
 * The `until` rule of schema v1, in epoch seconds:
 * - a session, user or key revocation covers tokens issued up to `lastIssuedAtMs`, so it
 *   must be remembered until `ceil(lastIssuedAtMs / 1000) + accessTtlSeconds + clockSkewSeconds`;
 * - a single token (`token.revoked`) only until its own `exp + clockSkewSeconds`.
 *
 * @example revocationUntil(Date.now(), { accessTtlSeconds: 900, clockSkewSeconds: 30 })
 */
export function revocationUntil(lastIssuedAtMs: number, window: RevocationWindow): number {
  return Math.ceil(lastIssuedAtMs / 1000) + window.accessTtlSeconds + window.clockSkewSeconds;
}

/** `until` of a `token.revoked` event for a token whose `exp` is `expSeconds`. */
export function tokenRevocationUntil(expSeconds: number, window: Pick<RevocationWindow, 'clockSkewSeconds'>): number {
  return expSeconds + window.clockSkewSeconds;
}

/** Options for {@link createEventBuilder}. */
export interface EventBuilderOptions extends RevocationWindow {
  /** Event ids; default `crypto.randomUUID`. */
  newId?: () => string;
}

/**
 * Builds schema-v1 events with the envelope (`v`, `id`, `at`) and the `until` rule filled
 * in, so producers never write either by hand. `atMs` is when the change committed (epoch ms).
 *
 * @example
 * const events = createEventBuilder({ accessTtlSeconds: 900, clockSkewSeconds: 30 });
 * const event = events.sessionRevoked({ sub, sid, reason: 'logout', atMs: Date.now() });
 */
export interface EventBuilder {
  sessionRevoked(input: { sub: string; sid: string; reason: SessionRevokeReason; atMs: number }): SessionRevokedEvent;
  userRevoked(input: { sub: string; minVer: number; reason: UserRevokeReason; atMs: number }): UserRevokedEvent;
  /** `exp`: the revoked token's own expiry, epoch seconds. */
  tokenRevoked(input: { sub: string; jti: string; exp: number; atMs: number }): TokenRevokedEvent;
  /**
   * `lastSignedAtMs`: the last instant the key signed (its retirement, or now if it was still
   * signing). `until`: a later expiry the issuer computed (e.g. its TTL history plus the
   * verifiers' JWKS cache age); the event carries the later of it and the rule's.
   */
  keyRevoked(input: { kid: string; lastSignedAtMs: number; atMs: number; until?: number }): KeyRevokedEvent;
  heartbeat(input: { source: string; atMs: number }): HeartbeatEvent;
}

export function createEventBuilder(options: EventBuilderOptions): EventBuilder {
  const newId = options.newId ?? randomUUID;
  const envelope = (atMs: number) => ({ v: 1 as const, id: newId(), at: atMs });
  return {
    sessionRevoked: ({ sub, sid, reason, atMs }) => ({ ...envelope(atMs), type: 'session.revoked', sub, sid, reason, until: revocationUntil(atMs, options) }),
    userRevoked: ({ sub, minVer, reason, atMs }) => ({ ...envelope(atMs), type: 'user.revoked', sub, minVer, reason, until: revocationUntil(atMs, options) }),
    tokenRevoked: ({ sub, jti, exp, atMs }) => ({ ...envelope(atMs), type: 'token.revoked', sub, jti, until: tokenRevocationUntil(exp, options) }),
    keyRevoked: ({ kid, lastSignedAtMs, atMs, until }) => ({ ...envelope(atMs), type: 'key.revoked', kid, until: Math.max(until ?? 0, revocationUntil(lastSignedAtMs, options)) }),
    heartbeat: ({ source, atMs }) => ({ ...envelope(atMs), type: 'heartbeat', source }),
  };
}
