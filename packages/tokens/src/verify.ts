import { errors, jwtVerify, type JWTVerifyGetKey, type JWTPayload, type ProtectedHeaderParameters } from 'jose';
import { ACCESS_TOKEN_TYP, VERIFICATION_ALGORITHMS, type AccessTokenClaims, type VerificationAlgorithm } from './contract.ts';
import { TokenVerificationError } from './errors.ts';

/** Options for {@link verifyAccessToken}. */
export interface VerifyAccessTokenOptions {
  /** Expected `iss`. */
  issuer: string;
  /** This service's audience; the token's `aud` must contain it. */
  audience: string;
  /**
   * Allowed algorithms. Default: `['EdDSA', 'Ed25519', 'ES256', 'RS256']` (`Ed25519` is RFC
   * 9864's name for EdDSA; RS256 keys must have at least 2048 bits). Never `none` or HMAC.
   */
  algorithms?: readonly VerificationAlgorithm[];
  /** Leeway for `exp`/`nbf`/`iat`, in seconds. Default 5. */
  clockToleranceSeconds?: number;
  /** Longest accepted `exp - iat`, in seconds. Default 86400. */
  maxLifetimeSeconds?: number;
  /** Tokens longer than this are refused before any parsing, in bytes. Default 8192. */
  maxTokenBytes?: number;
  /** Injected clock, epoch milliseconds. Defaults to `Date.now`. */
  now?: () => number;
}

export interface VerifiedAccessToken {
  claims: AccessTokenClaims;
  kid: string;
  /** The token's `alg` header as sent (`Ed25519` stays `Ed25519`). */
  alg: VerificationAlgorithm;
}

// Headers that point a verifier at keys chosen by the token's author: never honoured, refused outright.
const FORBIDDEN_HEADERS = ['jku', 'x5u', 'jwk', 'x5c', 'x5t', 'x5t#S256'];
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const MAX_ID = 256;

/**
 * Verifies a compact access token: size cap, shape, alg allow-list, `typ`, signature (via
 * `getKey`, e.g. jose's remote JWKS), `iss`, `aud`, `exp`/`nbf`/`iat` with leeway, and the
 * presence and types of `sub`, `jti`, `sid`, `ver`. Throws {@link TokenVerificationError}.
 * Denylist checks are the caller's: this only proves the token was validly issued.
 */
export async function verifyAccessToken(
  token: string,
  getKey: JWTVerifyGetKey,
  options: VerifyAccessTokenOptions,
): Promise<VerifiedAccessToken> {
  const maxBytes = options.maxTokenBytes ?? 8192;
  if (token.length > maxBytes) throw new TokenVerificationError('token_too_large', 'token exceeds the size limit');
  if (!COMPACT_JWS.test(token)) throw new TokenVerificationError('malformed', 'not a compact JWS');
  const algorithms = [...(options.algorithms ?? VERIFICATION_ALGORITHMS)];
  const tolerance = options.clockToleranceSeconds ?? 5;
  const nowMs = (options.now ?? Date.now)();
  let payload: JWTPayload;
  let header: ProtectedHeaderParameters;
  try {
    const result = await jwtVerify(token, getKeyGuard(getKey), {
      algorithms,
      issuer: options.issuer,
      audience: options.audience,
      typ: ACCESS_TOKEN_TYP,
      clockTolerance: tolerance,
      currentDate: new Date(nowMs),
      requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat', 'jti'],
    });
    payload = result.payload;
    header = result.protectedHeader;
  } catch (error) {
    throw mapJoseError(error);
  }
  const claims = checkClaims(payload, nowMs, tolerance, options.maxLifetimeSeconds ?? 86_400);
  return { claims, kid: header.kid as string, alg: header.alg as VerificationAlgorithm };
}

