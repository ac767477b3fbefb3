import type { TokenRejectReason } from '@revocable/protocol';

// Why an access token was refused: the reasons are part of the wire contract (@revocable/protocol).
export type { TokenRejectReason };

/** Stable error code for each reason, in jose's style. */
export const TOKEN_ERROR_CODES = {
  malformed: 'ERR_TOKEN_MALFORMED',
  token_too_large: 'ERR_TOKEN_TOO_LARGE',
  unsupported_alg: 'ERR_TOKEN_UNSUPPORTED_ALG',
  forbidden_header: 'ERR_TOKEN_FORBIDDEN_HEADER',
  bad_typ: 'ERR_TOKEN_BAD_TYP',
  unknown_kid: 'ERR_TOKEN_UNKNOWN_KID',
  bad_signature: 'ERR_TOKEN_BAD_SIGNATURE',
  expired: 'ERR_TOKEN_EXPIRED',
  not_yet_valid: 'ERR_TOKEN_NOT_YET_VALID',
  wrong_issuer: 'ERR_TOKEN_WRONG_ISSUER',
  wrong_audience: 'ERR_TOKEN_WRONG_AUDIENCE',
  invalid_claims: 'ERR_TOKEN_INVALID_CLAIMS',
  keys_unavailable: 'ERR_TOKEN_KEYS_UNAVAILABLE',
  revoked: 'ERR_TOKEN_REVOKED',
} as const satisfies Record<TokenRejectReason, string>;

export type TokenErrorCode = (typeof TOKEN_ERROR_CODES)[TokenRejectReason];

/** Thrown by verification. `reason` is what a 401 answer carries; `code` is for programs. */
export class TokenVerificationError extends Error {
  readonly reason: TokenRejectReason;
  readonly code: TokenErrorCode;
  constructor(reason: TokenRejectReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TokenVerificationError';
    this.reason = reason;
    this.code = TOKEN_ERROR_CODES[reason];
  }
}
