import { loadServerConfig, loadVerifierConfig, type ServerConfig, type VerifierConfig } from '@revocable/kit';

/** Profile service configuration, parsed once from the environment by {@link loadConfig}. */
export interface ProfileConfig extends ServerConfig {
  /** Verifier settings: KAFKA_BROKERS, REVOCATION_TOPIC, AUTH_URL, AUTH_ISSUER, AUDIENCE (default profile), ... */
  verifier: VerifierConfig;
}

/** Parses the configuration; throws `ConfigError` (one line: variable and fix) on a bad value. */
export function loadConfig(env: Record<string, string | undefined> = process.env): ProfileConfig {
  return { ...loadServerConfig(env, { port: 3002 }), verifier: loadVerifierConfig(env, { audience: 'profile' }) };
}
