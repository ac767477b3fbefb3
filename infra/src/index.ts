export {
  ensureKafkaJars,
  freePort,
  InfraError,
  KAFKA_LIBS_DIR,
  REPO_ROOT,
  startKafkaBroker,
  waitForPort,
  type KafkaBroker,
  type KafkaBrokerOptions,
} from './kafka-broker.ts';
