import {
  ConfigError,
  configErrorOf,
  corsOriginsFromEnv,
  httpUrlFromEnv as httpUrl,
  intFromEnv,
  kafkaBrokersFromEnv,
  kafkaClientFromEnv,
  logLevelFromEnv,
  boolFromEnv,
  receiptsTopicFromEnv,
  stringFromEnv as str,
  topicFromEnv,
  type Env,
} from '@revocable/config';
import { createTransport, defaultInstanceId, type EventTransport } from '@revocable/events';
import { DEFAULT_DENYLIST_CAPS, MAX_ACCESS_TTL_SECONDS, type DenylistCaps, type IntrospectionOptions, type RevocableOptions } from '@revocable/fastify';
import type { Logger } from '@revocable/protocol';
import { kafkaSecurityFromEnv, type KafkaSecurity } from './kafka-security.ts';

export { ConfigError, configErrorOf, intFromEnv, type Env };

/** Environment-derived settings every resource service needs to run the verifier. */
export interface VerifierConfig {
  /** KAFKA_BROKERS, comma-separated host:port, default 127.0.0.1:9092. */
  kafkaBrokers: string[];
  /** KAFKA_CLIENT, default platformatic (@platformatic/kafka); or kafkajs. */
  kafkaClient: 'platformatic' | 'kafkajs';
  /** KAFKA_CLIENT_ID, default revocable-<audience>. */
  kafkaClientId: string;
  /** KAFKA_SASL_MECHANISM, KAFKA_USERNAME, KAFKA_PASSWORD(_FILE), KAFKA_SSL*: see {@link kafkaSecurityFromEnv}. */
  kafkaSecurity: KafkaSecurity;
  /** REVOCATION_TOPIC, default revocable.revocations. */
  revocationTopic: string;
  /** AUTH_URL, default http://127.0.0.1:3000 (no trailing slash). */
  authUrl: string;
  /** AUTH_ISSUER, default AUTH_URL. */
  issuer: string;
  /** AUDIENCE: this service's audience. */
  audience: string;
  /** JWKS_URL, default AUTH_URL/.well-known/jwks.json. */
  jwksUrl: string;
  /** JWKS_COOLDOWN_MS, default 5000: least time between JWKS refetches caused by unknown kids (also the longest a freshly rotated key can be refused). */
  jwksCooldownMs: number;
  /**
   * JWKS_MAX_AGE_SECONDS, default 600 (1–86400): the longest a fetched JWKS is used without
   * refetching. Keep it at most the auth service's VERIFIER_JWKS_MAX_AGE_SECONDS, which keeps
   * each `key.revoked` entry that much longer than the key's last token: a revoked key this
   * instance still holds in a cached JWKS stays denied until the cache would have refetched.
   */
  jwksMaxAgeSeconds: number;
  /** INTROSPECTION_CLIENT_ID + INTROSPECTION_CLIENT_SECRET (both or neither); URL is AUTH_URL/oauth/introspect. */
  introspection: IntrospectionOptions | undefined;
  /** FRESHNESS_MAX_SECONDS, default 10: routes with a freshness bound use it. */
  freshnessMaxSeconds: number;
  /** CLOCK_TOLERANCE_SECONDS, default 5. */
  clockToleranceSeconds: number;
  /**
   * TOKEN_MAX_LIFETIME_SECONDS, default 3600 (the auth service's largest ACCESS_TTL_SECONDS,
   * `MAX_ACCESS_TTL_SECONDS`): a token whose `exp - iat` is longer is refused.
   */
  tokenMaxLifetimeSeconds: number;
  /** VERIFY_CACHE_MAX, default 10000 entries (0 disables). */
  verifyCacheMax: number;
  /**
   * HEARTBEAT_MAX_SKEW_SECONDS, default 60: a heartbeat whose `at` is further than this from
   * the local clock does not count for freshness (freshness itself runs on the local clock).
   */
  heartbeatMaxSkewSeconds: number;
  /**
   * Most live denylist entries per kind, entries: DENYLIST_MAX_SESSIONS (default 2000000),
   * DENYLIST_MAX_USERS (1000000), DENYLIST_MAX_TOKENS (1000000), DENYLIST_MAX_KEYS (100).
   * A revocation beyond a cap is counted and makes the service answer 503 `denylist_overflow`.
   */
  denylistMaxEntries: DenylistCaps;
  /**
   * Receipts of applied revocations and instance announces (RECEIPTS_ENABLED, default true;
   * RECEIPTS_TOPIC, default `<REVOCATION_TOPIC>.receipts`; INSTANCE_ID, default
   * `<audience>-<host>-<pid>`; RECEIPTS_ANNOUNCE_INTERVAL_MS, default 2000).
   */
  receipts: { enabled: boolean; topic: string; instanceId: string; announceIntervalMs: number };
}

