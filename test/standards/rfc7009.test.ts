/**
 * RFC 7009 (token revocation) conformance of /oauth/revoke: client authentication first
 * (§2.1; wrong credentials 401 invalid_client), then the token must belong to the caller
 * (issued to that client, or meant for the confidential client's audience; else 400
 * unauthorized_client, nothing revoked); unknown tokens and hints are not errors (§2.2).
 */
import { describe, expect, it } from 'vitest';
import { useAuthApp, TEST_CLIENTS } from '../support/auth-app.ts';

const auth = useAuthApp({ CLIENTS: JSON.stringify([{ client_id: 'revocable-app' }, { client_id: 'other-app' }]) });

const introspect = async (token: string, client: keyof typeof TEST_CLIENTS = 'orders') =>
  (await auth.form('/oauth/introspect', { token }, { authorization: auth.basic(client, TEST_CLIENTS[client]) })).json() as { active: boolean };

describe('RFC 7009: /oauth/revoke', () => {
  it('the public client a token was issued to revokes it (client_id, or none for the default client): 200 no-store, inactive at once', async () => {
    for (const fields of [{ client_id: 'revocable-app' }, {}] as Array<Record<string, string>>) {
      const { access_token } = await auth.login();
      expect((await introspect(access_token)).active).toBe(true);
      const res = await auth.form('/oauth/revoke', { token: access_token, token_type_hint: 'access_token', ...fields });
      expect(res.statusCode).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['pragma']).toBe('no-cache');
      expect((await introspect(access_token)).active).toBe(false);
    }
  });

  it('a token of another client is refused with unauthorized_client and stays active', async () => {
    const { access_token, refresh_token } = await auth.login({ client_id: 'other-app' });
    for (const token of [access_token, refresh_token]) {
      const res = await auth.form('/oauth/revoke', { token, client_id: 'revocable-app' });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ error: 'unauthorized_client' });
    }
    expect((await introspect(access_token)).active).toBe(true);
    expect((await auth.form('/oauth/token', { grant_type: 'refresh_token', refresh_token, client_id: 'other-app' })).statusCode).toBe(200);
  });

  it('a confidential client revokes access tokens meant for its audience only', async () => {
    const { access_token } = await auth.login({ audience: ['orders', 'auth'] });
    const byProfile = await auth.form('/oauth/revoke', { token: access_token }, { authorization: auth.basic('profile', TEST_CLIENTS.profile) });
    expect(byProfile.statusCode).toBe(400);
    expect(byProfile.json()).toMatchObject({ error: 'unauthorized_client' });
    const byOrders = await auth.form('/oauth/revoke', { token: access_token }, { authorization: auth.basic('orders', TEST_CLIENTS.orders) });
    expect(byOrders.statusCode).toBe(200);
    expect((await introspect(access_token)).active).toBe(false);
  });

  it('wrong client credentials are 401 invalid_client with WWW-Authenticate, and nothing is revoked', async () => {
    const { access_token } = await auth.login();
    const res = await auth.form('/oauth/revoke', { token: access_token }, { authorization: auth.basic('orders', 'not-the-secret') });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ error: 'invalid_client' });
    expect(res.headers['www-authenticate']).toMatch(/^Basic /);
    expect((await introspect(access_token)).active).toBe(true);
  });

  it('revoking a refresh token ends its session: the refresh is invalid_grant, the access token inactive', async () => {
    const { access_token, refresh_token } = await auth.login();
    expect((await auth.form('/oauth/revoke', { token: refresh_token, token_type_hint: 'refresh_token' })).statusCode).toBe(200);
    const res = await auth.form('/oauth/token', { grant_type: 'refresh_token', refresh_token });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'invalid_grant', reason: 'session_revoked' });
    expect((await introspect(access_token)).active).toBe(false);
  });

  it('unknown tokens, a wrong hint and an unknown hint are not errors (§2.2, §2.2.1)', async () => {
    expect((await auth.form('/oauth/revoke', { token: 'never-issued' })).statusCode).toBe(200);
    const { access_token, refresh_token } = await auth.login();
    expect((await auth.form('/oauth/revoke', { token: access_token, token_type_hint: 'refresh_token' })).statusCode).toBe(200);
    expect((await introspect(access_token)).active).toBe(false);
    expect((await auth.form('/oauth/revoke', { token: refresh_token, token_type_hint: 'saml_assertion' })).statusCode).toBe(200);
    expect((await auth.form('/oauth/token', { grant_type: 'refresh_token', refresh_token })).statusCode).toBe(400);
  });
});
