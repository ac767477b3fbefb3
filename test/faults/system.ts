import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rangePort } from './ports.ts';
import { Kafka, logLevel } from 'kafkajs';
import { busClientEnv, grantBusAcls } from '@revocable/infra';
import { createDatabase } from '../support/database.ts';
import { FaultBroker } from './broker.ts';
import { ServiceProcess } from './process.ts';
import { TcpProxy } from './proxy.ts';

/** Freshness bound of every verifier route that has one, in seconds (FRESHNESS_MAX_SECONDS). */
export const FRESHNESS_MAX_SECONDS = 2;

/** A verifier instance: the process, its proxy to the broker, what it serves. */
export interface Verifier {
  proc: ServiceProcess;
  proxy: TcpProxy;
  audience: 'orders' | 'profile';
}

/**
 * The system under test, every part a real process or socket: a private Kafka broker, a
 * fresh PostgreSQL database, two auth instances sharing it (behind a failover TCP balancer
 * the verifiers use for JWKS and introspection), and three verifiers (orders-1, orders-2,
 * profile-1), each reaching the broker through its own cuttable proxy.
 */
export class FaultSystem {
  readonly broker: FaultBroker;
  readonly database: { url: string; name: string; drop: () => Promise<void> };
  readonly adminDatabaseUrl: string;
  readonly auth: ServiceProcess[];
  readonly authBalancer: TcpProxy;
  readonly verifiers: Verifier[];
  readonly topic: string;
  readonly adminToken: string;
  readonly log: (line: string) => void;
  /** Every process's full log (request lines left out), kept after a failed run. */
  readonly logDir: string;

  private constructor(parts: {
    logDir: string;
    broker: FaultBroker;
    database: { url: string; name: string; drop: () => Promise<void> };
    adminDatabaseUrl: string;
    auth: ServiceProcess[];
    authBalancer: TcpProxy;
    verifiers: Verifier[];
    topic: string;
    adminToken: string;
    log: (line: string) => void;
  }) {
    this.broker = parts.broker;
    this.database = parts.database;
    this.adminDatabaseUrl = parts.adminDatabaseUrl;
    this.auth = parts.auth;
    this.authBalancer = parts.authBalancer;
    this.verifiers = parts.verifiers;
    this.topic = parts.topic;
    this.adminToken = parts.adminToken;
    this.log = parts.log;
    this.logDir = parts.logDir;
  }

