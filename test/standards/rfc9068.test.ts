/**
 * RFC 9068 (JWT profile for access tokens) conformance: `typ: at+jwt`, the required claims
 * (iss, exp, aud, sub, client_id, iat, jti; scope when granted), verification with the
 * published keys, RS256 (§2.1: issuers and resource servers must support it; keys of at least
 * 2048 bits) and EdDSA under either name (RFC 9864 `Ed25519`), and the audience check of
 * §4 at the auth service's own account API: a token for a resource service is refused there.
 */
import { createLocalJWKSet, decodeProtectedHeader, type JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '@revocable/auth';
import { rsaModulusBits, verifyAccessToken } from '@revocable/tokens';
import { AUTH_TEST_ISSUER, useAuthApp, type AuthTestApp } from '../support/auth-app.ts';

async function jwksOf(auth: AuthTestApp): Promise<JWK[]> {
  return ((await auth.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as { keys: JWK[] }).keys;
}

describe('RFC 9068 with the default EdDSA keys', () => {
  const auth = useAuthApp();

  it('every access token is at+jwt with iss, exp, aud, sub, client_id, iat, jti, nbf and scope, verifiable with the JWKS', async () => {
    const tokens = await auth.login({ audience: ['orders', 'auth'], scope: 'orders:read' });
    expect(decodeProtectedHeader(tokens.access_token)).toMatchObject({ typ: 'at+jwt', alg: 'EdDSA', kid: expect.any(String) });
    const { claims } = await verifyAccessToken(tokens.access_token, createLocalJWKSet({ keys: await jwksOf(auth) }), { issuer: AUTH_TEST_ISSUER, audience: 'orders' });
    expect(claims).toMatchObject({ iss: AUTH_TEST_ISSUER, aud: ['orders', 'auth'], sub: tokens.user.id, client_id: 'revocable-app', scope: 'orders:read', jti: expect.any(String) });
    expect(claims.exp - claims.iat).toBe(900);
    expect(claims.nbf).toBe(claims.iat);
    // Refreshed and password-changed tokens keep the profile.
    const refreshed = await auth.form('/oauth/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    expect(auth.claims((refreshed.json() as { access_token: string }).access_token)).toMatchObject({ client_id: 'revocable-app', scope: 'orders:read' });
    const changed = await auth.app.inject({
      method: 'POST',
      url: '/v1/password',
      headers: { authorization: `Bearer ${(refreshed.json() as { access_token: string }).access_token}` },
      payload: { current_password: tokens.user.password, new_password: 'another long passphrase 4 tests' },
    });
    expect(changed.statusCode, changed.body).toBe(200);
    expect(auth.claims((changed.json() as { access_token: string }).access_token)).toMatchObject({ client_id: 'revocable-app', scope: 'orders:read', aud: ['orders', 'auth'] });
  });

  it('the account API accepts only tokens for the auth service\'s own audience', async () => {
    const forOrders = await auth.login({ audience: ['orders', 'profile'] });
    const bearer = { authorization: `Bearer ${forOrders.access_token}` };
    for (const [method, url, payload] of [
      ['GET', '/v1/sessions', undefined],
      ['DELETE', `/v1/sessions/${String(auth.claims(forOrders.access_token)['sid'])}`, undefined],
      ['POST', '/v1/logout-all', undefined],
      ['POST', '/v1/password', { current_password: forOrders.user.password, new_password: 'another long passphrase 4 tests' }],
    ] as const) {
      const res = await auth.app.inject({ method, url, headers: bearer, ...(payload !== undefined ? { payload } : {}) });
      expect(res.statusCode, `${method} ${url}`).toBe(401);
      expect(res.json(), `${method} ${url}`).toMatchObject({ error: 'invalid_token', error_description: 'access token rejected: wrong_audience' });
    }
    // The session is intact: a token for the account audience lists it.
    const forAccount = await auth.login({ audience: 'auth' });
    const list = await auth.app.inject({ method: 'GET', url: '/v1/sessions', headers: { authorization: `Bearer ${forAccount.access_token}` } });
    expect(list.statusCode).toBe(200);
    // Logging out only takes privileges away: any of this issuer's tokens may end its own session.
    expect((await auth.app.inject({ method: 'POST', url: '/v1/logout', headers: bearer })).statusCode).toBe(204);
  });
});

describe('RFC 9068 §2.1: RS256', () => {
  const auth = useAuthApp({ SIGNING_ALG: 'RS256' });

  it('signs with 2048-bit (or larger) RSA keys, publishes them and advertises RS256', async () => {
    const tokens = await auth.login();
    expect(decodeProtectedHeader(tokens.access_token)).toMatchObject({ typ: 'at+jwt', alg: 'RS256' });
    const all = await jwksOf(auth);
    // The event-signing keys (heartbeats, `evt.` kids) stay Ed25519; every token key is RSA.
    const keys = all.filter((k) => !k.kid?.startsWith('evt.'));
    expect(all.filter((k) => k.kid?.startsWith('evt.')).every((k) => k.kty === 'OKP' && (k as Record<string, unknown>)['revocable_use'] === 'event')).toBe(true);
    for (const key of keys) {
      expect(key).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
      expect(rsaModulusBits(key)).toBeGreaterThanOrEqual(2048);
      expect(key).not.toHaveProperty('d');
    }
    await verifyAccessToken(tokens.access_token, createLocalJWKSet({ keys }), { issuer: AUTH_TEST_ISSUER, audience: 'orders' });
    const metadata = (await auth.app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })).json() as Record<string, unknown>;
    expect(metadata['access_token_signing_alg_values_supported']).toEqual(['RS256']);
  });
});

describe('SIGNING_ALG', () => {
  const base = { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/x', KEY_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64') };

  it('accepts Ed25519 (RFC 9864) as EdDSA, and refuses what it cannot sign with', () => {
    expect(loadConfig({ ...base, SIGNING_ALG: 'Ed25519' }).signingAlg).toBe('EdDSA');
    expect(loadConfig({ ...base, SIGNING_ALG: 'RS256' }).signingAlg).toBe('RS256');
    for (const alg of ['HS256', 'none', 'PS256', 'rs256']) {
      let error: unknown;
      try {
        loadConfig({ ...base, SIGNING_ALG: alg });
      } catch (e) {
        error = e;
      }
      expect(error, alg).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).variable).toBe('SIGNING_ALG');
    }
  });
});
