/** Access-token profile shared by the issuer and every verifier (RFC 9068 `at+jwt`). */

/** JOSE `typ` header of every access token. */
export const ACCESS_TOKEN_TYP = 'at+jwt';

/**
 * Algorithms the project signs with: EdDSA (Ed25519, the default), ES256 (P-256) and RS256
 * (RSA, keys of at least {@link MIN_RSA_MODULUS_BITS} bits; RFC 9068 §2.1 requires it).
 */
export type SigningAlgorithm = 'EdDSA' | 'ES256' | 'RS256';
export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = ['EdDSA', 'ES256', 'RS256'];

/**
 * JWS `alg` values a verifier accepts: the signing algorithms plus `Ed25519`, RFC 9864's
 * fully specified name for EdDSA over Ed25519 (same keys, same signatures).
 */
export type VerificationAlgorithm = SigningAlgorithm | 'Ed25519';
export const VERIFICATION_ALGORITHMS: readonly VerificationAlgorithm[] = ['EdDSA', 'Ed25519', 'ES256', 'RS256'];

/**
 * Longest access-token lifetime (`exp - iat`) the issuer signs, in seconds: the largest
 * `ACCESS_TTL_SECONDS` the auth service accepts, and the default longest lifetime a verifier
 * accepts (`maxLifetimeSeconds`, `TOKEN_MAX_LIFETIME_SECONDS`). One hour: a token that
 * claims more was not signed by a Revocable issuer, and every revocation must outlive the
 * longest token it covers.
 */
export const MAX_ACCESS_TTL_SECONDS = 3600;

/** Smallest RSA modulus accepted for RS256, in bits (signing and verification). */
export const MIN_RSA_MODULUS_BITS = 2048;

/** `Ed25519` (RFC 9864) as the project's name for it, `EdDSA`; other names unchanged. */
export function canonicalAlgorithm(alg: string): string {
  return alg === 'Ed25519' ? 'EdDSA' : alg;
}

/** Claims of a Revocable access token. Times are epoch seconds. */
export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  iat: number;
  nbf?: number;
  exp: number;
  jti: string;
  /** Session id: one refresh-token family. */
  sid: string;
  /** The user's token version; `user.revoked {minVer}` denies lower versions. */
  ver: number;
  /** Space-separated OAuth scopes. */
  scope?: string;
  roles?: string[];
  client_id?: string;
}
