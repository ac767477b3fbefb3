/**
 * Revocable's wire contract, in one place: what travels between the auth service, the
 * resource services, the revocation topic and the clients. Pure TypeScript with no
 * dependencies and no Node.js APIs, so the browser SDK can carry it too.
 *
 * @packageDocumentation
 */

// ---------------------------------------------------------------------------------------
// Header names (lower case, as Node.js and fetch's Headers expose them)
// ---------------------------------------------------------------------------------------

/** `Authorization: Bearer <token>` (RFC 6750 §2.1). */
export const AUTHORIZATION_HEADER = 'authorization';
/** The challenge of a 401/403 answer (RFC 6750 §3). */
export const WWW_AUTHENTICATE_HEADER = 'www-authenticate';
/** Seconds a client should wait before retrying a 503/429 answer. */
export const RETRY_AFTER_HEADER = 'retry-after';
/**
 * Header a browser must send with cookie-authenticated calls to the auth service (CSRF
 * defence: a cross-site form or simple request cannot set it without a CORS preflight).
 * Any non-empty value; the SDK sends `1`.
 */
export const CSRF_HEADER = 'x-csrf-protection';

// ---------------------------------------------------------------------------------------
// Bearer header grammar
// ---------------------------------------------------------------------------------------

/**
 * Longest `Authorization` header looked at, in characters (default of
 * {@link parseBearer}'s `maxHeaderLength`); anything longer is `token_too_large`.
 */
export const MAX_AUTHORIZATION_HEADER_LENGTH = 16 * 1024;

/** Why {@link parseBearer} found no usable token. */
export type BearerFailure = 'missing_token' | 'malformed' | 'token_too_large';

/** What {@link parseBearer} returns: the token, or why there is none. */
export type BearerResult = { ok: true; token: string } | { ok: false; reason: BearerFailure };

const MISSING: BearerResult = Object.freeze({ ok: false, reason: 'missing_token' });
const MALFORMED: BearerResult = Object.freeze({ ok: false, reason: 'malformed' });
const TOO_LARGE: BearerResult = Object.freeze({ ok: false, reason: 'token_too_large' });

const SPACE = 0x20;
const EQUALS = 0x3d;
// token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const TOKEN68_CHAR = (() => {
  const table = new Uint8Array(128);
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/';
  for (let i = 0; i < chars.length; i++) table[chars.charCodeAt(i)] = 1;
  return table;
})();
// "bearer", lower case; header bytes are folded with | 0x20 (letters only, checked below).
const SCHEME = [0x62, 0x65, 0x61, 0x72, 0x65, 0x72] as const;

/**
 * Parses an `Authorization` header value as RFC 6750 §2.1 credentials:
 * `Bearer 1*SP token68`, the scheme case-insensitive, trailing spaces tolerated, exactly
 * one token. No regular expression: one pass over the characters.
 *
 * @param header - the raw header value (`undefined` when absent).
 * @param maxHeaderLength - longer headers are refused as `token_too_large` before being
 *   read, characters. Default {@link MAX_AUTHORIZATION_HEADER_LENGTH} (16384).
 * @returns `{ ok: true, token }`, or `{ ok: false, reason }` with `missing_token` (absent,
 *   empty, or credentials of another scheme such as `Basic`: RFC 6750 §3.1 treats those as no
 *   bearer credentials, answered without an error code), `token_too_large` or `malformed`
 *   (no token, characters outside token68, more than one token).
 * @example
 * ```ts
 * const bearer = parseBearer(request.headers.authorization);
 * if (!bearer.ok) return reply.code(401).send({ reason: bearer.reason });
 * verify(bearer.token);
 * ```
 */
export function parseBearer(header: string | undefined, maxHeaderLength: number = MAX_AUTHORIZATION_HEADER_LENGTH): BearerResult {
  const located = locateBearer(header, maxHeaderLength);
  return located.ok && !isToken68(located.token) ? MALFORMED : located;
}

/**
 * {@link parseBearer} without its character check: the token is what follows
 * `Bearer 1*SP` up to the first space, with nothing but spaces after it, and may still hold
 * characters outside token68. For a caller that first looks the token up among tokens it
 * has already verified (an exact match proves the characters) and calls {@link isToken68}
 * only on a miss: the check reads every character of a ~500-character token, and a
 * cache-hit request need not pay for it.
 * @example
 * ```ts
 * const bearer = locateBearer(request.headers.authorization);
 * if (!bearer.ok) return refuse(bearer.reason);
 * const known = verified.get(bearer.token);
 * if (known === undefined && !isToken68(bearer.token)) return refuse('malformed');
 * ```
 */
