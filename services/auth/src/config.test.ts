import { describe, expect, it } from 'vitest';
import { configErrorOf } from '@revocable/config';
import { loadConfig, type ConfigError } from './config.ts';

const KEK = Buffer.alloc(32, 7).toString('base64');
const minimal = { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/auth', KEY_ENCRYPTION_KEY: KEK };

const errorOf = (env: Record<string, string>): ConfigError => configErrorOf(() => loadConfig(env));

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig(minimal);
    expect(c).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      logLevel: 'info',
      kafkaBrokers: ['127.0.0.1:9092'],
      revocationTopic: 'revocable.revocations',
      revocationTopicPartitions: 3,
      issuer: 'http://127.0.0.1:3000',
      audiences: ['orders', 'profile'],
      signingAlg: 'EdDSA',
      accessTtlSeconds: 900,
      verifierJwksMaxAgeSeconds: 600,
      cookieSecure: true,
      passwordScryptCost: 17,
      heartbeatIntervalMs: 1000,
      migrateOnStart: true,
      relayEnabled: true,
      adminToken: undefined,
      introspectionClients: [],
    });
    expect(c.keyEncryptionKey).toHaveLength(32);
    expect(c.propagation.preferWaitMaxSeconds).toBe(30);
    expect(loadConfig({ ...minimal, PREFER_WAIT_MAX_SECONDS: '5' }).propagation.preferWaitMaxSeconds).toBe(5);
  });

  it('parses lists and credentials', () => {
    const c = loadConfig({ ...minimal, AUDIENCES: ' a , b ', INTROSPECTION_CLIENTS: 'orders:secret-one-0123456789abcdef0123456,profile:secret:two-0123456789abcdef0123456', KAFKA_BROKERS: 'k1:9092,k2:9093', AUTH_ISSUER: 'https://auth.example/' });
    expect(c.audiences).toEqual(['a', 'b']);
    expect(c.introspectionClients).toEqual([
      { clientId: 'orders', secret: 'secret-one-0123456789abcdef0123456' },
      { clientId: 'profile', secret: 'secret:two-0123456789abcdef0123456' },
    ]);
    expect(c.kafkaBrokers).toEqual(['k1:9092', 'k2:9093']);
    expect(c.issuer).toBe('https://auth.example');
  });

  it('requires DATABASE_URL', () => {
    const e = errorOf({ KEY_ENCRYPTION_KEY: KEK });
    expect(e.variable).toBe('DATABASE_URL');
    expect(e.code).toBe('ERR_CONFIG');
  });

  it('requires a 32-byte KEY_ENCRYPTION_KEY and says how to make one', () => {
    for (const value of [undefined, 'c2hvcnQ=', Buffer.alloc(31).toString('base64'), 'not base64 at all!!']) {
      const env: Record<string, string> = { DATABASE_URL: minimal.DATABASE_URL };
      if (value !== undefined) env['KEY_ENCRYPTION_KEY'] = value;
      const e = errorOf(env);
      expect(e.variable).toBe('KEY_ENCRYPTION_KEY');
      expect(e.message).toContain('openssl rand -base64 32');
      expect(e.message).not.toContain('\n');
    }
  });

  it.each([
    ['PORT', 'abc'],
    ['ACCESS_TTL_SECONDS', '0'],
    ['ACCESS_TTL_SECONDS', '3601'],
    ['VERIFIER_JWKS_MAX_AGE_SECONDS', '-1'],
    ['VERIFIER_JWKS_MAX_AGE_SECONDS', '10m'],
    ['VERIFIER_JWKS_MAX_AGE_SECONDS', '86401'],
    ['PASSWORD_SCRYPT_COST', '25'],
    ['COOKIE_SECURE', 'maybe'],
    ['SIGNING_ALG', 'HS256'],
    ['AUDIENCES', 'has space'],
    ['AUTH_ISSUER', 'ftp://x'],
    ['ADMIN_TOKEN', 'short'],
    ['INTROSPECTION_CLIENTS', 'nosecret'],
    ['INTROSPECTION_CLIENTS', `orders:${'x'.repeat(31)}`],
    ['KAFKA_BROKERS', 'no-port'],
    ['SESSION_ABSOLUTE_TTL_SECONDS', '100'],
    ['CORS_ORIGINS', '*'],
    ['CORS_ORIGINS', 'https://app.example.com/'],
    ['COOKIE_SAMESITE', 'sometimes'],
    ['ACCOUNT_AUDIENCE', 'orders'],
    ['ACCOUNT_AUDIENCE', 'has space'],
    ['SCOPES', 'billing:read'],
    ['SCOPES', 'orders:"read"'],
    ['RESOURCE_URIS', 'orders=not-a-uri'],
    ['RESOURCE_URIS', 'billing=https://billing.example.com'],
    ['RESOURCE_URIS', 'orders=https://orders.example.com/#x'],
    ['CLIENTS', 'not json'],
    ['CLIENTS', '[]'],
    ['CLIENTS', '[{"client_id":"web","client_secret":"s3cret"}]'],
    ['CLIENTS', '[{"client_id":"web","scopes":["profile:read"],"audiences":["orders"]}]'],
    ['CLIENTS', '[{"client_id":"web"},{"client_id":"web"}]'],
    ['CLIENTS', '[{"client_id":"web","audiences":["billing"]}]'],
    ['PREFER_WAIT_MAX_SECONDS', '0'],
    ['PREFER_WAIT_MAX_SECONDS', '301'],
    ['PREFER_WAIT_MAX_SECONDS', 'ten'],
  ])('refuses %s=%s with one line naming it', (name, value) => {
    const e = errorOf({ ...minimal, [name]: value });
    expect(e.variable).toBe(name);
    expect(e.message.startsWith(`${name}: `)).toBe(true);
    expect(e.message).not.toContain('\n');
  });

  it('refuses a client secret shorter than 32 bytes, counted in UTF-8 bytes, without printing it', () => {
    expect(loadConfig({ ...minimal, INTROSPECTION_CLIENTS: `orders:${'x'.repeat(32)}` }).introspectionClients).toHaveLength(1);
    expect(loadConfig({ ...minimal, INTROSPECTION_CLIENTS: `orders:${'é'.repeat(16)}` }).introspectionClients).toHaveLength(1);
    const error = errorOf({ ...minimal, INTROSPECTION_CLIENTS: `orders:${'s'.repeat(31)}` });
    expect(error.variable).toBe('INTROSPECTION_CLIENTS');
    expect(error.message).toContain('client orders is shorter than 32 bytes');
    expect(error.message).not.toContain('s'.repeat(31));
  });

  it('builds the client registry: public CLIENTS (default revocable-app) and the confidential INTROSPECTION_CLIENTS', () => {
    const defaults = loadConfig({ ...minimal, INTROSPECTION_CLIENTS: 'orders:orders-secret-0123456789abcdef0123' });
    expect(defaults).toMatchObject({ accountAudience: 'auth', scopes: ['orders:read', 'orders:write', 'profile:read', 'profile:write'] });
    expect(defaults.clients).toEqual([
      {
        clientId: 'revocable-app',
        type: 'public',
        audiences: ['orders', 'profile', 'auth'],
        scopes: ['orders:read', 'orders:write', 'profile:read', 'profile:write'],
        defaultScopes: ['orders:read', 'orders:write', 'profile:read', 'profile:write'],
        defaultAudiences: ['orders', 'auth'],
      },
      { clientId: 'orders', type: 'confidential', secret: 'orders-secret-0123456789abcdef0123', audiences: ['orders'], scopes: [], defaultScopes: [], defaultAudiences: [] },
    ]);
    expect([...defaults.resourceUris]).toEqual([['http://127.0.0.1:3000', 'auth']]);
    const custom = loadConfig({
      ...minimal,
      CLIENTS: '[{"client_id":"cli","audiences":["orders"],"scopes":["orders:read"]}]',
      RESOURCE_URIS: 'orders=https://orders.example.com/',
    }).clients;
    expect(custom[0]).toMatchObject({ clientId: 'cli', audiences: ['orders'], scopes: ['orders:read'], defaultScopes: ['orders:read'], defaultAudiences: ['orders'] });
    expect(errorOf({ ...minimal, CLIENTS: '[{"client_id":"cli"}]', INTROSPECTION_CLIENTS: 'cli:a-secret-here-0123456789abcdef0123' }).variable).toBe('INTROSPECTION_CLIENTS');
  });

  it('reads CORS_ORIGINS and the cross-site cookie mode', () => {
    expect(loadConfig(minimal)).toMatchObject({ corsOrigins: [], cookieSameSite: 'strict' });
    const c = loadConfig({ ...minimal, CORS_ORIGINS: 'https://app.example.com, http://localhost:5173', COOKIE_SAMESITE: 'None' });
    expect(c.corsOrigins).toEqual(['https://app.example.com', 'http://localhost:5173']);
    expect(c.cookieSameSite).toBe('none');
  });

  it('refuses SameSite=None without Secure or without CORS_ORIGINS, naming the fix', () => {
    const insecure = errorOf({ ...minimal, CORS_ORIGINS: 'https://app.example.com', COOKIE_SAMESITE: 'none', COOKIE_SECURE: 'false' });
    expect(insecure.variable).toBe('COOKIE_SAMESITE');
    expect(insecure.message).toContain('COOKIE_SECURE=true');
    const alone = errorOf({ ...minimal, COOKIE_SAMESITE: 'none' });
    expect(alone.message).toContain('CORS_ORIGINS');
    expect(errorOf({ ...minimal, CORS_ORIGINS: '*' }).message).toContain('wildcard');
  });
});
