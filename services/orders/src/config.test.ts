import { describe, expect, it } from 'vitest';
import { ConfigError } from '@revocable/kit';
import { loadConfig } from './config.ts';

describe('orders config', () => {
  it('defaults to port 3001, audience orders, JWKS and introspection under AUTH_URL', () => {
    const config = loadConfig({ AUTH_URL: 'http://auth:3000/', INTROSPECTION_CLIENT_ID: 'orders', INTROSPECTION_CLIENT_SECRET: 's3cret-123-0123456789abcdef012345' });
    expect(config.port).toBe(3001);
    expect(config.verifier.audience).toBe('orders');
    expect(config.verifier.issuer).toBe('http://auth:3000');
    expect(config.verifier.jwksUrl).toBe('http://auth:3000/.well-known/jwks.json');
    expect(config.verifier.introspection).toEqual({ url: 'http://auth:3000/oauth/introspect', clientId: 'orders', clientSecret: 's3cret-123-0123456789abcdef012345' });
    expect(config.verifier.kafkaBrokers).toEqual(['127.0.0.1:9092']);
    expect(config.verifier.revocationTopic).toBe('revocable.revocations');
    expect(config.verifier.denylistMaxEntries).toEqual({ session: 2_000_000, user: 1_000_000, token: 1_000_000, key: 100 });
  });

  it('takes the denylist caps from DENYLIST_MAX_*', () => {
    const config = loadConfig({ DENYLIST_MAX_SESSIONS: '500', DENYLIST_MAX_USERS: '400', DENYLIST_MAX_TOKENS: '300', DENYLIST_MAX_KEYS: '3' });
    expect(config.verifier.denylistMaxEntries).toEqual({ session: 500, user: 400, token: 300, key: 3 });
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT'],
    [{ KAFKA_BROKERS: 'localhost' }, 'KAFKA_BROKERS'],
    [{ AUTH_URL: 'ftp://x' }, 'AUTH_URL'],
    [{ INTROSPECTION_CLIENT_ID: 'orders' }, 'INTROSPECTION_CLIENT_SECRET'],
    [{ INTROSPECTION_CLIENT_ID: 'orders', INTROSPECTION_CLIENT_SECRET: 'only-twenty-two-bytes' }, 'INTROSPECTION_CLIENT_SECRET'],
    [{ FRESHNESS_MAX_SECONDS: '0' }, 'FRESHNESS_MAX_SECONDS'],
    [{ DENYLIST_MAX_KEYS: '0' }, 'DENYLIST_MAX_KEYS'],
    [{ DENYLIST_MAX_SESSIONS: 'lots' }, 'DENYLIST_MAX_SESSIONS'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ AUDIENCE: 'a b' }, 'AUDIENCE'],
  ])('refuses %o with one line naming %s', (env, variable) => {
    let error: unknown;
    try {
      loadConfig(env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(variable);
    expect((error as ConfigError).message.startsWith(`${variable}: `)).toBe(true);
    expect((error as ConfigError).message).not.toContain('\n');
  });
});
