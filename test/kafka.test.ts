import { randomUUID } from 'node:crypto';
import { createTransport, revocationTopicSpec, type TopicAdmin } from '@revocable/events';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaBrokers, uniqueTopic, waitFor } from './support/env.ts';

// Proves the broker the suite runs against is a real Kafka: plain kafkajs round trip, and
// topic configs read back from the broker itself.
describe('the Kafka broker the tests use', () => {
  let admin: TopicAdmin;
  beforeAll(async () => {
    admin = await createTransport({ brokers: kafkaBrokers(), clientId: 'kafka-test' }).admin();
  });
  afterAll(async () => {
    await admin.close();
  });

  it('round-trips a message through a plain kafkajs producer and consumer', async () => {
    const topic = uniqueTopic('roundtrip');
    const kafka = new Kafka({ clientId: 'roundtrip', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
    const kadmin = kafka.admin();
    await kadmin.connect();
    await kadmin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    await kadmin.disconnect();

    const producer = kafka.producer();
    await producer.connect();
    const payload = `hello ${randomUUID()}`;
    await producer.send({ topic, acks: -1, messages: [{ key: 'k', value: payload }] });
    await producer.disconnect();

    const received: string[] = [];
    const consumer = kafka.consumer({ groupId: `roundtrip-${randomUUID()}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void received.push(message.value?.toString() ?? '') });
    try {
      await waitFor(() => received.length > 0, { what: 'the message to come back' });
    } finally {
      await consumer.disconnect();
    }
    expect(received).toEqual([payload]);
  });

  it('creates the revocation topic with the project retention and the broker reports it back', async () => {
    const spec = revocationTopicSpec({ topic: uniqueTopic('revocations'), partitions: 3, maxAccessTtlSeconds: 900 });
    await admin.ensureTopic(spec);
    const configs = await admin.describeTopicConfigs(spec.topic);
    expect(configs['retention.ms']).toBe(String(1_800_000));
    expect(Number(configs['retention.ms'])).toBeGreaterThanOrEqual(900_000);
    expect(configs['cleanup.policy']).toBe('delete');
    expect(await admin.partitionCount(spec.topic)).toBe(3);
  });

  it('raises, never lowers, the retention of an existing topic', async () => {
    const topic = uniqueTopic('retention');
    await admin.ensureTopic(revocationTopicSpec({ topic, maxAccessTtlSeconds: 900 }));
    await admin.ensureTopic(revocationTopicSpec({ topic, maxAccessTtlSeconds: 60 }));
    expect((await admin.describeTopicConfigs(topic))['retention.ms']).toBe('1800000');
    await admin.ensureTopic(revocationTopicSpec({ topic, maxAccessTtlSeconds: 3600 }));
    expect((await admin.describeTopicConfigs(topic))['retention.ms']).toBe('7200000');
  });
});
