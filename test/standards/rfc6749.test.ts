/**
 * RFC 6749 (OAuth 2.0) conformance of the auth service: client authentication and its
 * errors (§2.3, §5.2), scopes (§3.3), the refresh grant bound to its client (§6), the token
 * response and its cache headers (§5.1). Real buildApp and PostgreSQL, driven with inject.
 */
import { describe, expect, it } from 'vitest';
import { useAuthApp, TEST_CLIENTS } from '../support/auth-app.ts';

const auth = useAuthApp({
  // A second public client restricted to reading orders, with its own defaults.
  CLIENTS: JSON.stringify([{ client_id: 'revocable-app' }, { client_id: 'orders-cli', audiences: ['orders', 'auth'], scopes: ['orders:read'], default_audiences: ['orders'] }]),
});

describe('RFC 6749 §2.3, §5.2: client authentication', () => {
  it('wrong HTTP Basic credentials on /oauth/token and /oauth/revoke are 401 invalid_client with WWW-Authenticate', async () => {
    const tokens = await auth.login();
    for (const [url, fields] of [
      ['/oauth/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }],
      ['/oauth/revoke', { token: tokens.access_token }],
    ] as const) {
      for (const authorization of [auth.basic('orders', 'wrong-secret'), auth.basic('nobody', 'x'), auth.basic('revocable-app', ''), 'Basic %%%', 'Bearer abc']) {
        const res = await auth.form(url, fields, { authorization });
        expect(res.statusCode, `${url} ${authorization}`).toBe(401);
        expect(res.json()).toMatchObject({ error: 'invalid_client' });
        expect(res.headers['www-authenticate'], url).toMatch(/^Basic realm="[^"]+"/);
      }
    }
    // Nothing happened: the refresh token still works.
    expect((await auth.form('/oauth/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token })).statusCode).toBe(200);
  });

  it('an unknown client_id, or a confidential client that does not authenticate, is 401 invalid_client', async () => {
    const tokens = await auth.login();
    for (const clientId of ['no-such-client', 'orders']) {
      const res = await auth.form('/oauth/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: clientId });
      expect(res.statusCode, clientId).toBe(401);
      expect(res.json()).toMatchObject({ error: 'invalid_client' });
      expect(res.headers['www-authenticate']).toMatch(/^Basic /);
    }
    const login = await auth.app.inject({ method: 'POST', url: '/v1/login', payload: { email: tokens.user.email, password: tokens.user.password, client_id: 'no-such-client' } });
    expect(login.statusCode).toBe(401);
    expect(login.json()).toMatchObject({ error: 'invalid_client' });
  });

  it('a confidential client (resource service) authenticates with Basic but logs nobody in (unauthorized_client)', async () => {
    const user = await auth.register();
    const login = await auth.app.inject({ method: 'POST', url: '/v1/login', payload: { email: user.email, password: user.password, client_id: 'orders' } });
    expect(login.statusCode).toBe(400);
    expect(login.json()).toMatchObject({ error: 'unauthorized_client' });
  });
});

describe('RFC 6749 §5.1: the token response', () => {
  it('carries token_type Bearer, expires_in and scope, with Cache-Control: no-store and Pragma: no-cache', async () => {
    const user = await auth.register();
    const res = await auth.app.inject({ method: 'POST', url: '/v1/login', payload: { email: user.email, password: user.password } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['pragma']).toBe('no-cache');
    const body = res.json() as { token_type: string; expires_in: number; scope: string; refresh_token: string };
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 900, scope: 'orders:read orders:write' });
    const refreshed = await auth.form('/oauth/token', { grant_type: 'refresh_token', refresh_token: body.refresh_token, client_id: 'revocable-app' });
    expect(refreshed.statusCode).toBe(200);
    expect(refreshed.headers['cache-control']).toBe('no-store');
    expect(refreshed.headers['pragma']).toBe('no-cache');
    expect(refreshed.json()).toMatchObject({ token_type: 'Bearer', scope: 'orders:read orders:write' });
  });

  it('an unsupported grant type is unsupported_grant_type', async () => {
    const res = await auth.form('/oauth/token', { grant_type: 'password', username: 'a', password: 'b' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'unsupported_grant_type' });
  });
});

describe('RFC 6749 §3.3: scopes', () => {
  it('grants the requested subset; without a request, the client\'s default scopes of the granted audiences', async () => {
    const subset = await auth.login({ audience: ['orders', 'profile'], scope: 'orders:read profile:read' });
    expect(subset.scope).toBe('orders:read profile:read');
    expect(auth.claims(subset.access_token)['scope']).toBe('orders:read profile:read');
    const defaults = await auth.login({ audience: ['orders', 'profile'] });
    expect(defaults.scope).toBe('orders:read orders:write profile:read profile:write');
    const cli = await auth.login({ client_id: 'orders-cli' });
    expect(auth.claims(cli.access_token)).toMatchObject({ aud: 'orders', client_id: 'orders-cli', scope: 'orders:read' });
  });

  it('refuses unknown scopes, scopes the client may not have, scopes of another audience, and bad syntax with invalid_scope', async () => {
    const user = await auth.register();
    for (const [body, what] of [
      [{ scope: 'admin' }, 'unknown'],
      [{ scope: 'orders:read orders:admin' }, 'unknown'],
      [{ client_id: 'orders-cli', scope: 'orders:write' }, 'not allowed for the client'],
      [{ audience: 'orders', scope: 'profile:read' }, 'of an audience not requested'],
      [{ scope: 'orders:read "quoted"' }, 'outside the scope-token grammar'],
    ] as const) {
      const res = await auth.app.inject({ method: 'POST', url: '/v1/login', payload: { email: user.email, password: user.password, ...body } });
      expect(res.statusCode, what).toBe(400);
      expect(res.json(), what).toMatchObject({ error: 'invalid_scope' });
    }
  });

  it('a refresh may narrow the scope but never widen it (scope=admin, or one not granted at login)', async () => {
    const tokens = await auth.login({ audience: ['orders', 'profile'], scope: 'orders:read orders:write' });
    for (const scope of ['admin', 'profile:read', 'orders:read profile:write']) {
      const res = await auth.form('/oauth/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, scope });
      expect(res.statusCode, scope).toBe(400);
      expect(res.json(), scope).toMatchObject({ error: 'invalid_scope' });
    }
    // The refusals changed nothing: the same refresh token narrows to orders:read.
    const narrowed = await auth.form('/oauth/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, scope: 'orders:read' });
    expect(narrowed.statusCode, narrowed.body).toBe(200);
    expect(narrowed.json()).toMatchObject({ scope: 'orders:read' });
    // The session keeps what it was granted at login: the next refresh may ask for write again.
    const again = await auth.form('/oauth/token', { grant_type: 'refresh_token', refresh_token: (narrowed.json() as { refresh_token: string }).refresh_token });
    expect(again.json()).toMatchObject({ scope: 'orders:read orders:write' });
  });
});

describe('RFC 6749 §6: the refresh token is bound to its client', () => {
  it('another client presenting it gets invalid_grant, and the session is untouched', async () => {
    const tokens = await auth.login({ client_id: 'orders-cli' });
    const stolen = await auth.form('/oauth/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: 'revocable-app' });
    expect(stolen.statusCode).toBe(400);
    expect(stolen.json()).toMatchObject({ error: 'invalid_grant' });
    const noClient = await auth.form('/oauth/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    expect(noClient.statusCode, 'absent client_id is the default client').toBe(400);
    const own = await auth.form('/oauth/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: 'orders-cli' });
    expect(own.statusCode, own.body).toBe(200);
    expect(auth.claims((own.json() as { access_token: string }).access_token)).toMatchObject({ client_id: 'orders-cli' });
  });

  it('a confidential client authenticating with Basic is recognised (and has no sessions of its own)', async () => {
    const tokens = await auth.login();
    const res = await auth.form('/oauth/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, { authorization: auth.basic('orders', TEST_CLIENTS.orders) });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'invalid_grant' });
  });
});
