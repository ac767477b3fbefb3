/**
 * Revocation event schema, version 1.
 *
 * Every event is one JSON object per Kafka record. Revocation events carry `until`: the
 * epoch second after which no token they cover can still be valid, so a consumer can
 * forget the entry then without knowing the issuer's TTL settings.
 */

import { CodedError, EVENT_TYPES, type EventRejectCode, type EventType } from '@revocable/protocol';

/** Current schema version written by producers. Consumers accept versions they know. */
export const EVENT_SCHEMA_VERSION = 1;

/** Largest record value a consumer parses (bytes); larger records are skipped and counted. */
export const MAX_EVENT_BYTES = 16 * 1024;

/** Why a session was revoked; carried for audit and metrics, never used for decisions. */
export type SessionRevokeReason =
  | 'logout'
  | 'user_deleted_session'
  | 'reuse_detected'
  | 'session_cap'
  | 'idle_timeout'
  | 'absolute_timeout'
  | 'password_changed'
  | 'admin';

export type UserRevokeReason = 'logout_all' | 'password_changed' | 'account_disabled' | 'admin';

interface EventBase {
  /** Schema version. */
  v: 1;
  /** Unique id of the event (UUID). Applying the same id twice is harmless. */
  id: string;
  /** When the auth service committed the change, epoch milliseconds. */
  at: number;
}

/** Denies every access token carrying `sid`. */
export interface SessionRevokedEvent extends EventBase {
  type: 'session.revoked';
  sub: string;
  sid: string;
  reason: SessionRevokeReason;
  /** Epoch seconds: revokedAt + max access TTL. */
  until: number;
}

/** Denies tokens of `sub` whose `ver` is lower than `minVer`. */
export interface UserRevokedEvent extends EventBase {
  type: 'user.revoked';
  sub: string;
  minVer: number;
  reason: UserRevokeReason;
  /** Epoch seconds: revokedAt + max access TTL. */
  until: number;
}

/** Denies one access token by `jti` (RFC 7009 revocation). */
export interface TokenRevokedEvent extends EventBase {
  type: 'token.revoked';
  sub: string;
  jti: string;
  /** Epoch seconds: the token's own `exp`. */
  until: number;
}

/** Denies everything signed by `kid` (emergency key revocation). */
export interface KeyRevokedEvent extends EventBase {
  type: 'key.revoked';
  kid: string;
  /** Epoch seconds: the last possible `exp` of a token signed by this key. */
  until: number;
}

/** Proves the pipe is live; sent to every partition about once a second. */
export interface HeartbeatEvent extends EventBase {
  type: 'heartbeat';
  /** Which relay sent it (instance id), for diagnostics. */
  source: string;
  /** The event-signing key (`evt.…`) that signed it; verifiers count only signed heartbeats. */
  kid?: string;
  /** Ed25519 signature, base64url, over `heartbeatSigningInput` (topic, partition, kid, id, at, source). */
  sig?: string;
}

export type RevocationEvent = SessionRevokedEvent | UserRevokedEvent | TokenRevokedEvent | KeyRevokedEvent;
export type RevocableEvent = RevocationEvent | HeartbeatEvent;
// The type names and reject codes are part of the wire contract (@revocable/protocol).
export { EVENT_TYPES, type EventType };

/** Kafka record key: events are keyed by `sub` so one user's events stay ordered. */
export function eventKey(event: RevocableEvent): string | null {
  switch (event.type) {
    case 'session.revoked':
    case 'user.revoked':
    case 'token.revoked':
      return event.sub;
    case 'key.revoked':
      return `kid:${event.kid}`;
    case 'heartbeat':
      return null;
  }
}

export type { EventRejectCode };

/** Thrown by {@link encodeEvent} when a producer tries to publish an invalid event. */
export class EventValidationError extends CodedError<EventRejectCode> {}

export type ParseResult =
  | { ok: true; event: RevocableEvent }
  | { ok: false; code: EventRejectCode; detail: string };

const MAX_ID_LENGTH = 256;

function isId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_LENGTH;
}

function isEpochSeconds(value: unknown): value is number {
  // Up to year 9999; rejects NaN, Infinity, negatives and fractions.
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= 253_402_300_799;
}

function isEpochMillis(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= 253_402_300_799_999;
}

function isVersion(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= 2_147_483_647;
}

const SESSION_REASONS = new Set<string>([
  'logout',
  'user_deleted_session',
  'reuse_detected',
  'session_cap',
  'idle_timeout',
  'absolute_timeout',
  'password_changed',
  'admin',
]);
const USER_REASONS = new Set<string>(['logout_all', 'password_changed', 'account_disabled', 'admin']);

/**
 * Validates an already-decoded value against schema v1. Returns the typed event, or the
 * reject code. Extra fields are ignored (forward compatibility within a version).
 */
