/** Access-token profile shared by the issuer and every verifier (RFC 9068 `at+jwt`). */

/** JOSE `typ` header of every access token. */
export const ACCESS_TOKEN_TYP = 'at+jwt';

/** Algorithms the project signs with; verifiers allow only these. */
export type SigningAlgorithm = 'EdDSA' | 'ES256';
export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = ['EdDSA', 'ES256'];

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
