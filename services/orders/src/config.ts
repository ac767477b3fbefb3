import { intFromEnv, loadServerConfig, loadVerifierConfig, type ServerConfig, type VerifierConfig } from '@revocable/kit';

/** Orders service configuration, parsed once from the environment by {@link loadConfig}. */
export interface OrdersConfig extends ServerConfig {
  /** Verifier settings: KAFKA_BROKERS, REVOCATION_TOPIC, AUTH_URL, AUTH_ISSUER, AUDIENCE (default orders), ... */
  verifier: VerifierConfig;
  /** MAX_ORDERS_PER_USER, default 1000: the in-memory store refuses more. */
  maxOrdersPerUser: number;
}

/** Parses the configuration; throws `ConfigError` (one line: variable and fix) on a bad value. */
export function loadConfig(env: Record<string, string | undefined> = process.env): OrdersConfig {
  return {
    ...loadServerConfig(env, { port: 3001 }),
    verifier: loadVerifierConfig(env, { audience: 'orders' }),
    maxOrdersPerUser: intFromEnv(env, 'MAX_ORDERS_PER_USER', 1000, 1, 1_000_000),
  };
}
