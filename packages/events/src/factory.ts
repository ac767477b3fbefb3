import { createKafkajsTransport } from './kafkajs.ts';
import { KAFKA_CLIENTS, type KafkaClientName, type TransportOptions } from './options.ts';
import { createPlatformaticTransport } from './platformatic.ts';
import type { EventTransport } from './transport.ts';

/** The client used when none is named (`KAFKA_CLIENT` unset). */
export const DEFAULT_KAFKA_CLIENT: KafkaClientName = 'platformatic';

/**
 * The Kafka transport for `options.client`: `platformatic` (@platformatic/kafka, the
 * default: group-less broadcast reader, maintained, warning-free) or `kafkajs`.
 *
 * @example
 * const transport = createTransport({ client: 'platformatic', brokers: ['127.0.0.1:9092'], clientId: 'orders',
 *   sasl: { mechanism: 'SCRAM-SHA-512', username: 'orders', password }, ssl: { ca } });
 */
export function createTransport(options: TransportOptions): EventTransport {
  const { client = DEFAULT_KAFKA_CLIENT, ...connection } = options;
  switch (client) {
    case 'platformatic':
      return createPlatformaticTransport(connection);
    case 'kafkajs':
      return createKafkajsTransport(connection);
    default:
      throw new RangeError(`unknown Kafka client "${String(client)}": use one of ${KAFKA_CLIENTS.join(', ')}`);
  }
}

/** @deprecated Use {@link createTransport} (same options; `client` defaults to `platformatic`). */
export const createKafkaTransport = createTransport;
