/**
 * Every failure of the infrastructure code is an {@link InfraError} with a stable `code`
 * and a one-line `message` that names what is wrong and how to fix it.
 */
import { CodedError } from '@revocable/protocol';

export type InfraErrorCode =
  /** `java` is not on PATH (needed for the Kafka broker). */
  | 'ERR_JAVA_MISSING'
  /** `mvn` is not on PATH (needed once, to fetch the Kafka jars). */
  | 'ERR_MAVEN_MISSING'
  /** Maven ran but could not fetch the jars. */
  | 'ERR_MAVEN_FAILED'
  /** PostgreSQL does not answer at the configured URL. */
  | 'ERR_POSTGRES_UNAVAILABLE'
  /** A port the cluster needs is held by a process that is not this cluster's. */
  | 'ERR_PORT_IN_USE'
  /** The broker exited or never answered during start. */
  | 'ERR_BROKER_START_FAILED'
  /** A service exited or never became ready during start. */
  | 'ERR_SERVICE_START_FAILED'
  /** Something did not answer within its deadline. */
  | 'ERR_PORT_TIMEOUT'
  /** A setting of `./infra/revocable` itself is invalid. */
  | 'ERR_INFRA_CONFIG'
  /** `up` was interrupted (Ctrl-C / SIGTERM). */
  | 'ERR_INTERRUPTED';

/** A failure of the orchestrator; `message` is one line meant for the user. */
export class InfraError extends CodedError<InfraErrorCode> {}
