import { SignJWT, type CryptoKey } from 'jose';
import { ACCESS_TOKEN_TYP, type AccessTokenClaims, type SigningAlgorithm } from './contract.ts';

/** What the issuer decides per token: the claims but `iss`, `iat`, `nbf` and `exp`, which the signer fills in. */
export type AccessTokenInput = Omit<AccessTokenClaims, 'iss' | 'iat' | 'nbf' | 'exp'>;

export interface SignerKey {
  kid: string;
  alg: SigningAlgorithm;
  privateKey: CryptoKey;
}

export interface AccessTokenSignerOptions {
  issuer: string;
  /** Lifetime of each access token, in seconds. */
  accessTtlSeconds: number;
  /** Injected clock, epoch milliseconds. Defaults to `Date.now`. */
  now?: () => number;
}

/** Signs RFC 9068 access tokens (`typ: at+jwt`) with the given key. */
export async function signAccessToken(
  input: AccessTokenInput,
  key: SignerKey,
  options: AccessTokenSignerOptions,
): Promise<{ token: string; claims: AccessTokenClaims }> {
  const iat = Math.floor((options.now ?? Date.now)() / 1000);
  const claims: AccessTokenClaims = {
    iss: options.issuer,
    sub: input.sub,
    aud: input.aud,
    iat,
    nbf: iat,
    exp: iat + options.accessTtlSeconds,
    jti: input.jti,
    sid: input.sid,
    ver: input.ver,
    ...(input.scope !== undefined ? { scope: input.scope } : {}),
    ...(input.roles !== undefined ? { roles: input.roles } : {}),
    ...(input.client_id !== undefined ? { client_id: input.client_id } : {}),
  };
  const token = await new SignJWT({ ...claims })
    .setProtectedHeader({ alg: key.alg, typ: ACCESS_TOKEN_TYP, kid: key.kid })
    .sign(key.privateKey);
  return { token, claims };
}
