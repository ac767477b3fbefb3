import {
  ConfigError,
  boolFromEnv as bool,
  corsOriginsFromEnv,
  httpUrlFromEnv,
  intFromEnv as int,
  kafkaBrokersFromEnv,
  kafkaClientFromEnv,
  listFromEnv as list,
  logLevelFromEnv,
  stringFromEnv as str,
  topicFromEnv,
  type Env,
} from '@revocable/config';
import { kafkaSecurityFromEnv, type KafkaSecurity } from '@revocable/kit';
import { MAX_ACCESS_TTL_SECONDS, type SigningAlgorithm } from '@revocable/tokens';
import { loadHardeningConfig, trustProxyFromEnv, type HardeningConfig, type TrustProxy } from './config-hardening.ts';
import { canonicalUri, scopeAudience, type OAuthClient } from './clients.ts';
import { loadPropagationConfig, type PropagationConfig } from './config-propagation.ts';


/** Shortest client secret accepted in INTROSPECTION_CLIENTS, in bytes (UTF-8). */
export const MIN_CLIENT_SECRET_BYTES = 32;
export { ConfigError };
export type { HardeningConfig, PropagationConfig, TrustProxy };

/** A resource service allowed to call RFC 7662 introspection (HTTP Basic). */
export interface IntrospectionClient {
  clientId: string;
  secret: string;
}

/**
 * Auth service configuration, parsed once from the environment by {@link loadConfig}.
 * Every duration carries its unit in the name.
 */