export function validateEvent(value: unknown): ParseResult {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, code: 'ERR_EVENT_INVALID', detail: 'event is not an object' };
  }
  const o = value as Record<string, unknown>;
  if (o['v'] !== EVENT_SCHEMA_VERSION) {
    return { ok: false, code: 'ERR_EVENT_UNSUPPORTED_VERSION', detail: `unsupported version ${String(o['v'])}` };
  }
  if (!isId(o['id'])) return invalid('id');
  if (!isEpochMillis(o['at'])) return invalid('at');
  const base = { v: 1 as const, id: o['id'], at: o['at'] };
  switch (o['type']) {
    case 'session.revoked':
      if (!isId(o['sub'])) return invalid('sub');
      if (!isId(o['sid'])) return invalid('sid');
      if (typeof o['reason'] !== 'string' || !SESSION_REASONS.has(o['reason'])) return invalid('reason');
      if (!isEpochSeconds(o['until'])) return invalid('until');
      return {
        ok: true,
        event: { ...base, type: 'session.revoked', sub: o['sub'], sid: o['sid'], reason: o['reason'] as SessionRevokeReason, until: o['until'] },
      };
    case 'user.revoked':
      if (!isId(o['sub'])) return invalid('sub');
      if (!isVersion(o['minVer'])) return invalid('minVer');
      if (typeof o['reason'] !== 'string' || !USER_REASONS.has(o['reason'])) return invalid('reason');
      if (!isEpochSeconds(o['until'])) return invalid('until');
      return {
        ok: true,
        event: { ...base, type: 'user.revoked', sub: o['sub'], minVer: o['minVer'], reason: o['reason'] as UserRevokeReason, until: o['until'] },
      };
    case 'token.revoked':
      if (!isId(o['sub'])) return invalid('sub');
      if (!isId(o['jti'])) return invalid('jti');
      if (!isEpochSeconds(o['until'])) return invalid('until');
      return { ok: true, event: { ...base, type: 'token.revoked', sub: o['sub'], jti: o['jti'], until: o['until'] } };
    case 'key.revoked':
      if (!isId(o['kid'])) return invalid('kid');
      if (!isEpochSeconds(o['until'])) return invalid('until');
      return { ok: true, event: { ...base, type: 'key.revoked', kid: o['kid'], until: o['until'] } };
    case 'heartbeat':
      if (!isId(o['source'])) return invalid('source');
      if (o['kid'] !== undefined && !isId(o['kid'])) return invalid('kid');
      if (o['sig'] !== undefined && !(typeof o['sig'] === 'string' && o['sig'].length <= 256)) return invalid('sig');
      return {
        ok: true,
        event: {
          ...base,
          type: 'heartbeat',
          source: o['source'],
          ...(o['kid'] !== undefined ? { kid: o['kid'] as string } : {}),
          ...(o['sig'] !== undefined ? { sig: o['sig'] as string } : {}),
        },
      };
    default:
      return { ok: false, code: 'ERR_EVENT_UNKNOWN_TYPE', detail: `unknown type ${JSON.stringify(o['type'])?.slice(0, 64)}` };
  }
}

function invalid(field: string): ParseResult {
  return { ok: false, code: 'ERR_EVENT_INVALID', detail: `missing or invalid field "${field}"` };
}

/** Parses one Kafka record value. Never throws: bad input yields a reject code. */
export function parseEvent(value: Uint8Array | string | null | undefined): ParseResult {
  if (value === null || value === undefined) {
    return { ok: false, code: 'ERR_EVENT_INVALID', detail: 'empty record value' };
  }
  const size = typeof value === 'string' ? Buffer.byteLength(value) : value.byteLength;
  if (size > MAX_EVENT_BYTES) {
    return { ok: false, code: 'ERR_EVENT_TOO_LARGE', detail: `record of ${size} bytes exceeds ${MAX_EVENT_BYTES}` };
  }
  let decoded: unknown;
  try {
    const text = typeof value === 'string' ? value : new TextDecoder('utf-8', { fatal: true }).decode(value);
    decoded = JSON.parse(text);
  } catch {
    return { ok: false, code: 'ERR_EVENT_NOT_JSON', detail: 'record value is not UTF-8 JSON' };
  }
  return validateEvent(decoded);
}

/**
 * Serialises an event for publishing. Validates first, so a producer can never put an
 * event on the topic that consumers would skip.
 */
export function encodeEvent(event: RevocableEvent): Buffer {
  const checked = validateEvent(event);
  if (!checked.ok) throw new EventValidationError(checked.code, checked.detail);
  const bytes = Buffer.from(JSON.stringify(event));
  if (bytes.byteLength > MAX_EVENT_BYTES) {
    throw new EventValidationError('ERR_EVENT_TOO_LARGE', `event of ${bytes.byteLength} bytes exceeds ${MAX_EVENT_BYTES}`);
  }
  return bytes;
}
