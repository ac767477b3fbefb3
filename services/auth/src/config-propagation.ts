import { boolFromEnv as bool, intFromEnv as int, receiptsTopicFromEnv, type Env } from '@revocable/config';

/**
 * Receipts and propagation (issue 14), parsed by {@link loadPropagationConfig} as part of
 * `loadConfig`. Durations carry their unit.
 */
export interface PropagationConfig {
  /** RECEIPTS_ENABLED, default true: read the receipts topic (live instances, propagation, `Prefer: wait`). */
  receiptsEnabled: boolean;
  /** RECEIPTS_TOPIC, default `<REVOCATION_TOPIC>.receipts`: resource services write it, this service reads it (and creates it). */
  receiptsTopic: string;
  /** PREFER_WAIT_MAX_SECONDS, default 30: the longest `Prefer: wait=N` honoured (larger N is capped). */
  preferWaitMaxSeconds: number;
}

/** Parses {@link PropagationConfig}; throws `ConfigError` (one line, variable and fix) on a bad value. */
export function loadPropagationConfig(env: Env, revocationTopic: string): PropagationConfig {
  return {
    receiptsEnabled: bool(env, 'RECEIPTS_ENABLED', true),
    receiptsTopic: receiptsTopicFromEnv(env, revocationTopic),
    preferWaitMaxSeconds: int(env, 'PREFER_WAIT_MAX_SECONDS', 30, 1, 300),
  };
}
