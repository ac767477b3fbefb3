import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { ConfigError, intFromEnv as int, type Env } from '@revocable/config';

/**
 * The auth-hardening limits (issue 12), parsed from the environment by {@link loadHardeningConfig}
 * as part of `loadConfig`. Durations carry their unit.
 */
export interface HardeningConfig {
  /** PASSWORD_HASH_CONCURRENCY, default `os.availableParallelism()`: scrypt computations at once. */
  passwordHashConcurrency: number;
  /** PASSWORD_HASH_QUEUE_MAX, default 8 × concurrency: logins and password changes waiting for a worker; beyond, 503. */
  passwordHashQueueMax: number;
  /** PASSWORD_HASH_REGISTER_QUEUE_MAX, default 2 × concurrency: registrations waiting for a worker; beyond, 503. */
  passwordHashRegisterQueueMax: number;
  /** REGISTER_RATE_LIMIT_PER_IP, default LOGIN_RATE_LIMIT_PER_IP: registrations per IP per window (its own counter). */
  registerRateLimitPerIp: number;
  /** REGISTER_RATE_LIMIT_WINDOW_SECONDS, default LOGIN_RATE_LIMIT_WINDOW_SECONDS. */
  registerRateLimitWindowSeconds: number;
  /** METRICS_PORT / METRICS_HOST: serve /metrics and /docs on this internal listener only; undefined: on the main one. */
  internalListener: InternalListenerConfig | undefined;
  /** CLIENT_AUTH_MAX_FAILURES_PER_CLIENT, default 60: failed client authentications per client id per window, then 429. */
  clientAuthMaxFailuresPerClient: number;
  /** CLIENT_AUTH_MAX_FAILURES_PER_IP, default 20: failed client authentications per IP per window, then 429. */
  clientAuthMaxFailuresPerIp: number;
  /** CLIENT_AUTH_WINDOW_SECONDS, default 60. */
  clientAuthWindowSeconds: number;
}

/** Parses {@link HardeningConfig}; throws `ConfigError` (one line, variable and fix) on a bad value. */
export function loadHardeningConfig(env: Env): HardeningConfig {
  const passwordHashConcurrency = int(env, 'PASSWORD_HASH_CONCURRENCY', availableParallelism(), 1, 256);
  return {
    passwordHashConcurrency,
    passwordHashQueueMax: int(env, 'PASSWORD_HASH_QUEUE_MAX', 8 * passwordHashConcurrency, 0, 100_000),
    passwordHashRegisterQueueMax: int(env, 'PASSWORD_HASH_REGISTER_QUEUE_MAX', 2 * passwordHashConcurrency, 0, 100_000),
    registerRateLimitPerIp: int(env, 'REGISTER_RATE_LIMIT_PER_IP', int(env, 'LOGIN_RATE_LIMIT_PER_IP', 20, 1, 1_000_000), 1, 1_000_000),
    registerRateLimitWindowSeconds: int(env, 'REGISTER_RATE_LIMIT_WINDOW_SECONDS', int(env, 'LOGIN_RATE_LIMIT_WINDOW_SECONDS', 60, 1, 86_400), 1, 86_400),
    internalListener: internalListenerFromEnv(env),
    clientAuthMaxFailuresPerClient: int(env, 'CLIENT_AUTH_MAX_FAILURES_PER_CLIENT', 60, 1, 1_000_000),
    clientAuthMaxFailuresPerIp: int(env, 'CLIENT_AUTH_MAX_FAILURES_PER_IP', 20, 1, 1_000_000),
    clientAuthWindowSeconds: int(env, 'CLIENT_AUTH_WINDOW_SECONDS', 60, 1, 86_400),
  };
}

/**
 * TRUST_PROXY, Fastify's `trustProxy` convention minus "trust everyone": `false` (default,
 * the socket address is the client), a hop count (`1`: one proxy of yours in front), or a
 * comma-separated list of proxy addresses / CIDRs (`10.0.0.0/8,192.0.2.7`) whose
 * `X-Forwarded-For` is believed.
 */
export type TrustProxy = false | number | string[];

/** Parses TRUST_PROXY; `true` (trust whatever a client sends) is refused with the fix. */
export function trustProxyFromEnv(env: Env): TrustProxy {
  const raw = (env['TRUST_PROXY'] ?? '').trim();
  if (raw === '' || /^(false|0|no|off)$/i.test(raw)) return false;
  if (/^(true|yes|on|\*)$/i.test(raw)) {
    throw new ConfigError(
      'TRUST_PROXY',
      `"${raw}" would believe any X-Forwarded-For a client sends; give the number of proxies in front of the service (e.g. 1) or their addresses/CIDRs (e.g. 10.0.0.0/8)`,
    );
  }
  if (/^\d+$/.test(raw)) {
    const hops = Number(raw);
    if (hops > 16) throw new ConfigError('TRUST_PROXY', `a hop count must be 1 to 16, got ${raw}`);
    return hops;
  }
  const entries = raw.split(',').map((e) => e.trim()).filter((e) => e !== '');
  for (const entry of entries) {
    if (!isAddressOrCidr(entry)) {
      throw new ConfigError('TRUST_PROXY', `"${entry.slice(0, 64)}" is not an IP address or CIDR; give a hop count (e.g. 1) or addresses/CIDRs (e.g. 10.0.0.0/8,192.0.2.7)`);
    }
  }
  return entries;
}

function isAddressOrCidr(entry: string): boolean {
  const slash = entry.indexOf('/');
  const address = slash < 0 ? entry : entry.slice(0, slash);
  const version = isIP(address);
  if (version === 0) return false;
  if (slash < 0) return true;
  const bits = entry.slice(slash + 1);
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (version === 4 ? 32 : 128);
}

/** METRICS_PORT / METRICS_HOST: the internal listener of /metrics and /docs (unset: both on the main listener). */
export interface InternalListenerConfig {
  port: number;
  host: string;
}

/** Parses METRICS_PORT (0 = a free port) and METRICS_HOST (default 127.0.0.1); undefined when METRICS_PORT is unset. */
export function internalListenerFromEnv(env: Env): InternalListenerConfig | undefined {
  if ((env['METRICS_PORT'] ?? '').trim() === '') return undefined;
  const port = int(env, 'METRICS_PORT', 0, 0, 65_535);
  const host = (env['METRICS_HOST'] ?? '').trim() || '127.0.0.1';
  if (env['PORT'] !== undefined && env['PORT'].trim() === String(port) && port !== 0) {
    throw new ConfigError('METRICS_PORT', `must differ from PORT (${port}): it is the internal listener of /metrics and /docs`);
  }
  return { port, host };
}
