import { generateSigningKey, importPrivateKey, publicJwkFor, signAccessToken, verifyAccessToken, type SignerKey } from '@revocable/tokens';
import type { JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { CachedKeyResolver } from './key-resolver.ts';

async function newKey(): Promise<{ jwk: JWK; signer: SignerKey }> {
  const m = await generateSigningKey('EdDSA');
  return { jwk: publicJwkFor(m.publicJwk, m.kid, m.alg), signer: { kid: m.kid, alg: m.alg, privateKey: await importPrivateKey(m.privateJwk, m.alg) } };
}

describe('CachedKeyResolver', () => {
  it('reads the keys once while fresh, again after the TTL, at once after invalidate(), and for an unknown kid at most once per cooldown', async () => {
    let nowMs = 1_700_000_000_000;
    const now = () => nowMs;
    const a = await newKey();
    const b = await newKey();
    let published: JWK[] = [a.jwk];
    let loads = 0;
    const resolver = new CachedKeyResolver({
      load: async () => {
        loads++;
        return published;
      },
      ttlMs: 10_000,
      unknownKidCooldownMs: 1000,
      now,
    });
    const sign = async (key: SignerKey) =>
      (await signAccessToken({ sub: 'u', sid: 's', ver: 1, aud: 'orders', jti: `j-${Math.random()}` }, key, { issuer: 'iss', accessTtlSeconds: 900, now })).token;
    const verify = (token: string) => verifyAccessToken(token, resolver.getKey, { issuer: 'iss', audience: 'orders', now });

    const tokenA = await sign(a.signer);
    await Promise.all([verify(tokenA), verify(tokenA), verify(tokenA)]);
    expect(loads).toBe(1);
    nowMs += 9_999;
    await verify(tokenA);
    expect(loads).toBe(1);
    nowMs += 1;
    await verify(tokenA);
    expect(loads).toBe(2);

    // Another instance published b: its tokens reload the set once (not before the cooldown).
    published = [a.jwk, b.jwk];
    const tokenB = await sign(b.signer);
    await expect(verify(tokenB)).rejects.toMatchObject({ reason: 'unknown_kid' });
    expect(loads).toBe(2);
    nowMs += 1000;
    await verify(tokenB);
    expect(loads).toBe(3);
    await verify(tokenB);
    expect(loads).toBe(3);

    // Revoked here: invalidate() makes the next verification read the keys again.
    published = [b.jwk];
    resolver.invalidate();
    await expect(verify(tokenA)).rejects.toMatchObject({ reason: 'unknown_kid' });
    expect(loads).toBe(4);
  });
});