/** The process-level settings of a resource service. */
export interface ServerConfig {
  /** PORT. */
  port: number;
  /** HOST, default 127.0.0.1. */
  host: string;
  /** LOG_LEVEL, default info. */
  logLevel: string;
  /** CORS_ORIGINS, comma-separated exact origins of browser apps calling with a Bearer header; default none. */
  corsOrigins: string[];
}

/** Parses PORT, HOST, LOG_LEVEL and CORS_ORIGINS. */
export function loadServerConfig(env: Env, defaults: { port: number }): ServerConfig {
  const logLevel = logLevelFromEnv(env);
  return { port: intFromEnv(env, 'PORT', defaults.port, 0, 65_535), host: str(env, 'HOST', '127.0.0.1'), logLevel, corsOrigins: corsOriginsFromEnv(env) };
}

/** Parses the verifier settings shared by every resource service. Throws {@link ConfigError}. */
export function loadVerifierConfig(env: Env, defaults: { audience: string }): VerifierConfig {
  const brokers = kafkaBrokersFromEnv(env);

  const audience = str(env, 'AUDIENCE', defaults.audience);
  if (!/^[A-Za-z0-9._~-]{1,64}$/.test(audience)) throw new ConfigError('AUDIENCE', `must be a simple name like ${defaults.audience}`);
  const authUrl = httpUrl(env, 'AUTH_URL', 'http://127.0.0.1:3000');
  const clientId = str(env, 'INTROSPECTION_CLIENT_ID', '');
  const clientSecret = str(env, 'INTROSPECTION_CLIENT_SECRET', '');
  if ((clientId === '') !== (clientSecret === '')) {
    const missing = clientId === '' ? 'INTROSPECTION_CLIENT_ID' : 'INTROSPECTION_CLIENT_SECRET';
    throw new ConfigError(missing, 'set both INTROSPECTION_CLIENT_ID and INTROSPECTION_CLIENT_SECRET, or neither');
  }
  // The auth service refuses shorter secrets at its start; say so here, before the first 401.
  if (clientSecret !== '' && Buffer.byteLength(clientSecret, 'utf8') < 32) {
    throw new ConfigError('INTROSPECTION_CLIENT_SECRET', 'is shorter than 32 bytes, which the auth service refuses; generate one with: openssl rand -base64 32');
  }
  const topic = topicFromEnv(env);
  return {
    kafkaBrokers: brokers,
    kafkaClient: kafkaClientFromEnv(env),
    kafkaClientId: str(env, 'KAFKA_CLIENT_ID', `revocable-${audience}`),
    kafkaSecurity: kafkaSecurityFromEnv(env),
    revocationTopic: topic,
    authUrl,
    issuer: httpUrl(env, 'AUTH_ISSUER', authUrl),
    audience,
    jwksUrl: httpUrl(env, 'JWKS_URL', `${authUrl}/.well-known/jwks.json`),
    jwksCooldownMs: intFromEnv(env, 'JWKS_COOLDOWN_MS', 5_000, 0, 3_600_000),
    jwksMaxAgeSeconds: intFromEnv(env, 'JWKS_MAX_AGE_SECONDS', 600, 1, 86_400),
    introspection: clientId === '' ? undefined : { url: `${authUrl}/oauth/introspect`, clientId, clientSecret },
    freshnessMaxSeconds: intFromEnv(env, 'FRESHNESS_MAX_SECONDS', 10, 1, 86_400),
    clockToleranceSeconds: intFromEnv(env, 'CLOCK_TOLERANCE_SECONDS', 5, 0, 300),
    tokenMaxLifetimeSeconds: intFromEnv(env, 'TOKEN_MAX_LIFETIME_SECONDS', MAX_ACCESS_TTL_SECONDS, 60, 86_400),
    verifyCacheMax: intFromEnv(env, 'VERIFY_CACHE_MAX', 10_000, 0, 10_000_000),
    heartbeatMaxSkewSeconds: intFromEnv(env, 'HEARTBEAT_MAX_SKEW_SECONDS', 60, 1, 3_600),
    denylistMaxEntries: {
      session: intFromEnv(env, 'DENYLIST_MAX_SESSIONS', DEFAULT_DENYLIST_CAPS.session, 1, 100_000_000),
      user: intFromEnv(env, 'DENYLIST_MAX_USERS', DEFAULT_DENYLIST_CAPS.user, 1, 100_000_000),
      token: intFromEnv(env, 'DENYLIST_MAX_TOKENS', DEFAULT_DENYLIST_CAPS.token, 1, 100_000_000),
      key: intFromEnv(env, 'DENYLIST_MAX_KEYS', DEFAULT_DENYLIST_CAPS.key, 1, 100_000),
    },
    receipts: {
      enabled: boolFromEnv(env, 'RECEIPTS_ENABLED', true),
      topic: receiptsTopicFromEnv(env, topic),
      instanceId: instanceIdFromEnv(env, audience),
      announceIntervalMs: intFromEnv(env, 'RECEIPTS_ANNOUNCE_INTERVAL_MS', 2000, 100, 60_000),
    },
  };
}

