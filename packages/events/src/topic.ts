import type { TopicSpec } from './transport.ts';

/** Default name of the revocation topic. */
export const DEFAULT_REVOCATION_TOPIC = 'revocable.revocations';

export interface RevocationTopicOptions {
  /** Topic name. Default `revocable.revocations`. */
  topic?: string;
  /** Partitions; events are keyed by `sub`. Default 3. */
  partitions?: number;
  /** Replication factor. Default 1 (single-node broker); use 3 in production. */
  replicationFactor?: number;
  /** Longest access-token lifetime any issuer uses, in seconds. Retention is derived from it. */
  maxAccessTtlSeconds: number;
}

/** Retention margin on top of the max access TTL, so a starting instance always replays the full window. */
const RETENTION_MARGIN_MS = 10 * 60 * 1000;

/**
 * Settings of the revocation topic. Retention is at least twice the max access TTL (and
 * at least TTL + 10 min): a starting instance that replays the topic sees every
 * revocation that can still deny a live token.
 */
export function revocationTopicSpec(options: RevocationTopicOptions): TopicSpec {
  const ttlMs = options.maxAccessTtlSeconds * 1000;
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) throw new RangeError('maxAccessTtlSeconds must be a positive integer');
  const retentionMs = Math.max(2 * ttlMs, ttlMs + RETENTION_MARGIN_MS);
  const replicationFactor = options.replicationFactor ?? 1;
  return {
    topic: options.topic ?? DEFAULT_REVOCATION_TOPIC,
    partitions: options.partitions ?? 3,
    replicationFactor,
    configs: {
      'cleanup.policy': 'delete',
      'retention.ms': String(retentionMs),
      // Smaller segments let expired revocations actually leave the log near their retention time.
      'segment.ms': String(Math.min(retentionMs, 60 * 60 * 1000)),
      'min.insync.replicas': String(Math.min(2, replicationFactor)),
      'message.timestamp.type': 'CreateTime',
    },
  };
}
