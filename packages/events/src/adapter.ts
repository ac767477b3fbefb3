/**
 * What the two Kafka adapters (kafkajs.ts, platformatic.ts) share around their libraries:
 * turning a library failure into a {@link TransportError}, the producer contract, and the
 * retention rule of `ensureTopic`. Each adapter keeps only what its library does differently.
 */
import { TransportError, isTransportError, type EventProducer, type OutgoingRecord, type TopicSpec, type TransportErrorCode } from './transport.ts';

/** Wraps a failure of `what` (an operation, in words) into a {@link TransportError}. */
export type Wrap = (error: unknown, what: string) => TransportError;

/** A {@link Wrap} that passes TransportErrors through and gives anything else the code `classify` finds. */
export function errorWrapper(classify: (error: Error) => TransportErrorCode): Wrap {
  return (error, what) => {
    if (isTransportError(error)) return error;
    const e = error instanceof Error ? error : new Error(String(error));
    return new TransportError(classify(e), `${what} failed: ${e.message}`, { cause: error });
  };
}

/** The part of a library's producer an adapter maps onto: publish a batch (resolving once acknowledged), disconnect. */
export interface LibraryProducer {
  publish(topic: string, records: readonly OutgoingRecord[]): Promise<unknown>;
  close(): Promise<void>;
}

/** The {@link EventProducer} over a library's producer: an empty batch sends nothing; a failure is wrapped naming the topic. */
export function adapterProducer(library: LibraryProducer, wrap: Wrap): EventProducer {
  return {
    async send(topic, records) {
      if (records.length === 0) return;
      try {
        await library.publish(topic, records);
      } catch (error) {
        throw wrap(error, `publishing to ${topic}`);
      }
    },
    close: () => library.close(),
  };
}

/**
 * `ensureTopic` on a topic that exists: the retention (ms) to set, or undefined when the
 * topic's `haveMs` already suffices (-1 is unlimited). Retention is only ever raised.
 */
export function retentionToRaise(spec: TopicSpec, haveMs: number): number | undefined {
  const wanted = Number(spec.configs['retention.ms'] ?? 0);
  return haveMs !== -1 && wanted > haveMs ? wanted : undefined;
}

/**
 * After raising a topic's retention to `wantedMs`: resolves once `describe` (the topic's
 * configs) shows it, so `ensureTopic` reads its own write. The controller acknowledges the
 * change before every broker's metadata image has it; a describe right after can still
 * answer the old value for a few milliseconds. Throws ERR_KAFKA_TIMEOUT after `timeoutMs`.
 */
export async function awaitRetention(
  topic: string,
  wantedMs: number,
  describe: () => Promise<Record<string, string>>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const have = Number((await describe())['retention.ms'] ?? 0);
    if (have === -1 || have >= wantedMs) return;
    if (Date.now() > deadline) {
      throw new TransportError('ERR_KAFKA_TIMEOUT', `the retention of ${topic} still reads ${have} ms, not ${wantedMs} ms, ${timeoutMs / 1000} s after raising it`);
    }
    await delay(50);
  }
}

/** Resolves after `ms` milliseconds (the adapters' polling loops). */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
