import { base64url, calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { MIN_RSA_MODULUS_BITS, type SigningAlgorithm } from './contract.ts';

/** A signing key pair as the issuer stores it. The private JWK never leaves the issuer. */
export interface SigningKeyMaterial {
  /** RFC 7638 thumbprint of the public key; goes in every token's `kid` header. */
  kid: string;
  alg: SigningAlgorithm;
  publicJwk: JWK;
  privateJwk: JWK;
}

/**
 * Generates a fresh key pair: Ed25519 for `EdDSA`, P-256 for `ES256`, RSA for `RS256`
 * (`rsaModulusBits`, default 2048, at least {@link MIN_RSA_MODULUS_BITS}).
 * @example
 * ```ts
 * const key = await generateSigningKey('RS256', { rsaModulusBits: 3072 });
 * ```
 */
export async function generateSigningKey(alg: SigningAlgorithm = 'EdDSA', options: { rsaModulusBits?: number } = {}): Promise<SigningKeyMaterial> {
  const modulusLength = options.rsaModulusBits ?? MIN_RSA_MODULUS_BITS;
  if (alg === 'RS256' && (!Number.isSafeInteger(modulusLength) || modulusLength < MIN_RSA_MODULUS_BITS)) {
    throw new RangeError(`RS256 keys need at least ${MIN_RSA_MODULUS_BITS} bits`);
  }
  const { publicKey, privateKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}),
    ...(alg === 'RS256' ? { modulusLength } : {}),
  });
  const publicJwk = await exportJWK(publicKey);
  const privateJwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(publicJwk, 'sha256');
  return { kid, alg, publicJwk: publicJwkFor(publicJwk, kid, alg), privateJwk: { ...privateJwk, kid, alg } };
}

/** The public JWK as published in a JWKS (`use: sig`, `kid`, `alg`). */
export function publicJwkFor(jwk: JWK, kid: string, alg: SigningAlgorithm): JWK {
  const { d: _d, ...publicOnly } = jwk;
  return { ...publicOnly, kid, alg, use: 'sig' };
}

/** Imports a private JWK for signing. */
export async function importPrivateKey(jwk: JWK, alg: SigningAlgorithm): Promise<CryptoKey> {
  const key = await importJWK(jwk, alg);
  if (key instanceof Uint8Array) throw new Error('a symmetric key cannot sign access tokens');
  if (alg === 'RS256' && rsaModulusBits(jwk) < MIN_RSA_MODULUS_BITS) throw new Error(`RS256 keys need at least ${MIN_RSA_MODULUS_BITS} bits`);
  return key;
}

/** Bits of an RSA JWK's modulus `n` (0 when it has none). */
export function rsaModulusBits(jwk: JWK): number {
  if (typeof jwk.n !== 'string') return 0;
  const n = base64url.decode(jwk.n);
  let i = 0;
  while (i < n.length && n[i] === 0) i++;
  if (i === n.length) return 0;
  return (n.length - i - 1) * 8 + (32 - Math.clz32(n[i] as number));
}
