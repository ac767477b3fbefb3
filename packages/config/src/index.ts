/**
 * Environment parsing for the services. Each reader returns a typed value or throws a
 * {@link ConfigError} whose message is one line: the variable, what is wrong, the fix.
 * An unset or blank variable takes the documented default.
 */

/** The environment as `process.env` gives it. */
export type Env = Record<string, string | undefined>;

/** Thrown at start for a bad or missing setting; `server.ts` prints the message and exits 1. */
export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG';
  /** The environment variable at fault. */
  readonly variable: string;
  constructor(variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
    this.variable = variable;
  }
}

/**
 * Runs `read` (a reader or a whole `loadConfig`) and returns the {@link ConfigError} it
 * throws; throws itself when `read` succeeds or throws anything else. For tests that assert
 * which variable a bad environment names.
 *
 * @example expect(configErrorOf(() => loadConfig({ PORT: 'x' })).variable).toBe('PORT');
 */
export function configErrorOf(read: () => unknown): ConfigError {
  try {
    read();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError, but the configuration was accepted');
}

/** A trimmed string, or `fallback` when unset or blank. */
export function stringFromEnv(env: Env, name: string, fallback: string): string {
  const value = env[name];
  return value === undefined || value.trim() === '' ? fallback : value.trim();
}

/** An integer within [min, max]. */
export function intFromEnv(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw.trim());
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(name, `must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return value;
}

/** `true`/`1`/`yes` or `false`/`0`/`no`, case-insensitive. */
export function boolFromEnv(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = raw.trim().toLowerCase();
  if (value === 'true' || value === '1' || value === 'yes') return true;
  if (value === 'false' || value === '0' || value === 'no') return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

/** A comma-separated list, items trimmed, empty items dropped. */
export function listFromEnv(env: Env, name: string, fallback: string): string[] {
  return stringFromEnv(env, name, fallback)
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

/** An http(s) URL without trailing slashes, query or fragment. */
export function httpUrlFromEnv(env: Env, name: string, fallback: string): string {
  const value = stringFromEnv(env, name, fallback).replace(/\/+$/, '');
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
    if (url.search !== '' || url.hash !== '') throw new Error('query');
  } catch {
    throw new ConfigError(name, `must be an http(s) URL without query or fragment, got "${value}"`);
  }
  return value;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** LOG_LEVEL: a pino level, default `info`. */
export function logLevelFromEnv(env: Env): string {
  const level = stringFromEnv(env, 'LOG_LEVEL', 'info');
  if (!LOG_LEVELS.includes(level)) throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}, got "${level}"`);
  return level;
}

/** KAFKA_BROKERS: comma-separated `host:port`, default `127.0.0.1:9092`. */
export function kafkaBrokersFromEnv(env: Env): string[] {
  const brokers = listFromEnv(env, 'KAFKA_BROKERS', '127.0.0.1:9092');
  if (brokers.length === 0 || brokers.some((b) => !/^[^:\s]+:\d{1,5}$/.test(b))) {
    throw new ConfigError('KAFKA_BROKERS', 'must be a comma-separated list of host:port, e.g. 127.0.0.1:9092');
  }
  return brokers;
}

/** KAFKA_CLIENT: the Kafka client library behind the transport seam, `platformatic` (default) or `kafkajs`. */
export function kafkaClientFromEnv(env: Env): 'platformatic' | 'kafkajs' {
  const client = stringFromEnv(env, 'KAFKA_CLIENT', 'platformatic');
  if (client !== 'platformatic' && client !== 'kafkajs') throw new ConfigError('KAFKA_CLIENT', `must be platformatic or kafkajs, got "${client}"`);
  return client;
}

/** REVOCATION_TOPIC: a legal Kafka topic name, default `revocable.revocations`. */
export function topicFromEnv(env: Env): string {
  const topic = stringFromEnv(env, 'REVOCATION_TOPIC', 'revocable.revocations');
  if (!/^[A-Za-z0-9._-]{1,249}$/.test(topic)) throw new ConfigError('REVOCATION_TOPIC', 'must be a valid Kafka topic name ([A-Za-z0-9._-], at most 249)');
  return topic;
}

/** RECEIPTS_TOPIC: the receipts topic (resource services write, auth reads), default `<revocationTopic>.receipts`. */
export function receiptsTopicFromEnv(env: Env, revocationTopic: string): string {
  const topic = stringFromEnv(env, 'RECEIPTS_TOPIC', `${revocationTopic}.receipts`);
  if (!/^[A-Za-z0-9._-]{1,249}$/.test(topic)) throw new ConfigError('RECEIPTS_TOPIC', 'must be a valid Kafka topic name ([A-Za-z0-9._-], at most 249)');
  return topic;
}

/**
 * CORS_ORIGINS: the exact browser origins (`scheme://host[:port]`, comma-separated) allowed to
 * call a service from another origin, e.g. `https://app.example.com,http://localhost:5173`.
 * Default: none (no CORS headers; same-origin only). A wildcard is refused: the allowed
 * requests carry credentials (cookies, bearer tokens), and `*` would hand them to any site.
 * Origins are returned in their canonical form (lower-case, default port dropped).
 */
export function corsOriginsFromEnv(env: Env, name = 'CORS_ORIGINS'): string[] {
  const example = 'e.g. https://app.example.com,http://localhost:5173';
  const origins: string[] = [];
  for (const item of listFromEnv(env, name, '')) {
    if (item.includes('*')) {
      throw new ConfigError(name, `must list exact origins, not "${item}": a wildcard cannot be combined with credentials; ${example}`);
    }
    let url: URL;
    try {
      url = new URL(item);
    } catch {
      throw new ConfigError(name, `"${item}" is not an origin (scheme://host[:port]); ${example}`);
    }
    const bare = url.pathname === '/' && !item.endsWith('/') && url.search === '' && url.hash === '' && url.username === '' && url.password === '';
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !bare || url.origin === 'null') {
      throw new ConfigError(name, `"${item}" is not an origin (scheme://host[:port], no path or trailing slash); ${example}`);
    }
    if (!origins.includes(url.origin)) origins.push(url.origin);
  }
  return origins;
}
