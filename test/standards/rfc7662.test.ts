/**
 * RFC 7662 (token introspection) conformance of /oauth/introspect: only confidential
 * clients (HTTP Basic) may call it (§2.1; otherwise 401 invalid_client with a challenge);
 * an active answer has `token_type` "Bearer" (RFC 6749 §7.1), `scope`, `client_id`,
 * `username`, `nbf` and the token's claims (§2.2); anything not live for the caller's
 * audience is just `{"active": false}`.
 */
import { describe, expect, it } from 'vitest';
import { useAuthApp, TEST_CLIENTS } from '../support/auth-app.ts';

const auth = useAuthApp();

const introspect = (token: string, client: keyof typeof TEST_CLIENTS = 'orders') =>
  auth.form('/oauth/introspect', { token }, { authorization: auth.basic(client, TEST_CLIENTS[client]) });

describe('RFC 7662: /oauth/introspect', () => {
  it('an active token: token_type Bearer, scope, client_id, username, nbf and the claims; no-store', async () => {
    const tokens = await auth.login({ audience: ['orders', 'profile'], scope: 'orders:read profile:read' });
    const claims = auth.claims(tokens.access_token);
    const res = await introspect(tokens.access_token);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['pragma']).toBe('no-cache');
    expect(res.json()).toEqual({
      active: true,
      token_type: 'Bearer',
      scope: 'orders:read profile:read',
      client_id: 'revocable-app',
      username: tokens.user.email,
      sub: tokens.user.id,
      aud: ['orders', 'profile'],
      iss: claims['iss'],
      exp: claims['exp'],
      iat: claims['iat'],
      nbf: claims['iat'],
      jti: claims['jti'],
      sid: claims['sid'],
      ver: claims['ver'],
    });
  });

  it('inactive, with nothing else, for another audience, a revoked session and garbage', async () => {
    const { access_token } = await auth.login({ audience: 'orders' });
    expect((await introspect(access_token, 'profile')).json()).toEqual({ active: false });
    expect((await introspect('garbage')).json()).toEqual({ active: false });
    const other = await auth.login({ audience: ['orders', 'auth'] });
    expect((await auth.app.inject({ method: 'POST', url: '/v1/logout', headers: { authorization: `Bearer ${other.access_token}` } })).statusCode).toBe(204);
    expect((await introspect(other.access_token)).json()).toEqual({ active: false });
  });

  it('callers that are not confidential clients get 401 invalid_client with WWW-Authenticate', async () => {
    const { access_token } = await auth.login();
    for (const headers of [{}, { authorization: auth.basic('orders', 'wrong') }, { authorization: `Bearer ${access_token}` }] as Array<Record<string, string>>) {
      const res = await auth.form('/oauth/introspect', { token: access_token, client_id: 'revocable-app' }, headers);
      expect(res.statusCode, JSON.stringify(headers)).toBe(401);
      expect(res.json()).toMatchObject({ error: 'invalid_client' });
      expect(res.headers['www-authenticate']).toMatch(/^Basic /);
    }
  });
});
