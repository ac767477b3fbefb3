import { startKafkaBroker, type KafkaBroker } from '@revocable/infra';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { SUITE_KAFKA_CREDENTIALS_ENV } from './suite-kafka.ts';

/**
 * Resolves the infrastructure every integration test uses, once per run:
 *  1. `KAFKA_BROKERS` / `DATABASE_URL` when given;
 *  2. otherwise, when a Docker engine answers, Kafka and PostgreSQL through testcontainers;
 *  3. otherwise a real Kafka broker from the Maven jars (infra/), secured like `up`'s, and the local PostgreSQL.
 * Workers read the resolved values from process.env.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const teardown: Array<() => Promise<unknown>> = [];
  const docker = process.env['KAFKA_BROKERS'] && process.env['DATABASE_URL'] ? false : await dockerAnswers();

  if (!process.env['KAFKA_BROKERS']) {
    if (docker) {
      const { KafkaContainer } = await import('@testcontainers/kafka');
      const kafka = await new KafkaContainer('confluentinc/cp-kafka:7.9.0').withKraft().start();
      teardown.push(() => kafka.stop());
      process.env['KAFKA_BROKERS'] = `${kafka.getHost()}:${kafka.getMappedPort(9093)}`;
    } else {
      // Secured as `up` runs it: SASL/SCRAM-SHA-512, StandardAuthorizer ACLs, nothing anonymous.
      const broker: KafkaBroker = await startKafkaBroker({ sasl: true, log: (line) => console.log(`[infra] ${line}`) });
      teardown.push(() => broker.destroy());
      process.env['KAFKA_BROKERS'] = broker.brokers.join(',');
      process.env[SUITE_KAFKA_CREDENTIALS_ENV] = JSON.stringify(broker.credentials);
      // Fault tests start their own brokers; they reuse the jars this one fetched.
    }
  }

  if (!process.env['DATABASE_URL']) {
    if (docker) {
      const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
      const postgres = await new PostgreSqlContainer('postgres:16-alpine').start();
      teardown.push(() => postgres.stop());
      process.env['DATABASE_URL'] = postgres.getConnectionUri();
    } else {
      process.env['DATABASE_URL'] = 'postgres://postgres@127.0.0.1:5432/postgres';
    }
  }
  await assertPostgres(process.env['DATABASE_URL']);

  project.provide('kafkaBrokers', process.env['KAFKA_BROKERS']);
  project.provide('kafkaCredentials', process.env[SUITE_KAFKA_CREDENTIALS_ENV] ?? '');
  project.provide('databaseUrl', process.env['DATABASE_URL']);
  console.log(`[infra] KAFKA_BROKERS=${process.env['KAFKA_BROKERS']} DATABASE_URL=${redact(process.env['DATABASE_URL'])}`);

  return async () => {
    for (const step of teardown.reverse()) await step();
  };
}

async function dockerAnswers(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

async function assertPostgres(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query('select 1');
  } catch (error) {
    throw new Error(
      `PostgreSQL at ${redact(url)} does not answer (${(error as Error).message}). Start it ` +
        `(e.g. pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) or set DATABASE_URL.`,
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string;
    /** JSON of the secured broker's BusCredentials, or '' when the broker is not secured. */
    kafkaCredentials: string;
    databaseUrl: string;
  }
}
