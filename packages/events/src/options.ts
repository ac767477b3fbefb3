import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { TransportLogger } from './transport.ts';

/** SASL credentials. SCRAM-SHA-512 is what Revocable's secured bus uses; PLAIN only over TLS. */
export interface KafkaSaslOptions {
  mechanism: 'SCRAM-SHA-512' | 'SCRAM-SHA-256' | 'PLAIN';
  username: string;
  password: string;
}

/**
 * TLS to the brokers: `true` for the system trust store, or node:tls options
 * (`ca`, `cert`, `key`, `servername`, `rejectUnauthorized`...).
 */
export type KafkaSslOptions = true | Pick<TlsConnectionOptions, 'ca' | 'cert' | 'key' | 'passphrase' | 'servername' | 'rejectUnauthorized'>;

/** Connection settings shared by every Kafka adapter. */
export interface KafkaConnectionOptions {
  /** `host:port` list. */
  brokers: readonly string[];
  /** Client id reported to the broker (service name). */
  clientId: string;
  /** SASL authentication (e.g. SCRAM-SHA-512). Default: none. */
  sasl?: KafkaSaslOptions;
  /** TLS. Default: plaintext. */
  ssl?: KafkaSslOptions;
  /** Where the client library's own warnings and errors go. Default: dropped. */
  logger?: TransportLogger;
  /** TCP connect timeout per broker, in milliseconds. Default 3000. */
  connectionTimeoutMs?: number;
  /** Per-request timeout, in milliseconds. Default 10000. */
  requestTimeoutMs?: number;
  /** How often the broadcast reader re-reads the topic's metadata (new partitions, leaders), in milliseconds. Default 2000. */
  metadataRefreshMs?: number;
}

/** The Kafka client libraries behind the seam. */
export const KAFKA_CLIENTS = ['platformatic', 'kafkajs'] as const;
export type KafkaClientName = (typeof KAFKA_CLIENTS)[number];

/** Options of {@link createTransport}. */
export interface TransportOptions extends KafkaConnectionOptions {
  /** Which client library: `platformatic` (@platformatic/kafka, default) or `kafkajs`. */
  client?: KafkaClientName;
}