export interface AuthConfig {
  /** PORT, default 3000. */
  port: number;
  /** HOST, default 127.0.0.1. */
  host: string;
  /** LOG_LEVEL, default info. */
  logLevel: string;
  /** DATABASE_URL, required. */
  databaseUrl: string;
  /** DATABASE_POOL_MAX, default 10. */
  databasePoolMax: number;
  /** DATABASE_CONNECT_TIMEOUT_MS, default 3000: past it a request answers 503. */
  databaseConnectTimeoutMs: number;
  /** DATABASE_STATEMENT_TIMEOUT_MS, default 10000. */
  databaseStatementTimeoutMs: number;
  /** STARTUP_TIMEOUT_SECONDS, default 60: how long server.ts waits for PostgreSQL at start. */
  startupTimeoutSeconds: number;
  /** MIGRATE_ON_START, default true: apply pending migrations before listening. */
  migrateOnStart: boolean;
  /** KAFKA_BROKERS, comma-separated, default 127.0.0.1:9092. */
  kafkaBrokers: string[];
  /** KAFKA_CLIENT, default platformatic (@platformatic/kafka); or kafkajs. */
  kafkaClient: 'platformatic' | 'kafkajs';
  /** KAFKA_CLIENT_ID, default revocable-auth. */
  kafkaClientId: string;
  /** KAFKA_SASL_MECHANISM, KAFKA_USERNAME, KAFKA_PASSWORD(_FILE), KAFKA_SSL* (see kafkaSecurityFromEnv in @revocable/kit). */
  kafkaSecurity: KafkaSecurity;
  /** REVOCATION_TOPIC, default revocable.revocations. */
  revocationTopic: string;
  /** REVOCATION_TOPIC_PARTITIONS, default 3. */
  revocationTopicPartitions: number;
  /** REVOCATION_TOPIC_REPLICATION_FACTOR, default 1. */
  revocationTopicReplicationFactor: number;
  /** RELAY_ENABLED, default true: run the outbox relay in this process. */
  relayEnabled: boolean;
  /** OUTBOX_POLL_INTERVAL_MS, default 1000: polling fallback when LISTEN/NOTIFY is lost. */
  outboxPollIntervalMs: number;
  /** OUTBOX_BATCH_SIZE, default 200 rows per produce call. */
  outboxBatchSize: number;
  /** HEARTBEAT_INTERVAL_MS, default 1000. */
  heartbeatIntervalMs: number;
  /** INSTANCE_ID, default hostname-pid-random: names this relay in heartbeats. */
  instanceId: string;
  /** AUTH_ISSUER, default http://127.0.0.1:3000 (the `iss` claim and metadata base URL). */
  issuer: string;
  /** AUDIENCES, comma-separated allow-list, default orders,profile; the first is the default. */
  audiences: string[];
  /**
   * ACCOUNT_AUDIENCE, default `auth`: the auth service's own audience. The account API
   * (`/v1/sessions`, `/v1/logout-all`, `/v1/password`, …) accepts only tokens carrying it.
   */
  accountAudience: string;
  /**
   * SCOPES, comma-separated; each belongs to the audience before its first `:`. Default
   * `<audience>:read,<audience>:write` for every AUDIENCES entry (orders:read, orders:write,
   * profile:read, profile:write).
   */
  scopes: string[];
  /**
   * RESOURCE_URIS, `name=https://uri,…`: RFC 8707 absolute resource URIs accepted for an
   * audience name. AUTH_ISSUER always maps to ACCOUNT_AUDIENCE. Keys are canonical URIs.
   */
  resourceUris: Map<string, string>;
  /**
   * The client registry: CLIENTS (public clients, JSON) followed by the confidential clients
   * of INTROSPECTION_CLIENTS. Default CLIENTS: one public client `revocable-app`.
   */
  clients: OAuthClient[];
  /** SIGNING_ALG, EdDSA (default; `Ed25519` is its RFC 9864 alias), ES256 or RS256 (2048-bit keys). */
  signingAlg: SigningAlgorithm;
  /**
   * ACCESS_TTL_SECONDS, default 900, at most 3600 (`MAX_ACCESS_TTL_SECONDS`, the verifiers'
   * default TOKEN_MAX_LIFETIME_SECONDS). Every TTL signed with is kept in PostgreSQL
   * (`access_ttl_history`): revocations and the topic's retention cover the longest one whose
   * tokens may still be live, so lowering it never shortens a revocation.
   */
  accessTtlSeconds: number;
  /**
   * VERIFIER_JWKS_MAX_AGE_SECONDS, default 600 (the verifiers' JWKS cache age): how long a
   * resource service may keep using a fetched JWKS. A `key.revoked` event lives this much
   * longer than the key's last token, so a verifier still holding the key refuses it.
   */
  verifierJwksMaxAgeSeconds: number;
  /** KEY_ROTATION_INTERVAL_SECONDS, default 0 (manual only): rotate the signing key when it is this old. */
  keyRotationIntervalSeconds: number;
  /**
   * KEY_CACHE_TTL_SECONDS, default 10: how long verification uses the public keys it read
   * before reading them again. Changes made on this instance apply at once; a kid it does
   * not know reloads at once (at most once a second); other changes by another instance
   * apply within this bound (a revoked key is refused at once anyway by the requests that
   * check liveness). 0 reads them for every verification.
   */
  keyCacheTtlSeconds: number;
  /** CLOCK_SKEW_SECONDS, default 30: added to every revocation's `until` and to key retention. */
  clockSkewSeconds: number;
  /** SESSION_IDLE_TTL_SECONDS, default 1209600 (14 days). */
  sessionIdleTtlSeconds: number;
  /** SESSION_ABSOLUTE_TTL_SECONDS, default 2592000 (30 days). */
  sessionAbsoluteTtlSeconds: number;
  /** MAX_SESSIONS_PER_USER, default 10; the oldest is evicted beyond it. */
  maxSessionsPerUser: number;
  /**
   * REFRESH_REUSE_GRACE_SECONDS, default 2: a duplicate refresh inside it, from the client
   * that rotated the token (same IP and user agent), gets the same successor; 0 disables it.
   */
  refreshReuseGraceSeconds: number;
  /** KEY_ENCRYPTION_KEY, required: 32 bytes base64; encrypts private keys at rest (AES-256-GCM). */
  keyEncryptionKey: Buffer;
  /** ADMIN_TOKEN: bearer token of the admin routes; unset disables them (403). At least 16 chars. */
  adminToken: string | undefined;
  /** INTROSPECTION_CLIENTS, `id:secret,id:secret`; the id is the audience the client may introspect. */
  introspectionClients: IntrospectionClient[];
  /** COOKIE_SECURE, default true: the refresh cookie carries `Secure`. */
  cookieSecure: boolean;
  /**
   * COOKIE_SAMESITE, `strict` (default), `lax` or `none`. `none` is the cross-site cookie mode
   * for a browser app on another site (e.g. app.example.com vs auth.example.net): it needs
   * COOKIE_SECURE=true and the app's origin in CORS_ORIGINS. Same-site apps keep `strict`.
   */
  cookieSameSite: 'strict' | 'lax' | 'none';
  /**
   * CORS_ORIGINS, comma-separated exact origins (`https://app.example.com`) of browser apps
   * allowed to call the auth service with credentials; default none (same-origin only).
   */
  corsOrigins: string[];
  /** REFRESH_COOKIE_NAME, default revocable_rt. */
  refreshCookieName: string;
  /** PASSWORD_SCRYPT_COST, log2 of scrypt N, default 17 (OWASP); tests use a lower value. */
  passwordScryptCost: number;
  /** PASSWORD_MIN_LENGTH, default 8. */
  passwordMinLength: number;
  /** LOGIN_RATE_LIMIT_PER_IP, default 20 login attempts per window per client IP. */
  loginRateLimitPerIp: number;
  /** LOGIN_RATE_LIMIT_WINDOW_SECONDS, default 60. */
  loginRateLimitWindowSeconds: number;
  /** LOGIN_MAX_FAILURES_PER_ACCOUNT, default 10 failed logins per account window. */
  loginMaxFailuresPerAccount: number;
  /** LOGIN_ACCOUNT_WINDOW_SECONDS, default 900. */
  loginAccountWindowSeconds: number;
  /** RATE_LIMIT_PER_IP, default 300 requests per minute per IP on other routes. */
  rateLimitPerIp: number;
  /** INTROSPECTION_RATE_LIMIT_PER_IP, default 60000 per minute: resource services may introspect every request. */
  introspectionRateLimitPerIp: number;
  /** BODY_LIMIT_BYTES, default 16384. */
  bodyLimitBytes: number;
  /**
   * TRUST_PROXY, default false: a hop count or a list of proxy addresses/CIDRs whose
   * X-Forwarded-For is believed (never "trust everyone"); see {@link TrustProxy}.
   */
  trustProxy: TrustProxy;
  /** Issue 12's limits: password hashing queue, registration limiter, client-auth limits, … */
  hardening: HardeningConfig;
  /** Issue 14's receipts: RECEIPTS_ENABLED, RECEIPTS_TOPIC, PREFER_WAIT_MAX_SECONDS. */
  propagation: PropagationConfig;
}

