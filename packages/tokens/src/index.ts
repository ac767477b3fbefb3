export {
  ACCESS_TOKEN_TYP,
  MAX_ACCESS_TTL_SECONDS,
  MIN_RSA_MODULUS_BITS,
  SIGNING_ALGORITHMS,
  VERIFICATION_ALGORITHMS,
  canonicalAlgorithm,
  type AccessTokenClaims,
  type SigningAlgorithm,
  type VerificationAlgorithm,
} from './contract.ts';
export { TOKEN_ERROR_CODES, TokenVerificationError, type TokenErrorCode, type TokenRejectReason } from './errors.ts';
export { generateSigningKey, importPrivateKey, publicJwkFor, rsaModulusBits, type SigningKeyMaterial } from './keys.ts';
export { signAccessToken, type AccessTokenInput, type AccessTokenSignerOptions, type SignerKey } from './sign.ts';
export { verifyAccessToken, type VerifiedAccessToken, type VerifyAccessTokenOptions } from './verify.ts';
