// The adapter contract (test/support/transport-contract.ts), run against every implementation
// of the EventTransport seam: @platformatic/kafka (default) and kafkajs on the real broker,
// and the in-memory transport unit tests use.
import { createTransport, MemoryTransport, type KafkaClientName } from '@revocable/events';
import { freePort } from '@revocable/infra';
import { testTransport } from './support/env.ts';
import { startKafkaBroker } from './support/kafka-broker.ts';
import { transportContract } from './support/transport-contract.ts';

const deadPort = await freePort();

for (const [client, name] of [
  ['platformatic', '@platformatic/kafka'],
  ['kafkajs', 'kafkajs'],
] as Array<[KafkaClientName, string]>) {
  transportContract({
    name,
    groupless: client === 'platformatic',
    tracksAddedPartitions: client === 'platformatic',
    transport: (clientId) => testTransport(clientId, { client }),
    unreachable: (clientId) => createTransport({ client, brokers: [`127.0.0.1:${deadPort}`], clientId, connectionTimeoutMs: 500 }),
    restartable: async () => {
      const broker = await startKafkaBroker();
      return {
        transport: (clientId) => createTransport({ client, brokers: broker.brokers, clientId }),
        restart: async () => {
          await broker.kill();
          await broker.start();
        },
        destroy: () => broker.destroy(),
      };
    },
  });
}

const memory = new MemoryTransport();
transportContract({
  name: 'in-memory',
  groupless: true,
  tracksAddedPartitions: true,
  transport: () => memory,
  unreachable: () => {
    const down = new MemoryTransport();
    down.setAvailable(false);
    return down;
  },
  restartable: async () => {
    const own = new MemoryTransport();
    return {
      transport: () => own,
      restart: async () => {
        own.setAvailable(false);
        await new Promise((resolve) => setImmediate(resolve));
        own.setAvailable(true);
      },
      destroy: async () => undefined,
    };
  },
});
