/**
 * RFC 8707 (resource indicators) conformance: `resource` is an audience name or the absolute
 * URI mapped to it (RESOURCE_URIS; the issuer's own URI is the account audience), at login and
 * at refresh; unknown values are invalid_target; a session refreshes only into audiences
 * granted at login (§2.2).
 */
import { describe, expect, it } from 'vitest';
import { AUTH_TEST_ISSUER, useAuthApp } from '../support/auth-app.ts';

const auth = useAuthApp({ RESOURCE_URIS: 'orders=https://orders.example.com,profile=https://api.example.com/profile' });

describe('RFC 8707: resource indicators', () => {
  it('login accepts absolute resource URIs as well as names', async () => {
    const byUri = await auth.login({ resource: ['https://orders.example.com', 'https://api.example.com/profile/', AUTH_TEST_ISSUER] });
    expect(auth.claims(byUri.access_token)['aud']).toEqual(['orders', 'profile', 'auth']);
    const byName = await auth.login({ resource: 'orders' });
    expect(auth.claims(byName.access_token)['aud']).toBe('orders');
  });

  it('refresh accepts them too, and may narrow to a subset of what login granted', async () => {
    const tokens = await auth.login({ resource: ['orders', 'profile'] });
    const narrowed = await auth.form('/oauth/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, resource: 'https://api.example.com/profile' });
    expect(narrowed.statusCode, narrowed.body).toBe(200);
    const body = narrowed.json() as { access_token: string; refresh_token: string; scope: string };
    expect(auth.claims(body.access_token)['aud']).toBe('profile');
    expect(body.scope).toBe('profile:read profile:write');
    // Without resource: every audience granted at login again.
    const all = await auth.form('/oauth/token', { grant_type: 'refresh_token', refresh_token: body.refresh_token });
    expect(auth.claims((all.json() as { access_token: string }).access_token)['aud']).toEqual(['orders', 'profile']);
  });

  it('a refresh into an audience not granted at login is invalid_target, and changes nothing', async () => {
    const tokens = await auth.login({ resource: 'profile' });
    for (const resource of ['orders', 'https://orders.example.com', ['profile', 'auth']]) {
      const res = await auth.form('/oauth/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, resource });
      expect(res.statusCode, String(resource)).toBe(400);
      expect(res.json()).toMatchObject({ error: 'invalid_target' });
    }
    expect((await auth.form('/oauth/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token })).statusCode).toBe(200);
  });

  it('unknown resources are invalid_target at login and refresh', async () => {
    const user = await auth.register();
    for (const resource of ['billing', 'https://evil.example.com', 'https://orders.example.com#frag', 'orders.example.com']) {
      const res = await auth.app.inject({ method: 'POST', url: '/v1/login', payload: { email: user.email, password: user.password, resource } });
      expect(res.statusCode, resource).toBe(400);
      expect(res.json()).toMatchObject({ error: 'invalid_target' });
    }
    const tokens = await auth.login();
    const res = await auth.form('/oauth/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, resource: 'https://evil.example.com' });
    expect(res.json()).toMatchObject({ error: 'invalid_target' });
  });

  it('resource and its older spelling audience together are invalid_request', async () => {
    const user = await auth.register();
    const res = await auth.app.inject({ method: 'POST', url: '/v1/login', payload: { email: user.email, password: user.password, resource: 'orders', audience: 'profile' } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'invalid_request' });
  });
});
