import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import type { SigningAlgorithm } from './contract.ts';

/** A signing key pair as the issuer stores it. The private JWK never leaves the issuer. */
export interface SigningKeyMaterial {
  /** RFC 7638 thumbprint of the public key; goes in every token's `kid` header. */
  kid: string;
  alg: SigningAlgorithm;
  publicJwk: JWK;
  privateJwk: JWK;
}

/** Generates a fresh key pair (Ed25519 for `EdDSA`, P-256 for `ES256`). */
export async function generateSigningKey(alg: SigningAlgorithm = 'EdDSA'): Promise<SigningKeyMaterial> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
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
  return key;
}