function getKeyGuard(getKey: JWTVerifyGetKey): JWTVerifyGetKey {
  return (header, input) => {
    for (const name of FORBIDDEN_HEADERS) {
      if (name in header) throw new TokenVerificationError('forbidden_header', `header "${name}" is not accepted`);
    }
    if (typeof header.kid !== 'string' || header.kid.length === 0 || header.kid.length > MAX_ID) {
      throw new TokenVerificationError('unknown_kid', 'missing or invalid kid');
    }
    // EdDSA and Ed25519 (RFC 9864) name the same algorithm: a JWKS may publish the key under
    // either name, and a JWKS only matches a key whose `alg` equals the token's.
    const alias = header.alg === 'Ed25519' ? 'EdDSA' : header.alg === 'EdDSA' ? 'Ed25519' : undefined;
    if (alias === undefined) return getKey(header, input);
    return (async () => {
      try {
        return await getKey(header, input);
      } catch (error) {
        if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
        return getKey({ ...header, alg: alias }, input);
      }
    })();
  };
}

function checkClaims(payload: JWTPayload, nowMs: number, tolerance: number, maxLifetime: number): AccessTokenClaims {
  const p = payload as Record<string, unknown>;
  const id = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= MAX_ID;
  if (!id(p['sub']) || !id(p['jti']) || !id(p['sid'])) {
    throw new TokenVerificationError('invalid_claims', 'sub, jti and sid must be non-empty strings');
  }
  const ver = p['ver'];
  if (typeof ver !== 'number' || !Number.isSafeInteger(ver) || ver < 0) {
    throw new TokenVerificationError('invalid_claims', 'ver must be a non-negative integer');
  }
  const iat = p['iat'] as number;
  const exp = p['exp'] as number;
  if (!Number.isSafeInteger(iat) || !Number.isSafeInteger(exp)) {
    throw new TokenVerificationError('invalid_claims', 'iat and exp must be integers');
  }
  if (iat > nowMs / 1000 + tolerance) throw new TokenVerificationError('invalid_claims', 'iat is in the future');
  if (exp - iat > maxLifetime || exp <= iat) throw new TokenVerificationError('invalid_claims', 'token lifetime out of range');
  if (p['scope'] !== undefined && typeof p['scope'] !== 'string') {
    throw new TokenVerificationError('invalid_claims', 'scope must be a string');
  }
  if (p['roles'] !== undefined && !(Array.isArray(p['roles']) && p['roles'].every((r) => typeof r === 'string'))) {
    throw new TokenVerificationError('invalid_claims', 'roles must be an array of strings');
  }
  return p as unknown as AccessTokenClaims;
}

function mapJoseError(error: unknown): TokenVerificationError {
  if (error instanceof TokenVerificationError) return error;
  if (error instanceof errors.JWTExpired) return new TokenVerificationError('expired', 'token expired', { cause: error });
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case 'aud':
        return new TokenVerificationError('wrong_audience', 'token is not meant for this service', { cause: error });
      case 'iss':
        return new TokenVerificationError('wrong_issuer', 'token issuer is not trusted', { cause: error });
      case 'nbf':
        // Only a failed time check means "not yet"; a non-numeric nbf is a broken claim.
        return error.reason === 'check_failed'
          ? new TokenVerificationError('not_yet_valid', 'token is not valid yet', { cause: error })
          : new TokenVerificationError('invalid_claims', 'claim "nbf" is invalid', { cause: error });
      case 'typ':
        return new TokenVerificationError('bad_typ', 'token type must be at+jwt', { cause: error });
      default:
        return new TokenVerificationError('invalid_claims', `claim "${error.claim}" is invalid`, { cause: error });
    }
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return new TokenVerificationError('unsupported_alg', 'algorithm not allowed', { cause: error });
  if (error instanceof errors.JWSSignatureVerificationFailed) return new TokenVerificationError('bad_signature', 'signature does not verify', { cause: error });
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
    return new TokenVerificationError('unknown_kid', 'no key matches the token', { cause: error });
  }
  if (error instanceof errors.JWKSTimeout) return new TokenVerificationError('keys_unavailable', 'signing keys could not be fetched', { cause: error });
  if (error instanceof errors.JOSENotSupported) return new TokenVerificationError('unsupported_alg', 'token uses an unsupported feature', { cause: error });
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid || error instanceof errors.JOSEError) {
    return new TokenVerificationError('malformed', 'token is malformed', { cause: error });
  }
  // A failed JWKS fetch (network, bad JSON) surfaces as a plain error from the key resolver.
  return new TokenVerificationError('keys_unavailable', 'signing keys could not be resolved', { cause: error });
}