  static async start(options: { adminDatabaseUrl: string; log: (line: string) => void }): Promise<FaultSystem> {
    const { log } = options;
    const logDir = mkdtempSync(join(tmpdir(), 'revocable-faults-logs-'));
    const names = [
      { name: 'orders-1', audience: 'orders' as const },
      { name: 'orders-2', audience: 'orders' as const },
      { name: 'profile-1', audience: 'profile' as const },
    ];
    // Proxies first: the broker advertises their ports.
    const proxyPorts: number[] = [];
    for (let i = 0; i < names.length; i++) proxyPorts.push(await rangePort());
    const broker = await FaultBroker.create(names.map((_, i) => ({ name: `V${i}`, advertisedPort: proxyPorts[i] as number })));
    const proxies = broker.listeners.map((l) => new TcpProxy([{ host: '127.0.0.1', port: l.port }]));
    for (const [i, proxy] of proxies.entries()) await proxy.listen(proxyPorts[i]);

    const database = await createDatabase(options.adminDatabaseUrl, 'revocable_faults');
    const dbName = new URL(database.url).pathname.slice(1);
    const cleanups: Array<() => Promise<unknown>> = [() => database.drop(), () => broker.destroy(), ...proxies.map((p) => () => p.close())];
    try {
      log(`starting a private Kafka broker on ${broker.bootstrap}`);
      await broker.start();
      const topic = `revocable.faults.${randomUUID()}`;
      await grantBusAcls([broker.bootstrap], broker.credentials, topic);
      const adminToken = randomBytes(24).toString('base64url');
      const secrets = { orders: randomBytes(32).toString('base64url'), profile: randomBytes(32).toString('base64url') };
      const authPorts = [await rangePort(), await rangePort()];
      const authBalancer = new TcpProxy(authPorts.map((port) => ({ host: '127.0.0.1', port })));
      const balancerPort = await authBalancer.listen();
      cleanups.push(() => authBalancer.close());
      const authUrl = `http://127.0.0.1:${balancerPort}`;
      const kek = randomBytes(32).toString('base64');

      const auth = authPorts.map(
        (port, i) =>
          new ServiceProcess(`auth-${i + 1}`, 'auth', port, {
            HOST: '127.0.0.1',
            PORT: String(port),
            LOG_LEVEL: 'info',
            KAFKA_BROKERS: broker.bootstrap,
            ...busClientEnv(broker.credentials, 'auth'),
            REVOCATION_TOPIC: topic,
            DATABASE_URL: database.url,
            AUTH_ISSUER: authUrl,
            AUDIENCES: 'orders,profile',
            KEY_ENCRYPTION_KEY: kek,
            ADMIN_TOKEN: adminToken,
            INTROSPECTION_CLIENTS: `orders:${secrets.orders},profile:${secrets.profile}`,
            INSTANCE_ID: `auth-${i + 1}`,
            KAFKA_CLIENT_ID: `revocable-auth-${i + 1}`,
            COOKIE_SECURE: 'false',
            PASSWORD_SCRYPT_COST: '10',
            LOGIN_RATE_LIMIT_PER_IP: '1000000',
            LOGIN_MAX_FAILURES_PER_ACCOUNT: '1000000',
            RATE_LIMIT_PER_IP: '10000000',
            HEARTBEAT_INTERVAL_MS: '250',
            OUTBOX_POLL_INTERVAL_MS: '250',
            // Reuse is detected at once: the mutator presents a rotated refresh token on purpose.
            REFRESH_REUSE_GRACE_SECONDS: '0',
            MAX_SESSIONS_PER_USER: '1000',
          }, logDir),
      );
      for (const a of auth) cleanups.unshift(() => a.kill('SIGTERM'));
      // One after the other: the first applies the migrations.
      for (const a of auth) {
        log(`starting ${a.name} on ${a.url}`);
        await a.start();
      }

      const verifiers: Verifier[] = [];
      for (const [i, n] of names.entries()) {
        const port = await rangePort();
        const proxy = proxies[i] as TcpProxy;
        const proc = new ServiceProcess(n.name, n.audience, port, {
          HOST: '127.0.0.1',
          PORT: String(port),
          LOG_LEVEL: 'info',
          KAFKA_BROKERS: `127.0.0.1:${proxy.port}`,
          ...busClientEnv(broker.credentials, n.audience),
          KAFKA_CLIENT_ID: `revocable-${n.name}`,
          REVOCATION_TOPIC: topic,
          AUTH_URL: authUrl,
          AUTH_ISSUER: authUrl,
          AUDIENCE: n.audience,
          INTROSPECTION_CLIENT_ID: n.audience,
          INTROSPECTION_CLIENT_SECRET: secrets[n.audience],
          FRESHNESS_MAX_SECONDS: String(FRESHNESS_MAX_SECONDS),
          JWKS_COOLDOWN_MS: '1000',
          MAX_ORDERS_PER_USER: '1000000',
        }, logDir);
        verifiers.push({ proc, proxy, audience: n.audience });
        cleanups.unshift(() => proc.kill('SIGTERM'));
      }
      log(`starting ${verifiers.map((v) => v.proc.name).join(', ')}`);
      await Promise.all(verifiers.map((v) => v.proc.start()));
      return new FaultSystem({ logDir, broker, database: { ...database, name: dbName }, adminDatabaseUrl: options.adminDatabaseUrl, auth, authBalancer, verifiers, topic, adminToken, log });
    } catch (error) {
      for (const cleanup of cleanups) await cleanup().catch(() => undefined);
      throw error;
    }
  }

  /** Every process by instance name. */
  instances(): ServiceProcess[] {
    return [...this.auth, ...this.verifiers.map((v) => v.proc)];
  }

  byName(name: string): ServiceProcess | undefined {
    return this.instances().find((p) => p.name === name);
  }

  /** Waits until the broker answers metadata for the topic (not only TCP), within `timeoutMs`. */
  async waitBrokerAnswers(timeoutMs: number): Promise<void> {
    const kafka = new Kafka({ clientId: 'faults-probe', brokers: [this.broker.bootstrap], sasl: this.broker.adminSasl, logLevel: logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 1000, requestTimeout: 2000 });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const admin = kafka.admin();
      try {
        await admin.connect();
        await admin.fetchTopicOffsets(this.topic);
        return;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`broker did not answer within ${timeoutMs} ms: ${String(error)}\n${this.broker.logTail()}`);
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.verifiers.map((v) => v.proc.kill('SIGTERM')));
    await Promise.all(this.auth.map((a) => a.kill('SIGTERM')));
    for (const v of this.verifiers) await v.proxy.close();
    await this.authBalancer.close();
    await this.broker.destroy();
    await this.database.drop();
  }
}
