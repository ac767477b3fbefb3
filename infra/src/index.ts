/**
 * @revocable/infra — the one orchestrator of Revocable's processes, used by
 * `./infra/revocable up`, the tests (test/support/cluster.ts) and the benchmarks:
 *  - {@link planServices}: the services' environments (the plan),
 *  - {@link ServiceProcess}: one service process, ready only when *its* pid serves `/readyz`,
 *  - {@link startKafkaBroker} / {@link launchBroker}: the one Kafka broker launcher (Maven jars, KRaft),
 *  - {@link portHolder}, {@link freePort}, {@link waitForPort}: ports and who holds them.
 */
export { InfraError, type InfraErrorCode } from './errors.ts';
export {
  ensureKafkaJars,
  KAFKA_LIBS_DIR,
  kafkaJarsCached,
  launchBroker,
  REPO_ROOT,
  startKafkaBroker,
  writeBrokerConfig,
  type BrokerSettings,
  type ExtraListener,
  type KafkaBroker,
  type KafkaBrokerOptions,
  type LaunchOptions,
} from './kafka-broker.ts';
export {
  assertBusCredentials,
  BROADCAST_GROUP_PREFIX,
  BUS_PRINCIPALS,
  busAcls,
  busClientEnv,
  busSasl,
  generateBusCredentials,
  grantBusAcls,
  RESOURCE_PRINCIPALS,
  type BusCredentials,
  type BusPrincipal,
  type BusUser,
  type BusAcl,
} from './kafka-security.ts';
export { generateSecrets, planServices, SERVICE_NAMES, type ClusterSecrets, type ServiceName, type ServicePlan, type ServicesInput } from './plan.ts';
export { describeHolder, freePort, listensOn, portHolder, waitForPort, type PortHolder } from './ports.ts';
export { requireJava, requireMaven } from './prerequisites.ts';
export { ServiceProcess, type DetailedInfraError, type ServiceProcessOptions } from './service-process.ts';
export { COMPOSE_ENV_FILE, COMPOSE_SECRETS, composeScramPasswordVariable, readComposeEnv, writeComposeEnv } from './compose-env.ts';
export type { DemoSummary, Rejection } from './demo.ts';
