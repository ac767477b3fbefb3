// The secured bus against a real broker (SASL/SCRAM-SHA-512, KRaft StandardAuthorizer, the ACLs
// of infra's grantBusAcls), through both adapters: the auth principal alone writes the
// revocation topic; a resource principal reads it and writes the receipts topic but cannot
// produce to the revocation topic (ERR_KAFKA_AUTH); a client without credentials, or with a
// wrong password, can neither read nor write.
import { createTransport, isTransportError, revocationTopicSpec, type EventTransport, type IncomingRecord, type KafkaClientName, type TransportError } from '@revocable/events';
import { busSasl, grantBusAcls, type BusCredentials, type BusPrincipal } from '@revocable/infra';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueTopic, waitFor } from './support/env.ts';
import { startKafkaBroker, type KafkaBroker } from './support/kafka-broker.ts';
import { rejection } from './support/transport-contract.ts';

let broker: KafkaBroker;
let credentials: BusCredentials;

beforeAll(async () => {
  broker = await startKafkaBroker({ sasl: true });
  if (broker.credentials === null) throw new Error('the broker was started without credentials');
  credentials = broker.credentials;
}, 240_000);
afterAll(async () => {
  await broker?.destroy();
});

/** Resolves with the first error a subscription reports (or its start rejects with), within a deadline. */
async function readFailure(transport: EventTransport, topic: string): Promise<TransportError> {
  const errors: TransportError[] = [];
  const records: IncomingRecord[] = [];
  let subscription: { stop(): Promise<void> } | undefined;
  try {
    subscription = await transport.subscribeAll({ topic, onRecords: (batch) => void records.push(...batch), onError: (error) => void errors.push(error) });
  } catch (error) {
    if (isTransportError(error)) return error;
    throw error;
  }
  try {
    const error = await waitFor(() => errors[0], { timeoutMs: 30_000, what: `a read error on ${topic}` });
    expect(records).toEqual([]);
    return error;
  } finally {
    await subscription.stop();
  }
}

for (const client of ['platformatic', 'kafkajs'] as KafkaClientName[]) {
  describe(`a SASL/SCRAM-SHA-512 broker with ACLs (${client})`, () => {
    const topic = uniqueTopic('secured');
    const as = (principal: BusPrincipal): EventTransport =>
      createTransport({ client, brokers: broker.brokers, clientId: `sec-${principal}`, sasl: busSasl(credentials, principal), connectionTimeoutMs: 2000, requestTimeoutMs: 5000 });

    beforeAll(async () => {
      await grantBusAcls(broker.brokers, credentials, topic);
      // The auth principal creates the topic, as the relay does at start.
      const admin = await as('auth').admin();
      try {
        await admin.ensureTopic(revocationTopicSpec({ topic, maxAccessTtlSeconds: 900 }));
      } finally {
        await admin.close();
      }
    }, 60_000);

    it('the auth principal writes the revocation topic and a resource principal reads it', async () => {
      const producer = await as('auth').producer();
      try {
        await producer.send(topic, [{ key: 'user-1', value: Buffer.from('from auth') }]);
      } finally {
        await producer.close();
      }
      const received: string[] = [];
      const subscription = await as('orders').subscribeAll({ topic, onRecords: (batch) => void received.push(...batch.map((r) => r.value?.toString() ?? '')) });
      try {
        await waitFor(() => received.includes('from auth'), { what: 'orders to read the record auth wrote' });
      } finally {
        await subscription.stop();
      }
    });

    it('a resource principal cannot produce to the revocation topic (ERR_KAFKA_AUTH) but writes its receipts topic', async () => {
      const producer = await as('orders').producer();
      try {
        const error = await rejection(producer.send(topic, [{ key: 'user-1', value: Buffer.from('forged') }]));
        expect(error.code).toBe('ERR_KAFKA_AUTH');
        expect(error.retriable).toBe(false);
        // Its own receipts topic is writable (the resource services create it on first use).
        const admin = await as('profile').admin();
        try {
          await admin.ensureTopic({ topic: `${topic}.receipts`, partitions: 1, replicationFactor: 1, configs: {} });
        } finally {
          await admin.close();
        }
        await producer.send(`${topic}.receipts`, [{ key: 'orders-1', value: Buffer.from('receipt') }]);
      } finally {
        await producer.close();
      }
    });

    it('a resource principal cannot read a topic it was not granted (ERR_KAFKA_AUTH)', async () => {
      const other = uniqueTopic('secured-other');
      const admin = await as('admin').admin();
      try {
        await admin.ensureTopic({ topic: other, partitions: 1, replicationFactor: 1, configs: {} });
      } finally {
        await admin.close();
      }
      expect((await readFailure(as('gate'), other)).code).toBe('ERR_KAFKA_AUTH');
    });

    it('a wrong password is refused with ERR_KAFKA_AUTH, for writing and for reading', async () => {
      const wrong = createTransport({ client, brokers: broker.brokers, clientId: 'sec-wrong', sasl: { ...busSasl(credentials, 'auth'), password: 'not-the-password' }, connectionTimeoutMs: 2000, requestTimeoutMs: 5000 });
      const error = await rejection(wrong.producer().then((p) => p.send(topic, [{ key: 'k', value: Buffer.from('x') }]).finally(() => p.close())));
      expect(error.code).toBe('ERR_KAFKA_AUTH');
      expect((await readFailure(wrong, topic)).code).toBe('ERR_KAFKA_AUTH');
    });

    it('a client without credentials can neither write nor read', async () => {
      const anonymous = createTransport({ client, brokers: broker.brokers, clientId: 'sec-anonymous', connectionTimeoutMs: 1000, requestTimeoutMs: 3000 });
      const error = await rejection(anonymous.producer().then((p) => p.send(topic, [{ key: 'k', value: Buffer.from('forged') }]).finally(() => p.close())));
      expect(error).toBeInstanceOf(Error);
      await readFailure(anonymous, topic);
      // Nothing it tried reached the topic: only the record auth wrote is there.
      const admin = await as('admin').admin();
      try {
        const high = await admin.highWatermarks(topic);
        expect([...high.values()].reduce((a, b) => a + b, 0n)).toBe(1n);
      } finally {
        await admin.close();
      }
    });
  });
}
