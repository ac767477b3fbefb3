export * from './schema.ts';
export type * from './transport.ts';
export { DEFAULT_REVOCATION_TOPIC, revocationTopicSpec, type RevocationTopicOptions } from './topic.ts';
export { createKafkaTransport, KafkaTransportError, type KafkaTransportOptions, type TransportLogger } from './kafka.ts';
export { RevocationConsumer, type RevocationConsumerOptions, type RevocationConsumerStats } from './consumer.ts';
