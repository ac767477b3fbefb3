/**
 * Private brokers for fault tests (stop, kill, restart) so the shared broker other suites
 * use is never disturbed. Real Apache Kafka from the Maven jars; see infra/src/kafka-broker.ts.
 */
export { startKafkaBroker, type KafkaBroker } from '@revocable/infra';
