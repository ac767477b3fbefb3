import { generateKeyPairSync, KeyObject, sign as cryptoSign } from 'node:crypto';
import { createLocalJWKSet, SignJWT, base64url, exportJWK, generateKeyPair, type JWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKey, importPrivateKey, signAccessToken, verifyAccessToken, type SigningKeyMaterial, type TokenRejectReason } from './index.ts';

const NOW = 1_800_000_000_000;
const issuer = 'https://auth.test';
const input = { sub: 'user-1', aud: 'orders', jti: 'jti-1', sid: 'sid-1', ver: 2, scope: 'orders:read' };

describe('access tokens', () => {
  let key: SigningKeyMaterial;
  let jwks: ReturnType<typeof createLocalJWKSet>;
  let signer: { kid: string; alg: 'EdDSA'; privateKey: CryptoKey };

  beforeAll(async () => {
    key = await generateSigningKey('EdDSA');
    jwks = createLocalJWKSet({ keys: [key.publicJwk] });
    signer = { kid: key.kid, alg: 'EdDSA', privateKey: await importPrivateKey(key.privateJwk, 'EdDSA') };
  });

  const verify = (token: string, over: Partial<Parameters<typeof verifyAccessToken>[2]> = {}) =>
    verifyAccessToken(token, jwks, { issuer, audience: 'orders', now: () => NOW, ...over });

  async function reason(promise: Promise<unknown>): Promise<TokenRejectReason | 'accepted'> {
    try {
      await promise;
      return 'accepted';
    } catch (error) {
      return (error as { reason: TokenRejectReason }).reason;
    }
  }

  it('signs at+jwt with kid and verifies the claims', async () => {
    const { token, claims } = await signAccessToken(input, signer, { issuer, accessTtlSeconds: 900, now: () => NOW });
    expect(claims).toMatchObject({ iss: issuer, iat: NOW / 1000, exp: NOW / 1000 + 900, ver: 2 });
    const verified = await verify(token);
    expect(verified).toMatchObject({ kid: key.kid, alg: 'EdDSA', claims: { sub: 'user-1', sid: 'sid-1', jti: 'jti-1' } });
    expect(key.publicJwk).not.toHaveProperty('d');
    expect(key.publicJwk).toMatchObject({ kid: key.kid, alg: 'EdDSA', use: 'sig' });
  });

  it('ES256 keys sign and verify too', async () => {
    const es = await generateSigningKey('ES256');
    const { token } = await signAccessToken(input, { kid: es.kid, alg: 'ES256', privateKey: await importPrivateKey(es.privateJwk, 'ES256') }, { issuer, accessTtlSeconds: 60, now: () => NOW });
    await expect(verifyAccessToken(token, createLocalJWKSet({ keys: [es.publicJwk] }), { issuer, audience: 'orders', now: () => NOW })).resolves.toBeTruthy();
  });

  it('RS256 keys (2048 bits and more) sign and verify; smaller RSA keys are refused on both sides', async () => {
    const rs = await generateSigningKey('RS256');
    expect(rs.publicJwk).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig', kid: rs.kid });
    const rsSigner = { kid: rs.kid, alg: 'RS256' as const, privateKey: await importPrivateKey(rs.privateJwk, 'RS256') };
    const { token } = await signAccessToken(input, rsSigner, { issuer, accessTtlSeconds: 60, now: () => NOW });
    const verified = await verifyAccessToken(token, createLocalJWKSet({ keys: [rs.publicJwk] }), { issuer, audience: 'orders', now: () => NOW });
    expect(verified).toMatchObject({ alg: 'RS256', claims: { sub: 'user-1', nbf: NOW / 1000 } });
    await expect(generateSigningKey('RS256', { rsaModulusBits: 1024 })).rejects.toThrow(/2048/);
    // jose will not make a small key; node:crypto will, and hand-signs a token with it.
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const weakPublic = { ...(weak.publicKey.export({ format: 'jwk' }) as JWK), kid: 'weak', alg: 'RS256' };
    await expect(importPrivateKey({ ...(weak.privateKey.export({ format: 'jwk' }) as JWK), alg: 'RS256' }, 'RS256')).rejects.toThrow(/2048/);
    const enc = (o: object) => base64url.encode(JSON.stringify(o));
    const signingInput = `${enc({ alg: 'RS256', typ: 'at+jwt', kid: 'weak' })}.${enc({ ...input, iss: issuer, iat: NOW / 1000, exp: NOW / 1000 + 60 })}`;
    const forged = `${signingInput}.${base64url.encode(cryptoSign('sha256', Buffer.from(signingInput), weak.privateKey))}`;
    expect(await reason(verifyAccessToken(forged, createLocalJWKSet({ keys: [weakPublic] }), { issuer, audience: 'orders', now: () => NOW }))).not.toBe('accepted');
  });

  it('accepts Ed25519 (RFC 9864) as EdDSA, whichever name the token header and the JWKS use', async () => {
    const payload = { ...input, iss: issuer, iat: NOW / 1000, exp: NOW / 1000 + 60 };
    const asEd25519 = await new SignJWT(payload).setProtectedHeader({ alg: 'Ed25519', typ: 'at+jwt', kid: key.kid }).sign(signer.privateKey);
    expect(await verify(asEd25519)).toMatchObject({ alg: 'Ed25519', claims: { sub: 'user-1' } });
    const { token } = await signAccessToken(input, signer, { issuer, accessTtlSeconds: 60, now: () => NOW });
    const jwksEd25519 = createLocalJWKSet({ keys: [{ ...key.publicJwk, alg: 'Ed25519' }] });
    expect(await verifyAccessToken(token, jwksEd25519, { issuer, audience: 'orders', now: () => NOW })).toMatchObject({ alg: 'EdDSA' });
    expect(await reason(verify(asEd25519, { algorithms: ['EdDSA'] }))).toBe('unsupported_alg');
  });

  it('expires with the injected clock, honouring the leeway', async () => {
    const { token } = await signAccessToken(input, signer, { issuer, accessTtlSeconds: 60, now: () => NOW });
    expect(await reason(verify(token, { now: () => NOW + 64_000 }))).toBe('accepted');
    expect(await reason(verify(token, { now: () => NOW + 66_000 }))).toBe('expired');
  });

  it('rejects wrong audience, issuer and a token used before its nbf (= iat) with stable reasons and codes', async () => {
    const { token } = await signAccessToken(input, signer, { issuer, accessTtlSeconds: 60, now: () => NOW });
    expect(await reason(verify(token, { audience: 'profile' }))).toBe('wrong_audience');
    expect(await reason(verify(token, { issuer: 'https://evil' }))).toBe('wrong_issuer');
    expect(await reason(verify(token, { now: () => NOW - 60_000 }))).toBe('not_yet_valid');
    await expect(verify(token, { audience: 'profile' })).rejects.toMatchObject({ code: 'ERR_TOKEN_WRONG_AUDIENCE' });
  });

  it('refuses alg none, HMAC with the public key, forbidden headers, wrong typ and oversize input', async () => {
    const payload = { ...input, iss: issuer, iat: NOW / 1000, exp: NOW / 1000 + 60 };
    const enc = (o: object) => base64url.encode(JSON.stringify(o));
    const none = `${enc({ alg: 'none', typ: 'at+jwt', kid: key.kid })}.${enc(payload)}.`;
    expect(await reason(verify(none))).toBe('malformed');
    const hmacKey = new TextEncoder().encode(JSON.stringify(key.publicJwk));
    const hs = await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: key.kid }).sign(hmacKey);
    expect(await reason(verify(hs))).toBe('unsupported_alg');
    const jku = await new SignJWT(payload).setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: key.kid, jku: 'https://evil/jwks' }).sign(signer.privateKey);
    expect(await reason(verify(jku))).toBe('forbidden_header');
    const jwt = await new SignJWT(payload).setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid: key.kid }).sign(signer.privateKey);
    expect(await reason(verify(jwt))).toBe('bad_typ');
    expect(await reason(verify('a'.repeat(9000)))).toBe('token_too_large');
    expect(await reason(verify('not.a.jwt!'))).toBe('malformed');
  });

  it('rejects a token signed by another key with the same kid, and an unknown kid', async () => {
    const other = await generateKeyPair('EdDSA', { extractable: true });
    const forged = await new SignJWT({ ...input, iss: issuer, iat: NOW / 1000, exp: NOW / 1000 + 60 })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: key.kid })
      .sign(other.privateKey);
    expect(await reason(verify(forged))).toBe('bad_signature');
    const unknown = await new SignJWT({ ...input, iss: issuer, iat: NOW / 1000, exp: NOW / 1000 + 60 })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: 'nope' })
      .sign(other.privateKey);
    expect(await reason(verify(unknown))).toBe('unknown_kid');
    const jwk: JWK = await exportJWK(other.publicKey);
    expect(jwk).not.toHaveProperty('d');
  });

  it('requires sid, ver and a sane lifetime', async () => {
    const sign = (claims: object) =>
      new SignJWT({ iss: issuer, aud: 'orders', sub: 'u', jti: 'j', iat: NOW / 1000, exp: NOW / 1000 + 60, ...claims })
        .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: key.kid })
        .sign(signer.privateKey);
    expect(await reason(verify(await sign({ ver: 1 })))).toBe('invalid_claims');
    expect(await reason(verify(await sign({ sid: 's' })))).toBe('invalid_claims');
    expect(await reason(verify(await sign({ sid: 's', ver: -1 })))).toBe('invalid_claims');
    expect(await reason(verify(await sign({ sid: 's', ver: 1, exp: NOW / 1000 + 10 * 86_400 })))).toBe('invalid_claims');
    expect(await reason(verify(await sign({ sid: 's', ver: 1 })))).toBe('accepted');
  });

  it('checks the JWS itself as jose does: typ as a media type, crit refused, the key of the token\'s algorithm, strict JSON and UTF-8', async () => {
    const enc = (o: object) => base64url.encode(JSON.stringify(o));
    const privateKey = KeyObject.from(signer.privateKey);
    const handSigned = (header: object, payload: string) => {
      const signingInput = `${enc({ alg: 'EdDSA', kid: key.kid, ...header })}.${payload}`;
      return `${signingInput}.${base64url.encode(cryptoSign(null, Buffer.from(signingInput), privateKey))}`;
    };
    const claims = { ...input, iss: issuer, iat: NOW / 1000, exp: NOW / 1000 + 60 };
    expect(await reason(verify(handSigned({ typ: 'application/AT+JWT' }, enc(claims))))).toBe('accepted');
    expect(await reason(verify(handSigned({ typ: 'at+jwt', crit: ['exp'], exp: 1 }, enc(claims))))).toBe('unsupported_alg');
    expect(await reason(verify(handSigned({}, enc(claims))))).toBe('bad_typ');
    expect(await reason(verify(handSigned({ typ: 'at+jwt' }, enc([claims]))))).toBe('malformed');
    expect(await reason(verify(handSigned({ typ: 'at+jwt' }, base64url.encode(Buffer.from([0x7b, 0xff, 0x7d])))))).toBe('malformed');
    const { iss: _iss, ...noIssuer } = claims;
    expect(await reason(verify(handSigned({ typ: 'at+jwt' }, enc(noIssuer))))).toBe('wrong_issuer');
    expect(await reason(verify(handSigned({ typ: 'at+jwt' }, enc({ ...claims, aud: ['profile', 'orders'] }))))).toBe('accepted');
    expect(await reason(verify(handSigned({ typ: 'at+jwt' }, enc({ ...claims, exp: String(claims.exp) }))))).toBe('invalid_claims');
    // A flipped payload byte under the original signature.
    const good = handSigned({ typ: 'at+jwt' }, enc(claims));
    const [h, p, sig] = good.split('.') as [string, string, string];
    expect(await reason(verify(`${h}.${enc({ ...claims, sub: 'admin' })}.${sig}`))).toBe('bad_signature');
    expect(await reason(verify(`${h}.${p}.${sig.slice(0, -4)}AAAA`))).toBe('bad_signature');
    // A resolver may hand out a KeyObject; one of another algorithm never verifies an EdDSA token.
    expect(await reason(verifyAccessToken(good, async () => KeyObject.from((await jwks({ alg: 'EdDSA', kid: key.kid }, { payload: p, signature: sig })) as CryptoKey), { issuer, audience: 'orders', now: () => NOW }))).toBe('accepted');
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    expect(await reason(verifyAccessToken(good, async () => ec.publicKey, { issuer, audience: 'orders', now: () => NOW }))).toBe('unknown_kid');
  });
});
