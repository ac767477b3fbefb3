import type { RefreshRefusalReason } from '@revocable/protocol';

/**
 * Errors of the auth service. Each has a stable `code` (tests and callers match on it);
 * the HTTP status and OAuth `error` string come from {@link AUTH_ERRORS}, mapped in one
 * place (the error handler plugin).
 */
export const AUTH_ERRORS = {
  ERR_AUTH_INVALID_REQUEST: { status: 400, error: 'invalid_request' },
  ERR_AUTH_INVALID_EMAIL: { status: 400, error: 'invalid_request' },
  ERR_AUTH_WEAK_PASSWORD: { status: 400, error: 'invalid_request' },
  ERR_AUTH_UNSUPPORTED_MEDIA_TYPE: { status: 415, error: 'invalid_request' },
  ERR_AUTH_EMAIL_TAKEN: { status: 409, error: 'email_taken' },
  ERR_AUTH_EMAIL_CONFUSABLE: { status: 409, error: 'email_taken' },
  ERR_AUTH_INVALID_CREDENTIALS: { status: 401, error: 'invalid_grant' },
  ERR_AUTH_ACCOUNT_DISABLED: { status: 401, error: 'invalid_grant' },
  ERR_AUTH_INVALID_GRANT: { status: 400, error: 'invalid_grant' },
  ERR_AUTH_UNSUPPORTED_GRANT_TYPE: { status: 400, error: 'unsupported_grant_type' },
  ERR_AUTH_INVALID_TARGET: { status: 400, error: 'invalid_target' },
  ERR_AUTH_INVALID_SCOPE: { status: 400, error: 'invalid_scope' },
  ERR_AUTH_UNAUTHORIZED_CLIENT: { status: 400, error: 'unauthorized_client' },
  ERR_AUTH_INVALID_TOKEN: { status: 401, error: 'invalid_token' },
  ERR_AUTH_MISSING_TOKEN: { status: 401, error: 'invalid_token' },
  ERR_AUTH_INVALID_CLIENT: { status: 401, error: 'invalid_client' },
  ERR_AUTH_ADMIN_UNAUTHORIZED: { status: 401, error: 'invalid_token' },
  ERR_AUTH_ADMIN_DISABLED: { status: 403, error: 'access_denied' },
  ERR_AUTH_CSRF: { status: 403, error: 'access_denied' },
  ERR_AUTH_NOT_FOUND: { status: 404, error: 'not_found' },
  ERR_AUTH_RATE_LIMITED: { status: 429, error: 'rate_limited' },
  ERR_AUTH_DB_UNAVAILABLE: { status: 503, error: 'temporarily_unavailable' },
  ERR_AUTH_BUSY: { status: 503, error: 'temporarily_unavailable' },
} as const;

export type AuthErrorCode = keyof typeof AUTH_ERRORS;

// Why `/oauth/token` refused a refresh token (the `reason` next to `error: "invalid_grant"`):
// part of the wire contract, see @revocable/protocol's RefreshRefusalReason.
export type { RefreshRefusalReason };

export class AuthError extends Error {
  readonly code: AuthErrorCode;
  readonly status: number;
  readonly error: string;
  /** Seconds, for 429/503 answers. */
  readonly retryAfterSeconds: number | undefined;
  /** Machine-readable refinement of `error`, sent as `reason` (refused refreshes). */
  readonly reason: RefreshRefusalReason | undefined;
  constructor(code: AuthErrorCode, description: string, options?: { cause?: unknown; retryAfterSeconds?: number; reason?: RefreshRefusalReason }) {
    super(description, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AuthError';
    this.code = code;
    this.status = AUTH_ERRORS[code].status;
    this.error = AUTH_ERRORS[code].error;
    this.retryAfterSeconds = options?.retryAfterSeconds;
    this.reason = options?.reason;
  }
}
