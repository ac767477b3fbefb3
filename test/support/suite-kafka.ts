import { assertBusCredentials, type BusCredentials } from '@revocable/infra';

/** Where the global setup leaves the secured broker's SCRAM users (JSON) for the workers and helpers. */
export const SUITE_KAFKA_CREDENTIALS_ENV = 'REVOCABLE_TEST_KAFKA_CREDENTIALS';

/**
 * The SCRAM users of the suite's secured broker from {@link SUITE_KAFKA_CREDENTIALS_ENV}, or null
 * when it is unset or empty (a given `KAFKA_BROKERS`, testcontainers, a benchmark's own broker).
 * Free of vitest, so the benchmarks can load the helpers that use it.
 */
export function suiteKafkaCredentials(raw: string | undefined = process.env[SUITE_KAFKA_CREDENTIALS_ENV]): BusCredentials | null {
  if (raw === undefined || raw === '') return null;
  const parsed: unknown = JSON.parse(raw);
  assertBusCredentials(parsed, SUITE_KAFKA_CREDENTIALS_ENV);
  return parsed;
}