const ID = /^[A-Za-z0-9._~-]{1,64}$/;

/**
 * Parses and checks the configuration. Throws {@link ConfigError} (one line: variable and
 * fix) on the first bad or missing value.
 */
export function loadConfig(env: Env = process.env): AuthConfig {
  const databaseUrl = str(env, 'DATABASE_URL', '');
  if (databaseUrl === '') {
    throw new ConfigError('DATABASE_URL', 'is required, e.g. postgres://postgres@127.0.0.1:5432/revocable_auth');
  }
  if (!/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL', 'must be a postgres:// URL');
  }

  const kekRaw = str(env, 'KEY_ENCRYPTION_KEY', '');
  const howToKek = 'generate one with: openssl rand -base64 32';
  if (kekRaw === '') throw new ConfigError('KEY_ENCRYPTION_KEY', `is required (base64 of 32 random bytes); ${howToKek}`);
  const keyEncryptionKey = Buffer.from(kekRaw, 'base64');
  if (keyEncryptionKey.length !== 32 || !/^[A-Za-z0-9+/]+={0,2}$/.test(kekRaw)) {
    throw new ConfigError('KEY_ENCRYPTION_KEY', `must be base64 of exactly 32 bytes; ${howToKek}`);
  }

  const issuer = httpUrlFromEnv(env, 'AUTH_ISSUER', 'http://127.0.0.1:3000');

  const audiences = list(env, 'AUDIENCES', 'orders,profile');
  if (audiences.length === 0 || audiences.some((a) => !ID.test(a))) {
    throw new ConfigError('AUDIENCES', 'must be a comma-separated list of names like orders,profile');
  }

  const algRaw = str(env, 'SIGNING_ALG', 'EdDSA');
  // RFC 9864 names the Ed25519 algorithm `Ed25519`; the keys and tokens are the same.
  const alg = algRaw === 'Ed25519' ? 'EdDSA' : algRaw;
  if (alg !== 'EdDSA' && alg !== 'ES256' && alg !== 'RS256') throw new ConfigError('SIGNING_ALG', `must be EdDSA (alias Ed25519), ES256 or RS256, got "${algRaw}"`);

  const accountAudience = str(env, 'ACCOUNT_AUDIENCE', 'auth');
  if (!ID.test(accountAudience)) throw new ConfigError('ACCOUNT_AUDIENCE', 'must be a name like auth');
  if (audiences.includes(accountAudience)) throw new ConfigError('ACCOUNT_AUDIENCE', `must differ from every AUDIENCES entry (${accountAudience} is one)`);
  const allAudiences = [...audiences, accountAudience];

  const scopes = list(env, 'SCOPES', audiences.flatMap((a) => [`${a}:read`, `${a}:write`]).join(','));
  for (const scope of scopes) {
    if (!/^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/.test(scope) || !allAudiences.includes(scopeAudience(scope))) {
      throw new ConfigError('SCOPES', `"${scope.slice(0, 64)}" must be <audience>:<name> with an audience of AUDIENCES or ACCOUNT_AUDIENCE, e.g. orders:read`);
    }
  }

  const resourceUris = new Map<string, string>([[canonicalUri(issuer), accountAudience]]);
  for (const entry of list(env, 'RESOURCE_URIS', '')) {
    const eq = entry.indexOf('=');
    const name = eq > 0 ? entry.slice(0, eq) : '';
    const uri = eq > 0 ? entry.slice(eq + 1) : '';
    let ok = allAudiences.includes(name);
    try {
      const url = new URL(uri);
      ok &&= (url.protocol === 'https:' || url.protocol === 'http:') && url.hash === '' && url.search === '';
    } catch {
      ok = false;
    }
    if (!ok) throw new ConfigError('RESOURCE_URIS', 'must be name=absolute-URI pairs for names of AUDIENCES, e.g. orders=https://orders.example.com');
    resourceUris.set(canonicalUri(uri), name);
  }

  const adminRaw = env['ADMIN_TOKEN'];
  const adminToken = adminRaw === undefined || adminRaw.trim() === '' ? undefined : adminRaw.trim();
  if (adminToken !== undefined && adminToken.length < 16) {
    throw new ConfigError('ADMIN_TOKEN', 'must be at least 16 characters; generate one with: openssl rand -base64 32');
  }

  const introspectionClients: IntrospectionClient[] = [];
  for (const entry of list(env, 'INTROSPECTION_CLIENTS', '')) {
    const at = entry.indexOf(':');
    const clientId = at > 0 ? entry.slice(0, at) : '';
    const secret = at > 0 ? entry.slice(at + 1) : '';
    if (!ID.test(clientId) || secret === '') {
      throw new ConfigError('INTROSPECTION_CLIENTS', 'must be id:secret pairs, e.g. orders:<secret>,profile:<secret>');
    }
    // A client secret guards introspection and revocation: at least 256 bits, as RFC 7518 §3.2 asks of an HMAC key.
    if (Buffer.byteLength(secret, 'utf8') < MIN_CLIENT_SECRET_BYTES) {
      throw new ConfigError('INTROSPECTION_CLIENTS', `the secret of client ${clientId} is shorter than ${MIN_CLIENT_SECRET_BYTES} bytes; generate one with: openssl rand -base64 32`);
    }
    introspectionClients.push({ clientId, secret });
  }

  const clients = [...publicClientsFromEnv(env, allAudiences, scopes, audiences[0] as string, accountAudience)];
  for (const c of introspectionClients) {
    if (clients.some((p) => p.clientId === c.clientId)) throw new ConfigError('INTROSPECTION_CLIENTS', `client id ${c.clientId} is also a public client in CLIENTS`);
    clients.push({ clientId: c.clientId, type: 'confidential', secret: c.secret, audiences: [c.clientId], scopes: [], defaultScopes: [], defaultAudiences: [] });
  }

  const brokers = kafkaBrokersFromEnv(env);

  const sessionIdleTtlSeconds = int(env, 'SESSION_IDLE_TTL_SECONDS', 14 * 86_400, 60, 366 * 86_400);
  const sessionAbsoluteTtlSeconds = int(env, 'SESSION_ABSOLUTE_TTL_SECONDS', 30 * 86_400, 60, 3 * 366 * 86_400);
  if (sessionAbsoluteTtlSeconds < sessionIdleTtlSeconds) {
    throw new ConfigError('SESSION_ABSOLUTE_TTL_SECONDS', 'must be >= SESSION_IDLE_TTL_SECONDS');
  }

  const cookieName = str(env, 'REFRESH_COOKIE_NAME', 'revocable_rt');
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(cookieName)) throw new ConfigError('REFRESH_COOKIE_NAME', 'must match [A-Za-z0-9_-]{1,64}');

  const corsOrigins = corsOriginsFromEnv(env);
  const cookieSecure = bool(env, 'COOKIE_SECURE', true);
  const sameSite = str(env, 'COOKIE_SAMESITE', 'strict').toLowerCase();
  if (sameSite !== 'strict' && sameSite !== 'lax' && sameSite !== 'none') {
    throw new ConfigError('COOKIE_SAMESITE', `must be strict, lax or none, got "${sameSite}"`);
  }
  if (sameSite === 'none' && !cookieSecure) {
    throw new ConfigError('COOKIE_SAMESITE', 'none needs COOKIE_SECURE=true (browsers drop SameSite=None cookies without Secure)');
  }
  if (sameSite === 'none' && corsOrigins.length === 0) {
    throw new ConfigError('COOKIE_SAMESITE', 'none is the cross-site mode for a browser app on another site: list its origin in CORS_ORIGINS');
  }

  return {
    hardening: loadHardeningConfig(env),
    propagation: loadPropagationConfig(env, topicFromEnv(env)),
    port: int(env, 'PORT', 3000, 0, 65_535),
    host: str(env, 'HOST', '127.0.0.1'),
    logLevel: logLevelFromEnv(env),
    databaseUrl,
    databasePoolMax: int(env, 'DATABASE_POOL_MAX', 10, 2, 500),
    databaseConnectTimeoutMs: int(env, 'DATABASE_CONNECT_TIMEOUT_MS', 3000, 100, 60_000),
    databaseStatementTimeoutMs: int(env, 'DATABASE_STATEMENT_TIMEOUT_MS', 10_000, 100, 600_000),
    startupTimeoutSeconds: int(env, 'STARTUP_TIMEOUT_SECONDS', 60, 0, 3600),
    migrateOnStart: bool(env, 'MIGRATE_ON_START', true),
    kafkaBrokers: brokers,
    kafkaClient: kafkaClientFromEnv(env),
    kafkaClientId: str(env, 'KAFKA_CLIENT_ID', 'revocable-auth'),
    kafkaSecurity: kafkaSecurityFromEnv(env),
    revocationTopic: topicFromEnv(env),
    revocationTopicPartitions: int(env, 'REVOCATION_TOPIC_PARTITIONS', 3, 1, 1000),
    revocationTopicReplicationFactor: int(env, 'REVOCATION_TOPIC_REPLICATION_FACTOR', 1, 1, 10),
    relayEnabled: bool(env, 'RELAY_ENABLED', true),
    outboxPollIntervalMs: int(env, 'OUTBOX_POLL_INTERVAL_MS', 1000, 10, 600_000),
    outboxBatchSize: int(env, 'OUTBOX_BATCH_SIZE', 200, 1, 10_000),
    heartbeatIntervalMs: int(env, 'HEARTBEAT_INTERVAL_MS', 1000, 50, 600_000),
    instanceId: str(env, 'INSTANCE_ID', `auth-${process.pid}-${Math.random().toString(36).slice(2, 8)}`),
    issuer,
    audiences,
    signingAlg: alg,
    accountAudience,
    scopes,
    resourceUris,
    clients,
    accessTtlSeconds: int(env, 'ACCESS_TTL_SECONDS', 900, 10, MAX_ACCESS_TTL_SECONDS),
    verifierJwksMaxAgeSeconds: int(env, 'VERIFIER_JWKS_MAX_AGE_SECONDS', 600, 0, 86_400),
    clockSkewSeconds: int(env, 'CLOCK_SKEW_SECONDS', 30, 0, 600),
    keyCacheTtlSeconds: int(env, 'KEY_CACHE_TTL_SECONDS', 10, 0, 3600),
    keyRotationIntervalSeconds: int(env, 'KEY_ROTATION_INTERVAL_SECONDS', 0, 0, 10 * 366 * 86_400),
    sessionIdleTtlSeconds,
    sessionAbsoluteTtlSeconds,
    maxSessionsPerUser: int(env, 'MAX_SESSIONS_PER_USER', 10, 1, 1000),
    refreshReuseGraceSeconds: int(env, 'REFRESH_REUSE_GRACE_SECONDS', 2, 0, 60),
    keyEncryptionKey,
    adminToken,
    introspectionClients,
    cookieSecure,
    cookieSameSite: sameSite,
    corsOrigins,
    refreshCookieName: cookieName,
    passwordScryptCost: int(env, 'PASSWORD_SCRYPT_COST', 17, 10, 20),
    passwordMinLength: int(env, 'PASSWORD_MIN_LENGTH', 8, 1, 128),
    loginRateLimitPerIp: int(env, 'LOGIN_RATE_LIMIT_PER_IP', 20, 1, 1_000_000),
    loginRateLimitWindowSeconds: int(env, 'LOGIN_RATE_LIMIT_WINDOW_SECONDS', 60, 1, 86_400),
    loginMaxFailuresPerAccount: int(env, 'LOGIN_MAX_FAILURES_PER_ACCOUNT', 10, 1, 1_000_000),
    loginAccountWindowSeconds: int(env, 'LOGIN_ACCOUNT_WINDOW_SECONDS', 900, 1, 86_400),
    rateLimitPerIp: int(env, 'RATE_LIMIT_PER_IP', 300, 1, 10_000_000),
    introspectionRateLimitPerIp: int(env, 'INTROSPECTION_RATE_LIMIT_PER_IP', 60_000, 1, 100_000_000),
    bodyLimitBytes: int(env, 'BODY_LIMIT_BYTES', 16_384, 1024, 1_048_576),
    trustProxy: trustProxyFromEnv(env),
  };
}

