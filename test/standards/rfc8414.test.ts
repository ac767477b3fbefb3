/**
 * RFC 8414 (authorization server metadata) conformance: everything an unmodified client
 * library needs to talk to the auth service without guessing: endpoints, the client
 * authentication methods per endpoint, the scopes, grant types, resource indicators and
 * the signing algorithm; every advertised endpoint exists.
 */
import { describe, expect, it } from 'vitest';
import { AUTH_TEST_ISSUER, useAuthApp } from '../support/auth-app.ts';

const auth = useAuthApp({ SCOPES: 'orders:read,orders:write,orders:admin,profile:read,profile:write' });

describe('RFC 8414: /.well-known/oauth-authorization-server', () => {
  it('names the issuer, the endpoints, the auth methods per endpoint, the scopes and the algorithm', async () => {
    const res = await auth.app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const metadata = res.json() as Record<string, unknown>;
    const at = (path: string) => new URL(path, AUTH_TEST_ISSUER).href;
    expect(metadata).toMatchObject({
      issuer: AUTH_TEST_ISSUER,
      token_endpoint: at('/oauth/token'),
      jwks_uri: at('/.well-known/jwks.json'),
      revocation_endpoint: at('/oauth/revoke'),
      introspection_endpoint: at('/oauth/introspect'),
      grant_types_supported: ['refresh_token'],
      response_types_supported: [],
      token_endpoint_auth_methods_supported: ['none', 'client_secret_basic'],
      revocation_endpoint_auth_methods_supported: ['none', 'client_secret_basic'],
      introspection_endpoint_auth_methods_supported: ['client_secret_basic'],
      scopes_supported: ['orders:read', 'orders:write', 'orders:admin', 'profile:read', 'profile:write'],
      resource_indicators_supported: true,
      access_token_signing_alg_values_supported: ['EdDSA'],
    });
  });

  it('every advertised endpoint answers (none is a 404)', async () => {
    const metadata = (await auth.app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })).json() as Record<string, string>;
    const path = (url: string) => new URL(url).pathname;
    expect((await auth.app.inject({ method: 'GET', url: path(metadata['jwks_uri'] as string) })).statusCode).toBe(200);
    for (const name of ['token_endpoint', 'revocation_endpoint', 'introspection_endpoint']) {
      const res = await auth.form(path(metadata[name] as string), {});
      expect(res.statusCode, name).not.toBe(404);
      expect(res.statusCode, name).toBeLessThan(500);
    }
  });

  it('scopes_supported follows SCOPES, and an unknown scope is refused', async () => {
    const ok = await auth.login({ scope: 'orders:admin' });
    expect(ok.scope).toBe('orders:admin');
    const user = await auth.register();
    const bad = await auth.app.inject({ method: 'POST', url: '/v1/login', payload: { email: user.email, password: user.password, scope: 'orders:delete' } });
    expect(bad.json()).toMatchObject({ error: 'invalid_scope' });
  });
});
