import { availableParallelism } from 'node:os';
import { intFromEnv as int, type Env } from '@revocable/config';

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
  };
}
