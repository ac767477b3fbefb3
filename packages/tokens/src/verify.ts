import { createPublicKey, KeyObject, verify as verifySignature, type JsonWebKey } from 'node:crypto';
import { errors, type JWTVerifyGetKey, type JWTPayload, type ProtectedHeaderParameters } from 'jose';
import { ACCESS_TOKEN_TYP, MAX_ACCESS_TTL_SECONDS, VERIFICATION_ALGORITHMS, type AccessTokenClaims, type VerificationAlgorithm } from './contract.ts';
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
  /**
   * Longest accepted `exp - iat`, in seconds. Default {@link MAX_ACCESS_TTL_SECONDS} (3600): the
   * issuer's longest access-token lifetime. A longer-lived token is refused (`invalid_claims`).
   */
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
 *
 * The keys come from jose (`getKey`); the JWS itself is checked here, in the order and with
 * the rules of jose's `jwtVerify` (RFC 7515/7519, RFC 8725), and the signature by one
 * synchronous `node:crypto` call on a `KeyObject` prepared once per key — several awaits and
 * a WebCrypto round trip fewer than jose's path, on the call every uncached token pays.
 * @example
 * const jwks = createRemoteJWKSet(new URL('https://auth.example/.well-known/jwks.json'));
 * const { claims } = await verifyAccessToken(token, jwks, { issuer: 'https://auth.example', audience: 'orders' });
 */
export async function verifyAccessToken(
  token: string,
  getKey: JWTVerifyGetKey,
  options: VerifyAccessTokenOptions,
): Promise<VerifiedAccessToken> {
  const maxBytes = options.maxTokenBytes ?? 8192;
  if (token.length > maxBytes) throw new TokenVerificationError('token_too_large', 'token exceeds the size limit');
  if (!COMPACT_JWS.test(token)) throw new TokenVerificationError('malformed', 'not a compact JWS');
  const algorithms: readonly string[] = options.algorithms ?? VERIFICATION_ALGORITHMS;
  const tolerance = options.clockToleranceSeconds ?? 5;
  const nowMs = (options.now ?? Date.now)();
  const firstDot = token.indexOf('.');
  const secondDot = token.indexOf('.', firstDot + 1);
  const header = decodeJson(token.slice(0, firstDot), 'the protected header is invalid') as ProtectedHeaderParameters;
  if (header.crit !== undefined) throw new TokenVerificationError('unsupported_alg', 'token uses an unsupported feature (crit)');
  const alg = header.alg;
  if (typeof alg !== 'string' || alg === '') throw new TokenVerificationError('malformed', 'the alg header is missing or invalid');
  if (!algorithms.includes(alg)) throw new TokenVerificationError('unsupported_alg', 'algorithm not allowed');
  let key: KeyObject;
  try {
    key = keyObjectOf(await getKeyGuard(getKey)(header as Parameters<JWTVerifyGetKey>[0], { protected: token.slice(0, firstDot), payload: token.slice(firstDot + 1, secondDot), signature: token.slice(secondDot + 1) }));
  } catch (error) {
    throw mapKeyError(error);
  }
  checkKeyFits(alg as VerificationAlgorithm, key);
  const signingInput = Buffer.from(token.slice(0, secondDot), 'latin1');
  const signature = Buffer.from(token.slice(secondDot + 1), 'base64url');
  let verified = false;
  try {
    verified = alg === 'ES256'
      ? verifySignature('sha256', signingInput, { key, dsaEncoding: 'ieee-p1363' }, signature)
      : verifySignature(alg === 'RS256' ? 'sha256' : null, signingInput, key, signature);
  } catch (cause) {
    throw new TokenVerificationError('bad_signature', 'signature does not verify', { cause });
  }
  if (!verified) throw new TokenVerificationError('bad_signature', 'signature does not verify');
  const payload = decodeJson(token.slice(firstDot + 1, secondDot), 'the claims set must be a top-level JSON object') as JWTPayload;
  checkRegisteredClaims(header, payload, options, Math.floor(nowMs / 1000), tolerance);
  const claims = checkClaims(payload, nowMs, tolerance, options.maxLifetimeSeconds ?? MAX_ACCESS_TTL_SECONDS);
  return { claims, kid: header.kid as string, alg: alg as VerificationAlgorithm };
}

// Strict UTF-8, as jose decodes: a header or claims set with broken UTF-8 is malformed, not repaired.
const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeJson(part: string, message: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(Buffer.from(part, 'base64url')));
  } catch (cause) {
    throw new TokenVerificationError('malformed', message, { cause });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new TokenVerificationError('malformed', message);
  return parsed as Record<string, unknown>;
}

// One KeyObject per key the resolver hands out (jose's JWKS returns the same CryptoKey for a kid until it refetches).
const preparedKeys = new WeakMap<object, KeyObject>();

