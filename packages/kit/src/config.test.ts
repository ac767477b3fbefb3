import { describe, expect, it } from 'vitest';
import { MAX_ACCESS_TTL_SECONDS } from '@revocable/fastify';
import { ConfigError, loadVerifierConfig, verifierOptionsFromConfig } from './config.ts';

const load = (env: Record<string, string>) => loadVerifierConfig({ KAFKA_BROKERS: '127.0.0.1:9092', ...env }, { audience: 'orders' });

describe('TOKEN_MAX_LIFETIME_SECONDS', () => {
  it('defaults to the issuer maximum (MAX_ACCESS_TTL_SECONDS, 3600) and reaches the verifier options', () => {
    const config = load({});
    expect(MAX_ACCESS_TTL_SECONDS).toBe(3600);
    expect(config.tokenMaxLifetimeSeconds).toBe(MAX_ACCESS_TTL_SECONDS);
    expect(verifierOptionsFromConfig(config).maxTokenLifetimeSeconds).toBe(3600);
    expect(verifierOptionsFromConfig(load({ TOKEN_MAX_LIFETIME_SECONDS: '900' })).maxTokenLifetimeSeconds).toBe(900);
  });

  it.each(['0', '59', '86401', '1h', '-5', '1.5'])('refuses %j with one line naming the variable', (value) => {
    let error: unknown;
    try {
      load({ TOKEN_MAX_LIFETIME_SECONDS: value });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(/^TOKEN_MAX_LIFETIME_SECONDS\b/);
    expect(message).not.toContain('\n');
  });
});

describe('JWKS_MAX_AGE_SECONDS', () => {
  it('defaults to 600 s, the auth service default of VERIFIER_JWKS_MAX_AGE_SECONDS, and reaches the verifier options in ms', () => {
    expect(load({}).jwksMaxAgeSeconds).toBe(600);
    expect(verifierOptionsFromConfig(load({})).jwksCacheMaxAgeMs).toBe(600_000);
    expect(verifierOptionsFromConfig(load({ JWKS_MAX_AGE_SECONDS: '120' })).jwksCacheMaxAgeMs).toBe(120_000);
  });

  it.each(['0', '86401', '10m', '-1'])('refuses %j with one line naming the variable', (value) => {
    expect(() => load({ JWKS_MAX_AGE_SECONDS: value })).toThrow(/^JWKS_MAX_AGE_SECONDS\b[^\n]*$/);
  });
});
