import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, type JWTVerifyGetKey } from 'jose';
import { describe, expect, it } from 'vitest';
import { Denylist } from '@revocable/denylist';
import { generateSigningKey, importPrivateKey, signAccessToken, TokenVerificationError } from '@revocable/tokens';
import { RevokedTokenError, TokenVerifier } from './verifier.ts';

const ISSUER = 'https://auth.test';
const T0 = Date.UTC(2026, 0, 1);

async function setup() {
  const key = await generateSigningKey('EdDSA');
  const privateKey = await importPrivateKey(key.privateJwk, key.alg);
  const local = createLocalJWKSet({ keys: [key.publicJwk] });
  let keyLookups = 0;
  const getKey: JWTVerifyGetKey = (header, input) => {
    keyLookups++;
    return local(header, input);
  };
  let nowMs = T0;
  const now = () => nowMs;
  const denylist = new Denylist({ now });
  const verifier = new TokenVerifier({ issuer: ISSUER, audience: 'orders', getKey, denylist, now });
  const sign = async (overrides: { aud?: string | string[]; scope?: string; ver?: number; ttl?: number } = {}) =>
    signAccessToken(
      {
        sub: 'user-1',
        aud: overrides.aud ?? 'orders',
        jti: randomUUID(),
        sid: 'session-1',
        ver: overrides.ver ?? 3,
        ...(overrides.scope !== undefined ? { scope: overrides.scope } : {}),
      },
      { kid: key.kid, alg: key.alg, privateKey },
      { issuer: ISSUER, accessTtlSeconds: overrides.ttl ?? 900, now },
    );
  return {
    key,
    verifier,
    denylist,
    sign,
    lookups: () => keyLookups,
    advance: (ms: number) => {
      nowMs += ms;
    },
    now,
  };
}

async function rejection(promise: Promise<unknown>): Promise<TokenVerificationError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof TokenVerificationError) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