const CLIENTS_HELP = 'must be a JSON array of public clients, e.g. [{"client_id":"web","audiences":["orders","auth"],"scopes":["orders:read"],"default_scopes":["orders:read"],"default_audiences":["orders","auth"]}]';

/**
 * CLIENTS: the public clients (JSON array). Per client: `client_id` (required), `audiences`
 * (default every audience), `scopes` (default every scope of its audiences),
 * `default_scopes` (default its `scopes`), `default_audiences` (default the first AUDIENCES
 * entry and ACCOUNT_AUDIENCE, when allowed). Default: `[{"client_id":"revocable-app"}]`.
 */
function publicClientsFromEnv(env: Env, audiences: readonly string[], scopes: readonly string[], firstAudience: string, accountAudience: string): OAuthClient[] {
  const raw = str(env, 'CLIENTS', '[{"client_id":"revocable-app"}]');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError('CLIENTS', `is not valid JSON; ${CLIENTS_HELP}`);
  }
  if (!Array.isArray(parsed) || parsed.length === 0) throw new ConfigError('CLIENTS', CLIENTS_HELP);
  const names = (value: unknown, field: string, allowed: readonly string[], id: string): string[] | undefined => {
    if (value === undefined) return undefined;
    if (!Array.isArray(value) || !value.every((v): v is string => typeof v === 'string')) throw new ConfigError('CLIENTS', `${id}: ${field} must be an array of strings`);
    const bad = value.find((v) => !allowed.includes(v));
    if (bad !== undefined) throw new ConfigError('CLIENTS', `${id}: ${field} has "${bad.slice(0, 64)}", not one of ${allowed.join(', ')}`);
    return [...new Set(value)];
  };
  const seen = new Set<string>();
  return parsed.map((entry: unknown) => {
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw new ConfigError('CLIENTS', CLIENTS_HELP);
    const e = entry as Record<string, unknown>;
    const known = ['client_id', 'audiences', 'scopes', 'default_scopes', 'default_audiences'];
    const extra = Object.keys(e).find((k) => !known.includes(k));
    if (extra !== undefined) {
      throw new ConfigError('CLIENTS', extra === 'client_secret' ? 'lists public clients only; confidential clients (with secrets) go in INTROSPECTION_CLIENTS' : `unknown field "${extra.slice(0, 32)}"; ${CLIENTS_HELP}`);
    }
    const id = e['client_id'];
    if (typeof id !== 'string' || !ID.test(id)) throw new ConfigError('CLIENTS', `client_id must match [A-Za-z0-9._~-]{1,64}; ${CLIENTS_HELP}`);
    if (seen.has(id)) throw new ConfigError('CLIENTS', `client_id ${id} appears twice`);
    seen.add(id);
    const clientAudiences = names(e['audiences'], 'audiences', audiences, id) ?? [...audiences];
    const ofAudiences = scopes.filter((s) => clientAudiences.includes(scopeAudience(s)));
    const clientScopes = names(e['scopes'], 'scopes', ofAudiences, id) ?? ofAudiences;
    const defaultScopes = names(e['default_scopes'], 'default_scopes', clientScopes, id) ?? clientScopes;
    const fallback = [firstAudience, accountAudience].filter((a) => clientAudiences.includes(a));
    const defaultAudiences = names(e['default_audiences'], 'default_audiences', clientAudiences, id) ?? (fallback.length > 0 ? fallback : clientAudiences.slice(0, 1));
    if (defaultAudiences.length === 0) throw new ConfigError('CLIENTS', `${id}: needs at least one audience`);
    return { clientId: id, type: 'public', audiences: clientAudiences, scopes: clientScopes, defaultScopes, defaultAudiences };
  });
}