function keyObjectOf(key: unknown): KeyObject {
  if (key instanceof KeyObject) return key;
  if (key instanceof Uint8Array) throw new TokenVerificationError('unsupported_alg', 'symmetric keys are not accepted');
  if (typeof key !== 'object' || key === null) throw new TokenVerificationError('unknown_kid', 'no usable key matches the token');
  const cached = preparedKeys.get(key);
  if (cached !== undefined) return cached;
  let prepared: KeyObject;
  try {
    prepared = key instanceof globalThis.CryptoKey ? KeyObject.from(key) : createPublicKey({ key: key as JsonWebKey, format: 'jwk' });
  } catch (cause) {
    throw new TokenVerificationError('unknown_kid', 'no usable key matches the token', { cause });
  }
  if (prepared.type !== 'public') throw new TokenVerificationError('unknown_kid', 'no usable key matches the token');
  preparedKeys.set(key, prepared);
  return prepared;
}

// The key must be of the token's algorithm (RFC 8725 §3.1): an Ed25519 key for EdDSA, P-256 for ES256, RSA of 2048+ bits for RS256.
function checkKeyFits(alg: VerificationAlgorithm, key: KeyObject): void {
  const details = key.asymmetricKeyDetails;
  const fits =
    alg === 'EdDSA' || alg === 'Ed25519'
      ? key.asymmetricKeyType === 'ed25519'
      : alg === 'ES256'
        ? key.asymmetricKeyType === 'ec' && details?.namedCurve === 'prime256v1'
        : key.asymmetricKeyType === 'rsa' && (details?.modulusLength ?? 0) >= 2048;
  if (!fits) throw new TokenVerificationError('unknown_kid', `no ${alg} key of sufficient size matches the token`);
}

// typ is compared as a media type, case-insensitively, "application/" implied (RFC 7515 §4.1.9).
const mediaType = (value: string): string => (value.includes('/') ? value.toLowerCase() : `application/${value.toLowerCase()}`);
const EXPECTED_TYP = mediaType(ACCESS_TOKEN_TYP);
// jose's presence order (iss, aud, jti, iat, exp, sub), so the first missing claim names the same reason.
const REQUIRED_CLAIMS = ['iss', 'aud', 'jti', 'iat', 'exp', 'sub'] as const;

function checkRegisteredClaims(header: ProtectedHeaderParameters, payload: JWTPayload, options: VerifyAccessTokenOptions, now: number, tolerance: number): void {
  if (typeof header.typ !== 'string' || mediaType(header.typ) !== EXPECTED_TYP) throw new TokenVerificationError('bad_typ', 'token type must be at+jwt');
  for (const claim of REQUIRED_CLAIMS) {
    if (!Object.hasOwn(payload, claim)) {
      if (claim === 'iss') throw new TokenVerificationError('wrong_issuer', 'token issuer is not trusted');
      if (claim === 'aud') throw new TokenVerificationError('wrong_audience', 'token is not meant for this service');
      throw new TokenVerificationError('invalid_claims', `claim "${claim}" is invalid`);
    }
  }
  if (payload.iss !== options.issuer) throw new TokenVerificationError('wrong_issuer', 'token issuer is not trusted');
  const aud = payload.aud;
  if (!(typeof aud === 'string' ? aud === options.audience : Array.isArray(aud) && aud.includes(options.audience))) {
    throw new TokenVerificationError('wrong_audience', 'token is not meant for this service');
  }
  if (typeof payload.iat !== 'number') throw new TokenVerificationError('invalid_claims', 'claim "iat" is invalid');
  if (payload.nbf !== undefined) {
    if (typeof payload.nbf !== 'number') throw new TokenVerificationError('invalid_claims', 'claim "nbf" is invalid');
    if (payload.nbf > now + tolerance) throw new TokenVerificationError('not_yet_valid', 'token is not valid yet');
  }
  if (typeof payload.exp !== 'number') throw new TokenVerificationError('invalid_claims', 'claim "exp" is invalid');
  if (payload.exp <= now - tolerance) throw new TokenVerificationError('expired', 'token expired');
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

// What the key resolver (jose's JWKS, or the caller's getKey) can throw, as stable reasons.
function mapKeyError(error: unknown): TokenVerificationError {
  if (error instanceof TokenVerificationError) return error;
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
    return new TokenVerificationError('unknown_kid', 'no key matches the token', { cause: error });
  }
  if (error instanceof errors.JWKSTimeout) return new TokenVerificationError('keys_unavailable', 'signing keys could not be fetched', { cause: error });
  if (error instanceof errors.JOSENotSupported || error instanceof errors.JOSEAlgNotAllowed) {
    return new TokenVerificationError('unsupported_alg', 'token uses an unsupported feature', { cause: error });
  }
  // A failed JWKS fetch (network, bad JSON, an invalid JWKS) surfaces as a plain error from the key resolver.
  return new TokenVerificationError('keys_unavailable', 'signing keys could not be resolved', { cause: error });
}
