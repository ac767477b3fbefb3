/** Small helpers to read the auth service's answers and map them to typed errors. */

import type { RefreshRefusalReason } from '@revocable/protocol';
import {
  AuthRequestError,
  AuthServerError,
  InvalidCredentialsError,
  ProtocolError,
  RateLimitedError,
  RefreshTokenReuseError,
  type RevocableClientError,
  SessionRevokedError,
  type ServerErrorDetails,
} from './errors.ts';

// Why the auth service refused a refresh token (`reason` next to `error: "invalid_grant"`):
// the reasons are part of the wire contract (@revocable/protocol).
export type { RefreshRefusalReason };

/** The OAuth-style error body every Revocable service answers with. */
export interface ErrorBody {
  error?: string;
  error_description?: string;
  reason?: string;
}

/** A token endpoint answer (`POST /v1/login`, `POST /oauth/token`). */
export interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in: number;
  /** Absent when the server only set it as a cookie. */
  refresh_token?: string;
}

/** Reads a JSON body, or `undefined` when there is none or it is not JSON. Never throws. */
export async function readJson(response: Response): Promise<unknown> {
  const type = response.headers.get('content-type') ?? '';
  if (!/\bjson\b/i.test(type)) return undefined;
  try {
    return (await response.json()) as unknown;
  } catch {
    return undefined;
  }
}

/** The error body's fields, keeping only strings. */
export async function readErrorBody(response: Response): Promise<ServerErrorDetails> {
  const body = await readJson(response);
  const details: ServerErrorDetails = { status: response.status };
  if (body !== null && typeof body === 'object') {
    const { error, error_description: description, reason } = body as Record<string, unknown>;
    if (typeof error === 'string') details.serverError = error;
    if (typeof description === 'string') details.serverErrorDescription = description;
    if (typeof reason === 'string') details.reason = reason;
  }
  return details;
}

/** Validates a token endpoint answer. */
export async function readTokenResponse(response: Response): Promise<TokenResponse> {
  const body = await readJson(response);
  if (body === null || typeof body !== 'object') {
    throw new ProtocolError('token endpoint answered without a JSON body', { status: response.status });
  }
  const { access_token: accessToken, token_type: tokenType, expires_in: expiresIn, refresh_token: refreshToken } =
    body as Record<string, unknown>;
  if (typeof accessToken !== 'string' || accessToken.length === 0) {
    throw new ProtocolError('token endpoint answer has no access_token', { status: response.status });
  }
  if (typeof tokenType !== 'string' || tokenType.toLowerCase() !== 'bearer') {
    throw new ProtocolError('token endpoint answer is not a bearer token', { status: response.status });
  }
  if (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn) || expiresIn <= 0) {
    throw new ProtocolError('token endpoint answer has no valid expires_in', { status: response.status });
  }
  const result: TokenResponse = { access_token: accessToken, token_type: tokenType, expires_in: expiresIn };
  if (typeof refreshToken === 'string' && refreshToken.length > 0) result.refresh_token = refreshToken;
  return result;
}

function describe(what: string, details: ServerErrorDetails): string {
  const code = details.serverError ?? `HTTP ${details.status ?? '?'}`;
  return details.serverErrorDescription ? `${what}: ${code} (${details.serverErrorDescription})` : `${what}: ${code}`;
}

/** Maps a failed (non-2xx) auth-service answer that is not a session end. */
export function genericError(what: string, response: Response, details: ServerErrorDetails): RevocableClientError {
  if (response.status === 429) {
    const retryAfter = Number(response.headers.get('retry-after'));
    return new RateLimitedError(describe(what, details), {
      ...details,
      ...(Number.isFinite(retryAfter) && retryAfter >= 0 ? { retryAfterSeconds: retryAfter } : {}),
    });
  }
  if (response.status >= 500) return new AuthServerError(describe(what, details), details);
  return new AuthRequestError(describe(what, details), details);
}

/** Maps a failed login answer. */
export function loginError(response: Response, details: ServerErrorDetails): RevocableClientError {
  if (response.status === 401 || (response.status === 400 && details.serverError === 'invalid_grant')) {
    return new InvalidCredentialsError(describe('login refused', details), details);
  }
  return genericError('login failed', response, details);
}

/**
 * Whether a refused refresh means the session is over (RFC 6749 §5.2: `invalid_grant` is
 * an invalid, expired, revoked or reused refresh token). Rate limits and server errors
 * are not: the session may well be alive.
 */
export function isSessionEnd(response: Response, details: ServerErrorDetails, cookieMode: boolean): boolean {
  if (response.status !== 400 && response.status !== 401) return false;
  if (details.serverError === 'invalid_grant') return true;
  // Cookie mode: no cookie (expired, cleared by a logout) means no session.
  return cookieMode && details.serverError === 'invalid_request';
}

/**
 * Builds the session-end error from the auth service's stable `reason` (see
 * {@link RefreshRefusalReason}): `reuse_detected` is a {@link RefreshTokenReuseError}, every
 * other refusal a {@link SessionRevokedError} carrying the reason. The human-readable
 * description is never parsed.
 */
export function sessionEndError(details: ServerErrorDetails): SessionRevokedError {
  if (details.reason === 'reuse_detected') {
    return new RefreshTokenReuseError(describe('refresh token reuse detected, session revoked', details), details);
  }
  return new SessionRevokedError(describe('session ended', details), details);
}

/**
 * Whether a resource answer is a 401 `invalid_token` (header or JSON body). Returns `false`
 * when it is not, else the service's machine-readable `reason` (e.g. `revoked`, `expired`),
 * or `null` when it gave none.
 */
export async function invalidTokenReason(response: Response): Promise<string | null | false> {
  if (response.status !== 401) return false;
  const challenge = response.headers.get('www-authenticate');
  const body = await readJson(response.clone());
  const fields = body !== null && typeof body === 'object' ? (body as ErrorBody) : {};
  const reason = typeof fields.reason === 'string' ? fields.reason : null;
  if (challenge !== null && /error\s*=\s*"?invalid_token"?/i.test(challenge)) return reason;
  // Cross-origin browsers hide WWW-Authenticate unless exposed: fall back to the JSON body.
  return fields.error === 'invalid_token' ? reason : false;
}
