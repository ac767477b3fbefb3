/**
 * The Kafka bus of the benchmarks: the same secured broker as `./infra/revocable up`, the test
 * suite and compose (SASL/SCRAM-SHA-512, StandardAuthorizer ACLs, nothing anonymous), so a
 * bench measures what production runs. One helper for every bench that needs Kafka:
 *
 *  - a private broker from the Maven jars (infra/) with fresh SCRAM users, or, when
 *    `KAFKA_BROKERS` is set (and the bench allows it), that broker with the users in
 *    `REVOCABLE_TEST_KAFKA_CREDENTIALS` (the test suite's variable: JSON of `BusCredentials`,
 *    one user per principal admin/auth/orders/profile/gate; for up's broker
 *    `jq -c .KAFKA_CREDENTIALS infra/.run/secrets.json`). A given broker without that
 *    variable is taken as plaintext without ACLs, and the services then warn about it;
 *  - the bench's own tools (topic creation, fillers, bare readers) authenticate as `admin`,
 *    the super user;
 *  - the services and verifiers a bench starts run as their own principal (`auth`, `orders`,
 *    `gate`, ...) after {@link BenchBus.grant} created the topic's ACLs, as `up` and the
 *    test cluster (test/support/cluster.ts) do.
 *
 * @example
 * const bus = await benchBroker();
 * try {
 *   await bus.grant(topic);
 *   const admin = await bus.transport('bench-fill').admin();        // as admin
 *   const gate = await startGate(port, { ...bus.env('gate'), ... }); // as gate, with ACLs
 * } finally {
 *   await bus.stop();
 * }
 */
import { createTransport, type EventTransport, type KafkaSaslOptions, type TransportOptions } from '@revocable/events';
import { busClientEnv, busSasl, grantBusAcls, startKafkaBroker, type BusCredentials, type BusPrincipal, type KafkaBroker } from '@revocable/infra';
import { suiteKafkaCredentials } from '../support/suite-kafka.ts';

/** Options of {@link benchBroker}. */
export interface BenchBrokerOptions {
  /** Use `KAFKA_BROKERS` when set (default true); false always starts a private broker (a bench that kills it). */
  allowGiven?: boolean;
  /** JVM heap of a private broker. Default the launcher's (512m). */
  heap?: string;
  /** How long a private broker may take to listen, in milliseconds. Default the launcher's. */
  startTimeoutMs?: number;
}

/** The bus a bench runs on, from {@link benchBroker}. */
export interface BenchBus {
  /** Bootstrap servers (`host:port`). */
  readonly brokers: string[];
  /** The SCRAM users (admin is the super user), or null on a given plaintext broker. */
  readonly credentials: BusCredentials | null;
  /** The private broker (kill/start for restarts), or null when `KAFKA_BROKERS` was given. */
  readonly broker: KafkaBroker | null;
  /** `sasl` connection option of `principal` (undefined on a plaintext broker). Default `admin`. */
  sasl(principal?: BusPrincipal): KafkaSaslOptions | undefined;
  /** A transport as `principal` (default `admin`, the bench's own tools); `options` go over it. */
  transport(clientId: string, principal?: BusPrincipal, options?: Partial<TransportOptions>): EventTransport;
  /** A service's environment as `principal`: `KAFKA_BROKERS` and, when secured, `KAFKA_SASL_MECHANISM`/`KAFKA_USERNAME`/`KAFKA_PASSWORD`. */
  env(principal: BusPrincipal): Record<string, string>;
  /** Grants the ACLs of a revocation topic (and `<topic>.receipts`) to the principals, as `up` does. No-op on a plaintext broker. */
  grant(topic: string): Promise<void>;
  /** Stops and deletes the private broker; leaves a given one alone. */
  stop(): Promise<void>;
}

/**
 * The bus of one bench run (see the module comment): `KAFKA_BROKERS` (+ its credentials) when
 * given and allowed, else a private secured broker with fresh SCRAM users.
 */
export async function benchBroker(options: BenchBrokerOptions = {}): Promise<BenchBus> {
  const given = options.allowGiven === false ? undefined : process.env['KAFKA_BROKERS'] || undefined;
  const broker = given
    ? null
    : await startKafkaBroker({ sasl: true, ...(options.heap ? { heap: options.heap } : {}), ...(options.startTimeoutMs ? { startTimeoutMs: options.startTimeoutMs } : {}) });
  const brokers = given ? given.split(',') : broker!.brokers;
  const credentials = given ? suiteKafkaCredentials() : broker!.credentials;
  const sasl = (principal: BusPrincipal = 'admin') => (credentials ? busSasl(credentials, principal) : undefined);
  return {
    brokers,
    credentials,
    broker,
    sasl,
    transport(clientId, principal = 'admin', extra = {}) {
      const auth = sasl(principal);
      return createTransport({ brokers, clientId, ...(auth ? { sasl: auth } : {}), ...extra });
    },
    env(principal) {
      return { KAFKA_BROKERS: brokers.join(','), ...(credentials ? busClientEnv(credentials, principal) : {}) };
    },
    async grant(topic) {
      if (credentials) await grantBusAcls(brokers, credentials, topic);
    },
    async stop() {
      await broker?.destroy();
    },
  };
}
