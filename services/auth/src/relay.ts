import { randomUUID } from 'node:crypto';
import pg from 'pg';
import {
  encodeEvent,
  isTransportError,
  signHeartbeat,
  validateEvent,
  type EventProducer,
  type EventSigner,
  type EventTransport,
  type OutgoingRecord,
  type TopicSpec,
} from '@revocable/events';
import { connectionError, type Pool, type PoolClient } from './db.ts';
import type { Logger } from '@revocable/protocol';
import type { AuthMetrics } from './metrics.ts';


export interface OutboxRelayOptions {
  pool: Pool;
  /** Connection string for the dedicated LISTEN connection. */
  databaseUrl: string;
  transport: EventTransport;
  topicSpec: TopicSpec;
  /** Rows per produce call. */
  batchSize: number;
  /** Polling fallback when no NOTIFY arrives, in ms. */
  pollIntervalMs: number;
  /** Heartbeat period, in ms (one record per partition). */
  heartbeatIntervalMs: number;
  /** Names this relay in heartbeat events. */
  instanceId: string;
  /**
   * The event-signing key for heartbeats (`EventKeyStore.activeSigner`, asked before every
   * round: another instance may have rotated). Without it heartbeats go out unsigned, and
   * verifiers do not count them.
   */
  heartbeatSigner?: () => Promise<EventSigner>;
  now: () => number;
  log: Logger;
  metrics?: AuthMetrics;
  /** Called with the revocation events Kafka just acknowledged (propagation tracking). */
  onPublished?: (events: ReadonlyArray<{ id: string; type: string; at: number }>) => void;
}

export type RelayState = 'starting' | 'running' | 'kafka_unavailable' | 'database_unavailable' | 'stopped';

/** What /readyz and /metrics report about the relay. */
export interface RelayStatus {
  state: RelayState;
  listening: boolean;
  lastError: string | null;
  /** Epoch ms of the last successful Kafka acknowledgement (events or heartbeats). */
  lastAckAt: number | null;
  published: number;
  pending: number | null;
}

const MAX_BACKOFF_MS = 5000;

/** How stale the outbox backlog sample may be before a cycle or a heartbeat takes a new one, in ms. */
const PENDING_SAMPLE_INTERVAL_MS = 500;

/**
 * Moves outbox rows to Kafka. Woken by LISTEN/NOTIFY, with polling as the fallback. Each
 * cycle locks a batch with FOR UPDATE SKIP LOCKED (several instances share the work), sends
 * it with the idempotent producer, and deletes the rows only after the broker acknowledged
 * them, in the same transaction that holds their locks. A row whose key has an earlier row
 * locked by another relay waits, so one user's events stay in order across relays. When the
 * outbox is drained (no row older than two heartbeat intervals, 2 s at least, is left
 * anywhere), the relay sends a heartbeat to every partition: a heartbeat therefore also
 * means "every revocation committed before it, give or take that bound, is published".
 */
export class OutboxRelay {
  readonly #o: OutboxRelayOptions;
  #state: RelayState = 'starting';
  #stopped = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #woken = false;
  #producer: EventProducer | undefined;
  #partitions = 0;
  #listener: pg.Client | undefined;
  #listenRetry: NodeJS.Timeout | undefined;
  #listenBackoffMs = 0;
  #lastHeartbeatAt = 0;
  #lastError: string | null = null;
  #lastAckAt: number | null = null;
  #published = 0;
  #pending: number | null = null;
  #oldestPendingSeconds = 0;
  #sampledAt = Number.NEGATIVE_INFINITY;

  constructor(options: OutboxRelayOptions) {
    this.#o = options;
  }

