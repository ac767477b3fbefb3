/**
 * Errors the SDK throws. Every one carries a stable `code` (assert on it, not on the
 * message) and, when the server answered, its HTTP `status` and OAuth-style `error`
 * code (`serverError`) so an app can tell a revoked session from a network blip.
 */

/** Every `code` an SDK error can carry. */
export type ClientErrorCode =
  | 'ERR_NETWORK'
  | 'ERR_TIMEOUT'
  | 'ERR_NOT_AUTHENTICATED'
  | 'ERR_INVALID_CREDENTIALS'
  | 'ERR_SESSION_REVOKED'
  | 'ERR_REFRESH_TOKEN_REUSED'
  | 'ERR_RATE_LIMITED'
  | 'ERR_AUTH_REQUEST_FAILED'
  | 'ERR_AUTH_SERVER'
  | 'ERR_PROTOCOL';

/** What the server said, when it said something. */
export interface ServerErrorDetails {
  /** HTTP status of the answer. */
  status?: number;
  /** OAuth-style `error` code from the JSON body, e.g. `invalid_grant`. */
  serverError?: string;
  /** `error_description` from the JSON body (human text, not stable). */
  serverErrorDescription?: string;
  /** A more precise machine-readable reason from the body (`reason`), when present. */
  reason?: string;
  cause?: unknown;
}

/** Base class of every error the SDK throws. */
export class RevocableClientError extends Error {
  readonly code: ClientErrorCode;
  readonly status: number | undefined;
  readonly serverError: string | undefined;
  readonly serverErrorDescription: string | undefined;
  readonly reason: string | undefined;
  constructor(code: ClientErrorCode, message: string, details: ServerErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'RevocableClientError';
    this.code = code;
    this.status = details.status;
    this.serverError = details.serverError;
    this.serverErrorDescription = details.serverErrorDescription;
    this.reason = details.reason;
  }
}

/** The request never got an HTTP answer (DNS, connection refused, reset, CORS, offline). */
export class NetworkError extends RevocableClientError {
  constructor(message: string, details: ServerErrorDetails = {}) {
    super('ERR_NETWORK', message, details);
    this.name = 'NetworkError';
  }
}

/** An auth-service call took longer than `requestTimeoutMs`. */
export class TimeoutError extends RevocableClientError {
  constructor(message: string, details: ServerErrorDetails = {}) {
    super('ERR_TIMEOUT', message, details);
    this.name = 'TimeoutError';
  }
}

/** No session: never logged in, logged out, or the refresh-token store is empty. */
export class NotAuthenticatedError extends RevocableClientError {
  constructor(message = 'not logged in') {
    super('ERR_NOT_AUTHENTICATED', message);
    this.name = 'NotAuthenticatedError';
  }
}

/** Login refused: unknown e-mail or wrong password (the server does not say which). */
export class InvalidCredentialsError extends RevocableClientError {
  constructor(message: string, details: ServerErrorDetails = {}) {
    super('ERR_INVALID_CREDENTIALS', message, details);
    this.name = 'InvalidCredentialsError';
  }
}

/**
 * The session is over: the auth service refused the refresh token (logged out on this or
 * another device, revoked by an admin, logout-all, password change, expired, evicted).
 * `reason` carries the server's machine-readable refusal reason (`session_revoked`,
 * `session_expired`, `unknown_token`; see `RefreshRefusalReason`), when it sent one.
 * The SDK has already dropped its tokens and called `onSessionEnded`; send the user to login.
 */
export class SessionRevokedError extends RevocableClientError {
  constructor(message: string, details: ServerErrorDetails = {}, code: ClientErrorCode = 'ERR_SESSION_REVOKED') {
    super(code, message, details);
    this.name = 'SessionRevokedError';
  }
}

/**
 * The refresh token presented had already been rotated (the auth service answered
 * `reason: "reuse_detected"`): someone else (an attacker with a copy, or a buggy second
 * client) used it. The auth service revoked the whole session.
 */
export class RefreshTokenReuseError extends SessionRevokedError {
  constructor(message: string, details: ServerErrorDetails = {}) {
    super(message, details, 'ERR_REFRESH_TOKEN_REUSED');
    this.name = 'RefreshTokenReuseError';
  }
}

/** The auth service answered 429; `retryAfterSeconds` is its `Retry-After`, if given. */
export class RateLimitedError extends RevocableClientError {
  readonly retryAfterSeconds: number | undefined;
  constructor(message: string, details: ServerErrorDetails & { retryAfterSeconds?: number } = {}) {
    super('ERR_RATE_LIMITED', message, details);
    this.name = 'RateLimitedError';
    this.retryAfterSeconds = details.retryAfterSeconds;
  }
}

/** The auth service refused a request for another 4xx reason (validation, conflict, ...). */
export class AuthRequestError extends RevocableClientError {
  constructor(message: string, details: ServerErrorDetails = {}) {
    super('ERR_AUTH_REQUEST_FAILED', message, details);
    this.name = 'AuthRequestError';
  }
}

/** The auth service failed (5xx). The session is kept: retrying later may succeed. */
export class AuthServerError extends RevocableClientError {
  constructor(message: string, details: ServerErrorDetails = {}) {
    super('ERR_AUTH_SERVER', message, details);
    this.name = 'AuthServerError';
  }
}

/** The auth service answered something the SDK cannot understand (not JSON, missing fields). */
export class ProtocolError extends RevocableClientError {
  constructor(message: string, details: ServerErrorDetails = {}) {
    super('ERR_PROTOCOL', message, details);
    this.name = 'ProtocolError';
  }
}
