import { parseReceipt, ReceiptFormatError, receiptsTopicSpec, type BroadcastSubscription, type EventTransport, type TopicSpec } from '@revocable/events';
import type { Logger } from '@revocable/protocol';
import type { PropagationTracker } from './propagation.ts';

/** Options of {@link ReceiptsReader}. */
export interface ReceiptsReaderOptions {
  transport: EventTransport;
  /** RECEIPTS_TOPIC. */
  topic: string;
  /** Replication factor of the topic when this reader creates it (REVOCATION_TOPIC_REPLICATION_FACTOR). */
  replicationFactor: number;
  tracker: PropagationTracker;
  log: Pick<Logger, 'info' | 'warn' | 'debug'>;
  /** Pause between attempts while the broker is unreachable, milliseconds. Default 1000. */
  retryMs?: number;
}

/**
 * Reads the receipts topic into the {@link PropagationTracker}: creates the topic if missing,
 * starts at its end (receipts older than this process are of no use), reads every partition
 * itself (no consumer group, so every auth instance sees every receipt), counts and skips
 * records that are not receipts. Retries in the background until the broker answers.
 */
export class ReceiptsReader {
  readonly #o: ReceiptsReaderOptions;
  readonly #spec: TopicSpec;
  #subscription: BroadcastSubscription | null = null;
  #stopped = false;
  #running: Promise<void> | null = null;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: ReceiptsReaderOptions) {
    this.#o = options;
    this.#spec = receiptsTopicSpec({ topic: options.topic, replicationFactor: options.replicationFactor });
  }

  /** Starts in the background; resolves at once. */
  start(): void {
    this.#running ??= this.#run();
  }

  /** Stops reading; an attempt still connecting ends by itself (it never delays a shutdown). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#subscription?.stop();
    this.#subscription = null;
  }

  async #run(): Promise<void> {
    let warned = false;
    while (!this.#stopped) {
      try {
        const admin = await this.#o.transport.admin();
        let from: Map<number, bigint>;
        try {
          await admin.ensureTopic(this.#spec);
          from = await admin.highWatermarks(this.#o.topic);
        } finally {
          await admin.close();
        }
        if (this.#stopped) return;
        this.#subscription = await this.#o.transport.subscribeAll({
          topic: this.#o.topic,
          from,
          onRecords: (records) => {
            for (const record of records) {
              try {
                this.#o.tracker.receive(parseReceipt(record.value));
              } catch (error) {
                if (!(error instanceof ReceiptFormatError)) throw error;
                this.#o.tracker.invalid();
                this.#o.log.debug({ code: error.code, partition: record.partition, offset: record.offset }, 'skipped a receipts record');
              }
            }
          },
          onError: (error) => this.#o.log.debug({ code: error.code }, 'receipts reader reconnecting'),
          onFailed: (error) => {
            this.#o.log.warn({ code: error.code, err: error.message }, 'receipts reader failed; recreating it');
            this.#subscription = null;
            this.#timer = setTimeout(() => {
              this.#running = null;
              if (!this.#stopped) this.start();
            }, this.#o.retryMs ?? 1000);
          },
        });
        if (this.#stopped) {
          await this.#subscription.stop();
          this.#subscription = null;
          return;
        }
        this.#o.log.info({ topic: this.#o.topic }, 'reading receipts');
        return;
      } catch (error) {
        if (!warned) {
          warned = true;
          this.#o.log.warn({ err: (error as Error).message, code: (error as { code?: unknown }).code }, 'receipts topic not reachable yet; retrying');
        }
        await new Promise<void>((resolve) => {
          this.#timer = setTimeout(resolve, this.#o.retryMs ?? 1000);
        });
      }
    }
  }
}
