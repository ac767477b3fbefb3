/**
 * An unmodified OAuth library against the real auth service (a child process on loopback):
 * oauth4webapi 3.8.8 discovers the server (RFC 8414), refreshes (RFC 6749 §6, public client,
 * `none` authentication as the metadata advertises), introspects as a confidential client
 * (RFC 7662, `client_secret_basic`), validates access tokens as a resource server (RFC 9068
 * `validateJwtAccessToken`), and revokes (RFC 7009). No check of the library is relaxed;
 * the one option is `allowInsecureRequests`, because the service listens on http://127.0.0.1.
 */
import { randomUUID } from 'node:crypto';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from './support/cluster.ts';
import { databaseUrl, kafkaBrokers } from './support/env.ts';

const insecure = { [oauth.allowInsecureRequests]: true } as const;

describe('oauth4webapi against the real auth service', () => {
  let cluster: Cluster;
  let as: oauth.AuthorizationServer;
  const app: oauth.Client = { client_id: 'revocable-app' };

  async function login(audience: string[], scope?: string): Promise<{ access_token: string; refresh_token: string; scope?: string }> {
    const credentials = { email: `oauth4webapi-${randomUUID()}@example.test`, password: 'a long enough passphrase 4 tests' };
    const post = (path: string, body: unknown) => fetch(`${cluster.authUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const registered = await post('/v1/users', credentials);
    expect(registered.status, await registered.clone().text()).toBe(201);
    const res = await post('/v1/login', { ...credentials, client_id: app.client_id, audience, ...(scope !== undefined ? { scope } : {}) });
    expect(res.status, await res.clone().text()).toBe(200);
    return (await res.json()) as { access_token: string; refresh_token: string; scope?: string };
  }

  /** A resource server's view: the request it got, validated by the library. */
  const asResourceServer = (token: string, audience: string) =>
    oauth.validateJwtAccessToken(as, new Request('http://orders.test/v1/orders', { headers: { authorization: `Bearer ${token}` } }), audience, insecure);

  beforeAll(async () => {
    cluster = await startCluster({ kafkaBrokers: kafkaBrokers(), databaseUrl: databaseUrl(), services: ['auth'] });
    const issuer = new URL(cluster.authUrl);
    as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }));
  }, 180_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('discovers everything a client needs without guessing', () => {
    expect(as.issuer).toBe(cluster.authUrl);
    expect(as.token_endpoint).toBe(`${cluster.authUrl}/oauth/token`);
    expect(as.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(['none', 'client_secret_basic']));
    expect(as.revocation_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(['none', 'client_secret_basic']));
    expect(as.introspection_endpoint_auth_methods_supported).toEqual(['client_secret_basic']);
    expect(as.scopes_supported).toEqual(expect.arrayContaining(['orders:read', 'orders:write', 'profile:read', 'profile:write']));
  });

  it('refresh, validateJwtAccessToken, introspection and revocation all pass the library unmodified', async () => {
    const tokens = await login(['orders', 'auth'], 'orders:read');
    expect(tokens.scope).toBe('orders:read');

    // RFC 6749 §6 refresh by a public client (client_id only), narrowed to one resource (RFC 8707).
    const refreshed = await oauth.processRefreshTokenResponse(
      as,
      app,
      await oauth.refreshTokenGrantRequest(as, app, oauth.None(), tokens.refresh_token, { additionalParameters: { resource: 'orders' }, ...insecure }),
    );
    expect(refreshed.token_type).toBe('bearer');
    expect(refreshed.scope).toBe('orders:read');
    expect(refreshed.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(refreshed.expires_in).toBeGreaterThan(0);

    // RFC 9068 as a resource server would check it: typ, iss, aud, exp, iat, sub, jti, client_id.
    const claims = await asResourceServer(refreshed.access_token, 'orders');
    expect(claims).toMatchObject({ iss: cluster.authUrl, aud: 'orders', client_id: 'revocable-app', scope: 'orders:read' });
    await expect(asResourceServer(refreshed.access_token, 'profile')).rejects.toThrow(/aud/);

    // RFC 7662 by the orders service (confidential client, client_secret_basic).
    const orders: oauth.Client = { client_id: cluster.introspectionClients.orders.clientId };
    const basic = oauth.ClientSecretBasic(cluster.introspectionClients.orders.secret);
    const active = await oauth.processIntrospectionResponse(as, orders, await oauth.introspectionRequest(as, orders, basic, refreshed.access_token, insecure));
    expect(active).toMatchObject({ active: true, token_type: 'Bearer', client_id: 'revocable-app', scope: 'orders:read', sub: claims.sub, nbf: claims.iat });
    expect(typeof active.username).toBe('string');

    // Wrong client credentials are a proper RFC 6749 §5.2 error the library understands.
    const wrong = await oauth.introspectionRequest(as, orders, oauth.ClientSecretBasic('not the secret'), refreshed.access_token, insecure);
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic /);
    const challenge = await oauth.processIntrospectionResponse(as, orders, wrong).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(challenge).toBeInstanceOf(oauth.WWWAuthenticateChallengeError);
    expect((challenge as oauth.WWWAuthenticateChallengeError).status).toBe(401);
    expect((challenge as oauth.WWWAuthenticateChallengeError).cause[0]?.scheme).toBe('basic');
    expect(await wrong.json()).toMatchObject({ error: 'invalid_client' });

    // RFC 7009 by the public client that holds the token; then it is inactive everywhere.
    await oauth.processRevocationResponse(await oauth.revocationRequest(as, app, oauth.None(), refreshed.access_token, { additionalParameters: { token_type_hint: 'access_token' }, ...insecure }));
    const revoked = await oauth.processIntrospectionResponse(as, orders, await oauth.introspectionRequest(as, orders, basic, refreshed.access_token, insecure));
    expect(revoked).toEqual({ active: false });

    // Revoking the refresh token ends the session: a refresh is invalid_grant.
    await oauth.processRevocationResponse(await oauth.revocationRequest(as, app, oauth.None(), refreshed.refresh_token!, { additionalParameters: { token_type_hint: 'refresh_token' }, ...insecure }));
    const after = oauth.refreshTokenGrantRequest(as, app, oauth.None(), refreshed.refresh_token!, insecure).then((response) => oauth.processRefreshTokenResponse(as, app, response));
    await expect(after).rejects.toMatchObject({ error: 'invalid_grant', status: 400 });
  });

  it('an ungranted scope on refresh is an RFC 6749 invalid_scope error for the library', async () => {
    const tokens = await login(['orders', 'auth'], 'orders:read');
    const response = await oauth.refreshTokenGrantRequest(as, app, oauth.None(), tokens.refresh_token, { additionalParameters: { scope: 'orders:write' }, ...insecure });
    await expect(oauth.processRefreshTokenResponse(as, app, response)).rejects.toMatchObject({ error: 'invalid_scope', status: 400 });
  });
});
