import {
  INSUFFICIENT_SCOPE,
  RETRY_AFTER_HEADER,
  WWW_AUTHENTICATE_HEADER,
  type UnauthorizedReason,
  type UnavailableReason,
} from '@revocable/protocol';
import type { AuthFailure } from './decide.ts';

// Client-facing texts: fixed per reason, so nothing about keys or internals can leak.
const REASON_TEXT: Record<UnauthorizedReason, string> = {
  missing_token: 'a bearer token is required',
  malformed: 'the token is malformed',
  token_too_large: 'the token is too large',
  unsupported_alg: 'the token algorithm is not accepted',
  forbidden_header: 'the token header is not accepted',
  bad_typ: 'the token type is not accepted',
  unknown_kid: 'the token signing key is not known',
  bad_signature: 'the token signature is invalid',
  expired: 'the token has expired',
  not_yet_valid: 'the token is not valid yet',
  wrong_issuer: 'the token issuer is not trusted',
  wrong_audience: 'the token is not meant for this service',
  invalid_claims: 'the token claims are invalid',
  keys_unavailable: 'the token cannot be verified right now',
  revoked: 'the token has been revoked',
};

const UNAVAILABLE_TEXT: Record<UnavailableReason, string> = {
  not_ready: 'the service is catching up with revocations',
  stale_revocation_state: 'revocation state is too old to decide safely',
  introspection_failed: 'the token cannot be checked with the issuer right now',
  keys_unavailable: 'the token cannot be verified right now',
  denylist_overflow: 'revocation state is incomplete; tokens cannot be accepted right now',
};

/** The HTTP answer to an {@link AuthFailure}: status, headers (lower-case names) and JSON body. */
export interface AuthFailureResponse {
  status: 401 | 403 | 503;
  headers: Record<string, string>;
  body: { error: string; error_description: string; reason: string };
}

/**
 * The one place an {@link AuthFailure} becomes an HTTP answer (RFC 6750 §3 challenges,
 * `Retry-After` on 503: the failure's `retryAfterSeconds`, else 1). Framework-free, so a forward-auth gateway answers the same way.
 * @example
 * ```ts
 * const { status, headers, body } = authFailureResponse({ status: 401, reason: 'expired' });
 * ```
 */
export function authFailureResponse(failure: AuthFailure): AuthFailureResponse {
  switch (failure.status) {
    case 401:
      return {
        status: 401,
        // RFC 6750 §3.1: no error code when the request carried no credentials.
        headers: {
          [WWW_AUTHENTICATE_HEADER]: failure.reason === 'missing_token' ? 'Bearer' : `Bearer error="invalid_token", error_description="${failure.reason}"`,
        },
        body: { error: 'invalid_token', error_description: REASON_TEXT[failure.reason], reason: failure.reason },
      };
    case 403:
      return {
        status: 403,
        headers: { [WWW_AUTHENTICATE_HEADER]: `Bearer error="insufficient_scope", scope="${failure.scopes.join(' ')}"` },
        body: {
          error: 'insufficient_scope',
          error_description: `this route requires the scope(s): ${failure.scopes.join(' ')}`,
          reason: INSUFFICIENT_SCOPE,
        },
      };
    case 503:
      return {
        status: 503,
        headers: { [RETRY_AFTER_HEADER]: String(failure.retryAfterSeconds ?? 1) },
        body: { error: 'temporarily_unavailable', error_description: UNAVAILABLE_TEXT[failure.reason], reason: failure.reason },
      };
  }
}

/**
 * RFC 6750 §3.1 `invalid_request` (400): the request carried more than one credential (an
 * `Authorization` header and an `access_token` query parameter, or two `Authorization`
 * headers). Nothing is verified.
 */
export function twoCredentialsResponse(): { status: 400; headers: Record<string, string>; body: { error: string; error_description: string; reason: string } } {
  return {
    status: 400,
    headers: { [WWW_AUTHENTICATE_HEADER]: 'Bearer error="invalid_request"' },
    body: { error: 'invalid_request', error_description: 'send exactly one credential, in the Authorization header', reason: 'invalid_request' },
  };
}

/** Whether a request carries two credentials (see {@link twoCredentialsResponse}). */
export function hasTwoCredentials(rawHeaders: readonly string[], query: unknown): boolean {
  let authorization = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if ((rawHeaders[i] as string).length === 13 && (rawHeaders[i] as string).toLowerCase() === 'authorization') authorization++;
  }
  if (authorization > 1) return true;
  const q = query as Record<string, unknown> | null | undefined;
  return authorization === 1 && q !== null && typeof q === 'object' && q['access_token'] !== undefined;
}