  /** Starts relaying in the background; never throws (Kafka may be down at start). */
  start(): void {
    if (this.#loop !== undefined) return;
    this.#stopped = false;
    void this.#listen();
    this.#loop = this.#run();
  }

  /** Wakes the relay now (used by NOTIFY; harmless to call any time). */
  wake(): void {
    this.#woken = true;
    this.#wake?.();
  }

  status(): RelayStatus {
    return {
      state: this.#state,
      listening: this.#listener !== undefined,
      lastError: this.#lastError,
      lastAckAt: this.#lastAckAt,
      published: this.#published,
      pending: this.#pending,
    };
  }

  /** Stops the loop, the LISTEN connection and the producer. Rows not yet acknowledged stay in the outbox. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#state = 'stopped';
    clearTimeout(this.#listenRetry);
    this.wake();
    const loop = this.#loop;
    this.#loop = undefined;
    // A produce call against a dead broker can take a while to give up; do not hang shutdown on it.
    if (loop !== undefined) await Promise.race([loop, delay(8000)]);
    this.#state = 'stopped';
    await this.#closeProducer();
    const listener = this.#listener;
    this.#listener = undefined;
    if (listener !== undefined) await listener.end().catch(() => {});
  }

  async #run(): Promise<void> {
    let backoffMs = 0;
    while (!this.#stopped) {
      let more = false;
      try {
        await this.#connectKafka();
        const sent = await this.drainOnce();
        more = sent >= this.#o.batchSize;
        if (!more && this.#o.now() - this.#lastHeartbeatAt >= this.#o.heartbeatIntervalMs) {
          // A heartbeat claims "nothing older is pending". Rows another instance holds (or
          // cannot deliver) make that false, so stay silent while any row is overdue.
          if (this.#o.now() - this.#sampledAt > PENDING_SAMPLE_INTERVAL_MS) await this.#withClient((client) => this.#samplePending(client));
          if (this.#oldestPendingSeconds * 1000 <= Math.max(2 * this.#o.heartbeatIntervalMs, 2000)) await this.#sendHeartbeats();
        }
        if (this.#stopped) break;
        this.#state = 'running';
        this.#lastError = null;
        this.#o.metrics?.relayKafkaUp.set(1);
        backoffMs = 0;
      } catch (error) {
        if (this.#stopped) break;
        const isDb = isDatabaseError(error);
        this.#state = isDb ? 'database_unavailable' : 'kafka_unavailable';
        this.#lastError = describe(error);
        this.#o.metrics?.outboxSendErrors.inc();
        if (!isDb) {
          this.#o.metrics?.relayKafkaUp.set(0);
          // A producer that failed may be wedged; a fresh one reconnects cleanly. The topic is
          // checked again too, in case it was deleted meanwhile.
          await this.#closeProducer();
          this.#partitions = 0;
          // Keep /readyz and /metrics honest about the backlog while Kafka is away.
          await this.#withClient((client) => this.#samplePending(client)).catch(() => {});
        }
        backoffMs = Math.min(Math.max(backoffMs * 2, 200), MAX_BACKOFF_MS);
        this.#o.log.warn({ err: this.#lastError, state: this.#state, retryInMs: backoffMs }, 'outbox relay cycle failed');
      }
      if (more || this.#stopped) continue;
      const untilHeartbeat = Math.max(0, this.#lastHeartbeatAt + this.#o.heartbeatIntervalMs - this.#o.now());
      await this.#sleep(backoffMs > 0 ? backoffMs : Math.min(this.#o.pollIntervalMs, untilHeartbeat));
    }
  }

  /**
   * One relay cycle: lock, produce, delete, commit. Returns how many rows it published.
   * Exposed for tests; the background loop calls it.
   */
  async drainOnce(): Promise<number> {
    await this.#connectKafka();
    const producer = this.#producer;
    if (producer === undefined) return 0;
    const client = await this.#o.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ id: string; event_key: string; payload: unknown }>(
        `WITH locked AS (
           SELECT id, event_key, payload FROM outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
         )
         SELECT l.id, l.event_key, l.payload FROM locked l
          WHERE NOT EXISTS (
            SELECT 1 FROM outbox o
             WHERE o.event_key = l.event_key AND o.id < l.id AND o.id NOT IN (SELECT id FROM locked)
          )
          ORDER BY l.id`,
        [this.#o.batchSize],
      );
      const records: OutgoingRecord[] = [];
      const published: Array<{ id: string; type: string; at: number }> = [];
      const done: string[] = [];
      for (const row of rows) {
        const checked = validateEvent(row.payload);
        if (!checked.ok) {
          // Consumers would skip it anyway; keeping it would block the key forever.
          this.#o.log.error({ outboxId: row.id, code: checked.code, detail: checked.detail }, 'dropping invalid outbox row');
          this.#o.metrics?.outboxInvalid.inc();
          done.push(row.id);
          continue;
        }
        records.push({ key: row.event_key, value: encodeEvent(checked.event) });
        published.push({ id: checked.event.id, type: checked.event.type, at: checked.event.at });
        done.push(row.id);
      }
      if (records.length > 0) {
        await producer.send(this.#o.topicSpec.topic, records);
        const ackedAt = this.#o.now();
        for (const p of published) this.#o.metrics?.outboxPublishLatency.observe({ type: p.type }, Math.max(0, ackedAt - p.at) / 1000);
        this.#o.onPublished?.(published);
      }
      if (done.length > 0) await client.query('DELETE FROM outbox WHERE id = ANY($1::bigint[])', [done]);
      await client.query('COMMIT');
      if (records.length > 0) {
        this.#published += records.length;
        this.#lastAckAt = this.#o.now();
        this.#o.metrics?.outboxPublished.inc(records.length);
      }
      // The backlog count is for /readyz, /metrics and the heartbeat rule, not for delivery:
      // sampled at most once a PENDING_SAMPLE_INTERVAL_MS, and before any heartbeat.
      if (this.#o.now() - this.#sampledAt > PENDING_SAMPLE_INTERVAL_MS) await this.#samplePending(client);
      return done.length;
    } catch (error) {
      await client.query('ROLLBACK').catch((e: unknown) => {
        broken = e instanceof Error ? e : new Error(String(e));
      });
      throw error;
    } finally {
      // The pool keeps an error listener on the client while we hold it (db.ts): a connection
      // terminated mid-drain fails this cycle instead of the process.
      client.release(broken ?? connectionError(client));
    }
  }

  async #withClient<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#o.pool.connect();
    let broken: Error | undefined;
    try {
      return await work(client);
    } catch (error) {
      broken = connectionError(client);
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async #samplePending(client: PoolClient): Promise<void> {
    // Age on the database clock: created_at comes from it too.
    const { rows } = await client.query<{ n: string; oldest_age: number | null }>(
      'SELECT count(*) AS n, EXTRACT(EPOCH FROM clock_timestamp() - min(created_at))::float8 AS oldest_age FROM outbox',
    );
    const row = rows[0];
    this.#pending = row === undefined ? null : Number(row.n);
    this.#oldestPendingSeconds = Math.max(0, row?.oldest_age ?? 0);
    this.#o.metrics?.outboxPending.set(this.#pending ?? 0);
    this.#o.metrics?.outboxOldestAgeSeconds.set(this.#oldestPendingSeconds);
    this.#sampledAt = this.#o.now();
  }

  async #sendHeartbeats(): Promise<void> {
    const producer = this.#producer;
    if (producer === undefined || this.#partitions === 0) return;
    const signer = await this.#o.heartbeatSigner?.();
    const at = this.#o.now();
    const topic = this.#o.topicSpec.topic;
    const records: OutgoingRecord[] = [];
    for (let partition = 0; partition < this.#partitions; partition++) {
      const input = { id: randomUUID(), at, source: this.#o.instanceId };
      records.push({
        key: null,
        partition,
        value: encodeEvent(signer === undefined ? { v: 1, type: 'heartbeat', ...input } : signHeartbeat(input, { topic, partition }, signer)),
      });
    }
    await producer.send(this.#o.topicSpec.topic, records);
    this.#lastHeartbeatAt = at;
    this.#lastAckAt = this.#o.now();
    this.#o.metrics?.heartbeatsSent.inc(records.length);
  }

  async #connectKafka(): Promise<void> {
    if (this.#producer !== undefined && this.#partitions > 0) return;
    if (this.#partitions === 0) {
      const admin = await this.#o.transport.admin();
      try {
        await admin.ensureTopic(this.#o.topicSpec);
        this.#partitions = await admin.partitionCount(this.#o.topicSpec.topic);
      } finally {
        await admin.close().catch(() => {});
      }
      this.#o.log.info({ topic: this.#o.topicSpec.topic, partitions: this.#partitions }, 'revocation topic ready');
    }
    this.#producer ??= await this.#o.transport.producer();
    // stop() may have run while we were connecting: do not leave a connected producer behind.
    if (this.#stopped) await this.#closeProducer();
  }

  async #closeProducer(): Promise<void> {
    const producer = this.#producer;
    this.#producer = undefined;
    if (producer !== undefined) await producer.close().catch(() => {});
  }

  async #listen(): Promise<void> {
    if (this.#stopped) return;
    const client = new pg.Client({ connectionString: this.#o.databaseUrl, application_name: 'revocable-auth-relay' });
    let retried = false;
    const retry = () => {
      // 'error' and 'end' both fire on a broken connection: reconnect once.
      if (retried) return;
      retried = true;
      if (this.#listener === client) this.#listener = undefined;
      client.end().catch(() => {});
      if (this.#stopped) return;
      clearTimeout(this.#listenRetry);
      // Polling keeps the relay working meanwhile.
      this.#listenBackoffMs = Math.min(Math.max(this.#listenBackoffMs * 2, 1000), 30_000);
      this.#listenRetry = setTimeout(() => void this.#listen(), this.#listenBackoffMs);
    };
    client.on('error', (error) => {
      this.#o.log.warn({ err: describe(error) }, 'outbox LISTEN connection lost; polling until it is back');
      retry();
    });
    client.on('notification', () => this.wake());
    try {
      await client.connect();
      await client.query('LISTEN auth_outbox');
      if (this.#stopped) {
        await client.end();
        return;
      }
      this.#listener = client;
      this.#listenBackoffMs = 0;
      client.on('end', () => {
        if (!this.#stopped) retry();
      });
      // Rows committed while we were not listening.
      this.wake();
    } catch (error) {
      this.#o.log.warn({ err: describe(error) }, 'outbox LISTEN failed; polling until it works');
      retry();
    }
  }

  #sleep(ms: number): Promise<void> {
    if (this.#woken) {
      this.#woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.#wake = undefined;
        self.#woken = false;
        resolve();
      }
      this.#wake = done;
    });
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function isDatabaseError(error: unknown): boolean {
  // The transport seam wraps every Kafka failure into a TransportError, whatever the client
  // library; anything else in a relay cycle comes from PostgreSQL.
  return !isTransportError(error);
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? `${code}: ${error.message}` : error.message;
}
