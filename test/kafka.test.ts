import { randomUUID } from 'node:crypto';
import { revocationTopicSpec, type TopicAdmin } from '@revocable/events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testTransport, uniqueTopic, waitFor } from './support/env.ts';

// Proves the broker the suite runs against is a real Kafka: a round trip through the seam, and
// topic configs read back from the broker itself.
describe('the Kafka broker the tests use', () => {
  let admin: TopicAdmin;
  beforeAll(async () => {
    admin = await testTransport('kafka-test').admin();
  });
  afterAll(async () => {
    await admin.close();
  });

  it('round-trips a message through the transport seam (default client) with no consumer group', async () => {
    const topic = uniqueTopic('roundtrip');
    await admin.ensureTopic({ topic, partitions: 1, replicationFactor: 1, configs: {} });
    const groupsBefore = await admin.listGroups();
    const transport = testTransport('roundtrip');
    const producer = await transport.producer();
    const payload = `hello ${randomUUID()}`;
    try {
      await producer.send(topic, [{ key: 'k', value: Buffer.from(payload) }]);
    } finally {
      await producer.close();
    }
    const received: string[] = [];
    const subscription = await transport.subscribeAll({ topic, onRecords: (records) => void received.push(...records.map((r) => r.value?.toString() ?? '')) });
    try {
      await waitFor(() => received.length > 0, { what: 'the message to come back' });
      expect(await admin.listGroups()).toEqual(groupsBefore);
    } finally {
      await subscription.stop();
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