export function locateBearer(header: string | undefined, maxHeaderLength: number = MAX_AUTHORIZATION_HEADER_LENGTH): BearerResult {
  if (header === undefined || header.length === 0) return MISSING;
  const length = header.length;
  if (length > maxHeaderLength) return TOO_LARGE;
  if (isOtherScheme(header)) return MISSING;
  if (length < SCHEME.length + 2) return MALFORMED;
  for (let i = 0; i < SCHEME.length; i++) {
    // Every scheme character is a letter, so folding with 0x20 cannot create a false match
    // from a non-letter ('B' | 0x20 === 'b'; '"' | 0x20 === '"').
    if ((header.charCodeAt(i) | 0x20) !== SCHEME[i]) return MALFORMED;
  }
  let i: number = SCHEME.length;
  if (header.charCodeAt(i) !== SPACE) return MALFORMED;
  while (i < length && header.charCodeAt(i) === SPACE) i++;
  if (i === length) return MALFORMED;
  const start = i;
  // indexOf runs natively; the token itself is only read by isToken68.
  const space = header.indexOf(' ', start);
  const end = space === -1 ? length : space;
  for (i = end; i < length; i++) if (header.charCodeAt(i) !== SPACE) return MALFORMED;
  return { ok: true, token: header.slice(start, end) };
}

/** Whether `token` is an RFC 7235 token68: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`. */
export function isToken68(token: string): boolean {
  const length = token.length;
  let i = 0;
  while (i < length) {
    const c = token.charCodeAt(i);
    if (c >= 128 || TOKEN68_CHAR[c] !== 1) break;
    i++;
  }
  if (i === 0) return false;
  while (i < length && token.charCodeAt(i) === EQUALS) i++;
  return i === length;
}

// tchar of RFC 9110 §5.6.2, the characters of an auth-scheme name.
const TCHAR = (() => {
  const table = new Uint8Array(128);
  const chars = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  for (let i = 0; i < chars.length; i++) table[chars.charCodeAt(i)] = 1;
  return table;
})();

