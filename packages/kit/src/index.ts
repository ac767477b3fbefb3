export {
  ConfigError,
  configErrorOf,
  intFromEnv,
  loadServerConfig,
  loadVerifierConfig,
  transportFromConfig,
  verifierOptionsFromConfig,
  type Env,
  type ServerConfig,
  type VerifierConfig,
} from './config.ts';
export { kafkaSecurityFromEnv, type KafkaSecurity } from './kafka-security.ts';
export { callerSubject, createProtectedApp, createResourceApp, runService, type ErrorMapper, type ResourceAppOptions, type RunServiceOptions, type StartRetry } from './service.ts';
export {
  MAX_REQUEST_ID_LENGTH,
  PROBE_PATHS,
  redactUrl,
  REQUEST_ID_HEADER,
  requestIdFromHeader,
  serviceLogOptions,
  useRequestLog,
  type ServiceLogOptions,
} from './logging.ts';
export { HTTP_DURATION_BUCKETS, HttpDurationHistogram, registerBuildInfo, type BuildInfo } from '@revocable/fastify';
export { packageVersion } from './build-info.ts';
export { ERROR_BODY_SCHEMA, ERROR_STATUS_DESCRIPTIONS, takesInput, withErrorResponses } from './openapi.ts';
