import { parseEvent, type EventTransport, type IncomingRecord, type RevocableEvent } from '@revocable/events';
import { waitFor } from './env.ts';

/** Everything a broadcast read of one topic received, through the transport seam (no consumer group). */
export interface TopicReader {
  readonly records: IncomingRecord[];
  /** The parsed events received so far (bad records left out). */
  events(): RevocableEvent[];
  stop(): Promise<void>;
}

/**
 * Reads every partition of `topic` from the earliest offset, as a resource service does.
 * Waits (with a deadline) for the topic to exist first: the relay may still be creating it.
 */
export async function readTopic(transport: EventTransport, topic: string, { timeoutMs = 30_000 } = {}): Promise<TopicReader> {
  const admin = await transport.admin();
  try {
    await waitFor(async () => (await admin.listTopics()).includes(topic), { timeoutMs, what: `topic ${topic} to exist` });
  } finally {
    await admin.close();
  }
  const records: IncomingRecord[] = [];
  const subscription = await transport.subscribeAll({ topic, onRecords: (batch) => void records.push(...batch) });
  return {
    records,
    events: () => records.flatMap((r) => {
      const parsed = parseEvent(r.value);
      return parsed.ok ? [parsed.event] : [];
    }),
    stop: () => subscription.stop(),
  };
}