describe('TokenVerifier', () => {
  it('answers a cache hit only for the very token verified: another token with the same tail is verified in full', async () => {
    const s = await setup();
    const { token } = await s.sign({ scope: 'orders:read' });
    expect(s.verifier.cached(token)).toBeUndefined();
    await s.verifier.verify(token);
    expect(s.verifier.cached(token)?.context.claims.sub).toBe('user-1');
    // Same signature (so the same last characters), another payload: never the cached answer.
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: 'admin', scope: 'orders:admin' })).toString('base64url')}.${signature}`;
    expect(forged.slice(-16)).toBe(token.slice(-16));
    expect(s.verifier.cached(forged)).toBeUndefined();
    expect((await rejection(s.verifier.verify(forged))).reason).toBe('bad_signature');
    // The forgery did not displace the real token.
    expect(s.verifier.cached(token)?.cached).toBe(true);
    expect(s.verifier.cacheStats()).toMatchObject({ size: 1 });
  });

  it('verifies once, then answers repeated tokens from the cache without signature work', async () => {
    const s = await setup();
    const { token } = await s.sign({ scope: 'orders:read orders:write' });
    const first = await s.verifier.verify(token);
    expect(first.cached).toBe(false);
    expect(first.context.claims.sub).toBe('user-1');
    expect([...first.context.scopes]).toEqual(['orders:read', 'orders:write']);
    expect(first.context.kid).toBe(s.key.kid);
    const second = await s.verifier.verify(token);
    expect(second.cached).toBe(true);
    expect(s.lookups()).toBe(1);
    expect(s.verifier.cacheStats()).toMatchObject({ hits: 1, misses: 1, size: 1 });
  });

  it('verifies a burst of one new token once', async () => {
    const s = await setup();
    const { token } = await s.sign();
    const results = await Promise.all(Array.from({ length: 20 }, () => s.verifier.verify(token)));
    expect(results.every((r) => r.context.claims.sub === 'user-1')).toBe(true);
    expect(s.lookups()).toBe(1);
    const bad = (await s.sign({ aud: 'profile' })).token;
    const failures = await Promise.allSettled(Array.from({ length: 5 }, () => s.verifier.verify(bad)));
    expect(failures.every((f) => f.status === 'rejected' && (f.reason as TokenVerificationError).reason === 'wrong_audience')).toBe(true);
    expect(s.lookups()).toBe(2);
    // Nothing stays in flight: the failed token is verified afresh next time.
    await rejection(s.verifier.verify(bad));
    expect(s.lookups()).toBe(3);
  });

  it('still checks a cached token against the denylist on every call', async () => {
    const s = await setup();
    const { token } = await s.sign();
    await s.verifier.verify(token);
    s.denylist.apply({
      v: 1,
      id: randomUUID(),
      at: s.now(),
      type: 'session.revoked',
      sub: 'user-1',
      sid: 'session-1',
      reason: 'logout',
      until: Math.floor(s.now() / 1000) + 900,
    });
    const error = await rejection(s.verifier.verify(token));
    expect(error).toBeInstanceOf(RevokedTokenError);
    expect(error.reason).toBe('revoked');
    expect(error.code).toBe('ERR_TOKEN_REVOKED');
    expect((error as RevokedTokenError).kind).toBe('session');
    expect(s.lookups()).toBe(1);
  });

  it('denies tokens below a user minimum version and tokens signed by a revoked key', async () => {
    const s = await setup();
    const old = await s.sign({ ver: 3 });
    const current = await s.sign({ ver: 4 });
    s.denylist.apply({ v: 1, id: randomUUID(), at: s.now(), type: 'user.revoked', sub: 'user-1', minVer: 4, reason: 'logout_all', until: Math.floor(s.now() / 1000) + 900 });
    expect(((await rejection(s.verifier.verify(old.token))) as RevokedTokenError).kind).toBe('user');
    expect((await s.verifier.verify(current.token)).context.claims.ver).toBe(4);
    s.denylist.apply({ v: 1, id: randomUUID(), at: s.now(), type: 'key.revoked', kid: s.key.kid, until: Math.floor(s.now() / 1000) + 900 });
    expect(((await rejection(s.verifier.verify(current.token))) as RevokedTokenError).kind).toBe('key');
  });

  it('drops a cache entry at exp and reports the token as expired', async () => {
    const s = await setup();
    const { token } = await s.sign({ ttl: 60 });
    await s.verifier.verify(token);
    s.advance(61_000);
    // Inside the 5 s leeway the token is still good, but it is verified again, not served from cache.
    const again = await s.verifier.verify(token);
    expect(again.cached).toBe(false);
    s.advance(10_000);
    expect((await rejection(s.verifier.verify(token))).reason).toBe('expired');
  });

  it('never caches failures: every bad token pays full verification', async () => {
    const s = await setup();
    const { token } = await s.sign({ aud: 'profile' });
    expect((await rejection(s.verifier.verify(token))).reason).toBe('wrong_audience');
    expect((await rejection(s.verifier.verify(token))).reason).toBe('wrong_audience');
    expect(s.lookups()).toBe(2);
    expect(s.verifier.cacheStats().size).toBe(0);
  });

  it('accepts a token whose aud lists this service among others', async () => {
    const s = await setup();
    const { token } = await s.sign({ aud: ['profile', 'orders'] });
    expect((await s.verifier.verify(token)).context.claims.aud).toEqual(['profile', 'orders']);
  });
});

describe('TokenVerifier.check (the request path)', () => {
  it('answers a cached token synchronously and a denied one as an answer, not an exception', async () => {
    const s = await setup();
    const { token } = await s.sign();
    const first = s.verifier.check(token);
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toMatchObject({ cached: false, denied: null });
    const hit = s.verifier.check(token);
    expect(hit).not.toBeInstanceOf(Promise);
    expect(hit).toMatchObject({ cached: true, denied: null });
    s.denylist.revokeSession('session-1', Math.floor(s.now() / 1000) + 900);
    expect(s.verifier.check(token)).toMatchObject({ cached: true, denied: 'session' });
    // verify() keeps its contract: a denied token rejects with RevokedTokenError.
    const error = await rejection(s.verifier.verify(token));
    expect(error).toBeInstanceOf(RevokedTokenError);
    expect((error as RevokedTokenError).kind).toBe('session');
  });

  it('hashes a cached token\'s ids once (prepare) and checks the prepared ids on every hit', async () => {
    const s = await setup();
    const real = new Denylist({ now: s.now });
    let prepared = 0;
    let checkedPrepared = 0;
    let checkedPlain = 0;
    const lookup = {
      check: (q: Parameters<Denylist['check']>[0]) => (checkedPlain++, real.check(q)),
      prepare: (q: Parameters<Denylist['prepare']>[0]) => (prepared++, real.prepare(q)),
      checkPrepared: (p: ReturnType<Denylist['prepare']>) => (checkedPrepared++, real.checkPrepared(p)),
    };
    const getKey = createLocalJWKSet({ keys: [s.key.publicJwk] });
    const verifier = new TokenVerifier({ issuer: ISSUER, audience: 'orders', getKey, denylist: lookup, now: s.now });
    const { token } = await s.sign();
    await verifier.check(token);
    for (let i = 0; i < 5; i++) expect(verifier.check(token)).toMatchObject({ cached: true, denied: null });
    real.revokeUserBelow('user-1', 4, Math.floor(s.now() / 1000) + 900);
    expect(verifier.check(token)).toMatchObject({ cached: true, denied: 'user' });
    expect(prepared).toBe(1);
    expect(checkedPrepared).toBe(6);
    // Only the first (uncached) answer checked the plain ids.
    expect(checkedPlain).toBe(1);
  });

  it('does not cache a token denied by its key, and forgetKid drops the cached tokens of a revoked key', async () => {
    const s = await setup();
    const { token } = await s.sign();
    await s.verifier.check(token);
    expect(s.verifier.check(token)).toMatchObject({ cached: true, denied: null });
    const kid = s.key.kid;
    expect(s.verifier.forgetKid('another-kid')).toBe(0);
    expect(s.verifier.forgetKid(kid)).toBe(1);
    expect(s.verifier.cacheStats().size).toBe(0);
    // The key is revoked: verified again, denied by `key`, and not kept in the cache.
    s.denylist.revokeKey(kid, Math.floor(s.now() / 1000) + 900);
    const lookups = s.lookups();
    expect(await s.verifier.check(token)).toMatchObject({ cached: false, denied: 'key' });
    expect(await s.verifier.check(token)).toMatchObject({ cached: false, denied: 'key' });
    expect(s.lookups()).toBe(lookups + 2);
    expect(s.verifier.cacheStats().size).toBe(0);
  });

  it('refuses a token living longer than maxLifetimeSeconds (default 3600, the issuer maximum)', async () => {
    const s = await setup();
    const long = (await s.sign({ ttl: 3601 })).token;
    expect((await rejection(s.verifier.verify(long))).reason).toBe('invalid_claims');
    expect((await s.verifier.verify((await s.sign({ ttl: 3600 })).token)).cached).toBe(false);
    const lenient = new TokenVerifier({ issuer: ISSUER, audience: 'orders', getKey: createLocalJWKSet({ keys: [s.key.publicJwk] }), denylist: s.denylist, now: s.now, maxLifetimeSeconds: 7200 });
    expect((await lenient.verify(long)).context.claims.sub).toBe('user-1');
    const strict = new TokenVerifier({ issuer: ISSUER, audience: 'orders', getKey: createLocalJWKSet({ keys: [s.key.publicJwk] }), denylist: s.denylist, now: s.now, maxLifetimeSeconds: 600 });
    expect((await rejection(strict.verify((await s.sign({ ttl: 900 })).token))).reason).toBe('invalid_claims');
  });
});