function instanceIdFromEnv(env: Env, audience: string): string {
  const id = str(env, 'INSTANCE_ID', '');
  if (id === '') return defaultInstanceId(audience);
  if (!/^[\w.:@/+=-]{1,128}$/.test(id)) throw new ConfigError('INSTANCE_ID', 'must be 1-128 characters of [A-Za-z0-9_.:@/+=-], e.g. orders-1');
  return id;
}

/**
 * The revocation-topic transport of a service, built through the events package's factory
 * from the parsed settings (never from the environment directly): SASL and TLS from
 * `kafkaSecurity` when given. `logger` receives the client's own warnings and errors
 * (default: dropped).
 * @example
 * const transport = transportFromConfig({ kafkaClient: 'platformatic', kafkaBrokers: ['127.0.0.1:9092'], kafkaClientId: 'orders' });
 */
export function transportFromConfig(
  config: Pick<VerifierConfig, 'kafkaClient' | 'kafkaBrokers' | 'kafkaClientId'> & { kafkaSecurity?: KafkaSecurity },
  options: { logger?: Logger } = {},
): EventTransport {
  const { sasl, ssl } = config.kafkaSecurity ?? { sasl: undefined, ssl: undefined };
  return createTransport({
    client: config.kafkaClient,
    brokers: config.kafkaBrokers,
    clientId: config.kafkaClientId,
    ...(sasl !== undefined ? { sasl } : {}),
    ...(ssl !== undefined ? { ssl } : {}),
    ...(options.logger !== undefined ? { logger: options.logger } : {}),
  });
}

/**
 * Plugin options for a resource service from its {@link VerifierConfig}: a KAFKA_CLIENT transport
 * on KAFKA_BROKERS, the JWKS of AUTH_URL, the default freshness bound (fail-closed) and the
 * introspection client when configured. `overrides` win (tests inject `now` or a transport).
 */
export function verifierOptionsFromConfig(config: VerifierConfig, overrides: Partial<RevocableOptions> = {}): RevocableOptions {
  return {
    issuer: config.issuer,
    audience: config.audience,
    jwksUrl: config.jwksUrl,
    jwksCooldownMs: config.jwksCooldownMs,
    jwksCacheMaxAgeMs: config.jwksMaxAgeSeconds * 1000,
    transport: overrides.transport ?? transportFromConfig(config),
    topic: config.revocationTopic,
    clockToleranceSeconds: config.clockToleranceSeconds,
    maxTokenLifetimeSeconds: config.tokenMaxLifetimeSeconds,
    cacheMax: config.verifyCacheMax,
    heartbeatMaxSkewSeconds: config.heartbeatMaxSkewSeconds,
    denylistMaxEntries: config.denylistMaxEntries,
    freshness: { maxSeconds: config.freshnessMaxSeconds, policy: 'fail-closed' },
    ...(config.introspection !== undefined ? { introspection: config.introspection } : {}),
    defaultMetrics: true,
    ...(config.receipts.enabled
      ? {
          receipts: {
            topic: config.receipts.topic,
            instance: config.receipts.instanceId,
            service: overrides.buildInfo?.service ?? config.audience,
            announceIntervalMs: config.receipts.announceIntervalMs,
          },
        }
      : {}),
    ...overrides,
  };
}