/** Whether the header opens with an auth-scheme other than Bearer (`Basic …`, `Negotiate`). */
function isOtherScheme(header: string): boolean {
  let end = 0;
  while (end < header.length) {
    const c = header.charCodeAt(end);
    if (c >= 128 || TCHAR[c] !== 1) break;
    end++;
  }
  if (end === 0 || (end < header.length && header.charCodeAt(end) !== SPACE)) return false;
  // Anything starting with "bearer" is a (possibly broken) bearer credential.
  if (end < SCHEME.length) return true;
  for (let i = 0; i < SCHEME.length; i++) {
    if ((header.charCodeAt(i) | 0x20) !== SCHEME[i]) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------
// Refusal reasons (the `reason` field of error bodies)
// ---------------------------------------------------------------------------------------

/**
 * Why an access token was refused: the `reason` of a 401 `invalid_token` answer (and of
 * `TokenVerificationError`). Stable, machine-readable, safe to show to clients: none of
 * them reveal key material or internals.
 */
export const TOKEN_REJECT_REASONS = [
  'malformed',
  'token_too_large',
  'unsupported_alg',
  'forbidden_header',
  'bad_typ',
  'unknown_kid',
  'bad_signature',
  'expired',
  'not_yet_valid',
  'wrong_issuer',
  'wrong_audience',
  'invalid_claims',
  'keys_unavailable',
  'revoked',
] as const;
export type TokenRejectReason = (typeof TOKEN_REJECT_REASONS)[number];

/** A protected route was called without credentials (401, challenge without error code). */
export const MISSING_TOKEN = 'missing_token';

/** The token lacks a scope the route requires (403 `insufficient_scope`). */
export const INSUFFICIENT_SCOPE = 'insufficient_scope';

/**
 * Why a resource service answered 503 `temporarily_unavailable` instead of deciding:
 * `not_ready` (still replaying the revocation topic), `stale_revocation_state` (older than
 * the route's freshness bound, policy fail-closed), `introspection_failed` (the issuer could
 * not answer), `keys_unavailable` (signing keys could not be fetched), `denylist_overflow` (a
 * revocation was refused at the denylist's cap, so the local state may miss it: every token the
 * denylist does not deny by itself is refused until that entry would have expired).
 */
export const UNAVAILABLE_REASONS = ['not_ready', 'stale_revocation_state', 'introspection_failed', 'keys_unavailable', 'denylist_overflow'] as const;
export type UnavailableReason = (typeof UNAVAILABLE_REASONS)[number];

/** The `reason` of a resource service's 401 answer. */
export type UnauthorizedReason = TokenRejectReason | typeof MISSING_TOKEN;

/** Every `reason` a resource service's refusal can carry (401, 403 or 503). */
export type AccessRefusalReason = UnauthorizedReason | typeof INSUFFICIENT_SCOPE | UnavailableReason;

/**
 * Why `/oauth/token` refused a refresh token: the `reason` next to `error: "invalid_grant"`.
 * Deliberately coarse (no who, when or which device):
 * - `reuse_detected`: the token had already been rotated; the whole session is now revoked.
 * - `session_revoked`: the session was ended (logout, logout-all, admin, password change,
 *   session cap eviction, account disabled, or reuse detected on another copy of its tokens).
 * - `session_expired`: the session outlived its idle or absolute lifetime.
 * - `unknown_token`: not a refresh token the service knows (malformed, never issued, purged).
 */
export const REFRESH_REFUSAL_REASONS = ['reuse_detected', 'session_revoked', 'session_expired', 'unknown_token'] as const;
export type RefreshRefusalReason = (typeof REFRESH_REFUSAL_REASONS)[number];

// ---------------------------------------------------------------------------------------
// Revocation topic: event types, skip codes
// ---------------------------------------------------------------------------------------

/** The `type` of every record on the revocation topic (schema version 1). */
export const EVENT_TYPES = ['session.revoked', 'user.revoked', 'token.revoked', 'key.revoked', 'heartbeat'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Stable codes for records that cannot be parsed or validated; consumers count them. */
export const EVENT_REJECT_CODES = [
  'ERR_EVENT_TOO_LARGE',
  'ERR_EVENT_NOT_JSON',
  'ERR_EVENT_UNSUPPORTED_VERSION',
  'ERR_EVENT_UNKNOWN_TYPE',
  'ERR_EVENT_INVALID',
] as const;
export type EventRejectCode = (typeof EVENT_REJECT_CODES)[number];

/** A valid event whose application threw; skipped and counted like a rejected record. */
export const EVENT_APPLY_FAILED = 'ERR_EVENT_APPLY_FAILED';

/**
 * Why a schema-valid heartbeat was not counted for freshness:
 * - `ERR_HEARTBEAT_UNSIGNED`: it carries no `kid`/`sig`;
 * - `ERR_HEARTBEAT_UNKNOWN_KEY`: its `kid` is no event-signing key of the issuer's JWKS
 *   (token keys never count);
 * - `ERR_HEARTBEAT_BAD_SIGNATURE`: the signature does not verify (forged, or copied to
 *   another topic or partition);
 * - `ERR_HEARTBEAT_REPLAYED`: its `at` is not newer than the newest valid heartbeat of its partition;
 * - `ERR_HEARTBEAT_SKEWED`: its `at` is further than the allowed skew from the local clock
 *   (future- or past-dated; also every old heartbeat a starting instance replays).
 */
export const HEARTBEAT_REJECT_CODES = [
  'ERR_HEARTBEAT_UNSIGNED',
  'ERR_HEARTBEAT_UNKNOWN_KEY',
  'ERR_HEARTBEAT_BAD_SIGNATURE',
  'ERR_HEARTBEAT_REPLAYED',
  'ERR_HEARTBEAT_SKEWED',
] as const;
export type HeartbeatRejectCode = (typeof HEARTBEAT_REJECT_CODES)[number];

/**
 * Every code a consumer skips a record for: the reject codes, {@link EVENT_APPLY_FAILED},
 * and the heartbeat codes.
 */
export const SKIP_CODES = [...EVENT_REJECT_CODES, EVENT_APPLY_FAILED, ...HEARTBEAT_REJECT_CODES] as const;
export type SkipCode = (typeof SKIP_CODES)[number];

/**
 * Event-signing keys in the issuer's JWKS: `kid` starts with this prefix (a character
 * outside base64url, so no RFC 7638 thumbprint kid of a token key can carry it) and the
 * JWK has `use: "sig"` plus {@link EVENT_KEY_MEMBER}`: "`{@link EVENT_KEY_MEMBER_VALUE}`"`.
 * Verifiers never accept such a key for an access token, nor a token key for a heartbeat.
 */
export const EVENT_KEY_KID_PREFIX = 'evt.';
/** The JWK member that marks an event-signing key. */
export const EVENT_KEY_MEMBER = 'revocable_use';
/** The value of {@link EVENT_KEY_MEMBER} on an event-signing key. */
export const EVENT_KEY_MEMBER_VALUE = 'event';

// ---------------------------------------------------------------------------------------
// Denial kinds
// ---------------------------------------------------------------------------------------

/**
 * Which denylist entry denied a token: its session (`sid`), its user's token version
 * (`sub`/`ver`), the token itself (`jti`) or its signing key (`kid`).
 */
export const DENIAL_KINDS = ['session', 'user', 'token', 'key'] as const;
export type DenialKind = (typeof DENIAL_KINDS)[number];

// ---------------------------------------------------------------------------------------
// Logging
// ---------------------------------------------------------------------------------------

/**
 * The logger every package accepts: a pino-compatible subset (a Fastify `app.log` or a
 * pino logger fits). Structured fields first, message second; never pass tokens, secrets
 * or query parameters.
 */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/**
 * Base of the errors the packages throw for a caller to match: a stable machine `code`
 * (callers match it, never the class name) and a one-line `message` for people. `name` is
 * the subclass's own name.
 *
 * @example
 * class DenylistError extends CodedError<'ERR_DENYLIST_INVALID_ARGUMENT'> {}
 * try { … } catch (e) { if (e instanceof CodedError && e.code === 'ERR_DENYLIST_INVALID_ARGUMENT') … }
 */
export class CodedError<Code extends string = string> extends Error {
  readonly code: Code;
  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}
