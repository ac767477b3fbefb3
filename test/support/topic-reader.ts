import { createTransport, parseEvent, type IncomingRecord, type KafkaSaslOptions, type RevocableEvent } from '@revocable/events';
import { waitFor } from './env.ts';

/** A running broadcast read of one topic (see {@link readTopic}). */
export interface TopicReader {
  /** Records that did not parse as events (a healthy topic has none). */
  readonly invalid: IncomingRecord[];
  stop(): Promise<void>;
}

/**
 * Reads every partition of `topic` from the earliest offset through the transport seam, as a
 * resource service does (no consumer group), calling `onEvent` for each event in offset order
 * per partition. Waits (with a deadline) for the topic to exist first: the relay may still be
 * creating it. The client is the suite's default (`KAFKA_CLIENT`, else @platformatic/kafka);
 * `sasl` authenticates it on a secured broker (the suite's: `kafkaSasl()`).
 */
export async function readTopic(
  brokers: string[],
  topic: string,
  onEvent: (event: RevocableEvent, record: IncomingRecord) => void,
  { clientId = 'test-reader', timeoutMs = 30_000, sasl }: { clientId?: string; timeoutMs?: number; sasl?: KafkaSaslOptions | undefined } = {},
): Promise<TopicReader> {
  const client = process.env['KAFKA_CLIENT'] === 'kafkajs' ? 'kafkajs' : 'platformatic';
  const transport = createTransport({ client, brokers, clientId, ...(sasl ? { sasl } : {}) });
  const admin = await transport.admin();
  try {
    await waitFor(async () => (await admin.listTopics()).includes(topic), { timeoutMs, what: `topic ${topic} to exist` });
  } finally {
    await admin.close();
  }
  const invalid: IncomingRecord[] = [];
  const subscription = await transport.subscribeAll({
    topic,
    onRecords: (records) => {
      for (const record of records) {
        const parsed = parseEvent(record.value);
        if (parsed.ok) onEvent(parsed.event, record);
        else invalid.push(record);
      }
    },
  });
  return { invalid, stop: () => subscription.stop() };
}
