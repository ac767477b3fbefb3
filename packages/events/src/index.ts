export * from './schema.ts';
export type * from './transport.ts';
export { TransportError, isTransportError } from './transport.ts';
export { DEFAULT_REVOCATION_TOPIC, revocationTopicSpec, type RevocationTopicOptions } from './topic.ts';
export { createKafkaTransport, createTransport, DEFAULT_KAFKA_CLIENT } from './factory.ts';
export { KAFKA_CLIENTS, type KafkaClientName, type KafkaConnectionOptions, type KafkaSaslOptions, type KafkaSslOptions, type TransportOptions } from './options.ts';
export { createKafkajsTransport } from './kafkajs.ts';
export { createPlatformaticTransport } from './platformatic.ts';
export { MemoryTransport } from './memory.ts';
export { javaPartition, murmur2 } from './murmur2.ts';
export {
  RevocationConsumer,
  type RevocationConsumerOptions,
  type RevocationConsumerStats,
  type RevocationReaderState,
  type RevocationReaderStatus,
} from './consumer.ts';
export { createEventBuilder, revocationUntil, tokenRevocationUntil, type EventBuilder, type EventBuilderOptions, type RevocationWindow } from './builder.ts';
export {
  defaultInstanceId,
  defaultReceiptsTopic,
  encodeReceipt,
  LIVENESS_INTERVALS,
  MAX_RECEIPT_BYTES,
  parseReceipt,
  ReceiptFormatError,
  ReceiptPublisher,
  receiptsTopicSpec,
  type AppliedEvent,
  type InstanceState,
  type ReceiptMessage,
  type ReceiptPublisherOptions,
  type ReceiptSender,
} from './receipts.ts';
export {
  EventKeyRing,
  eventPublicJwk,
  generateEventSigningKey,
  heartbeatSigningInput,
  importEventSigner,
  isEventSigningJwk,
  signHeartbeat,
  type EventSigner,
  type EventSigningKey,
  type HeartbeatTarget,
  type HeartbeatVerifier,
  type JWK as EventJwk,
} from './heartbeat.ts';
