export {
  ConfigError,
  intFromEnv,
  loadServerConfig,
  loadVerifierConfig,
  transportFromConfig,
  verifierOptionsFromConfig,
  type Env,
  type ServerConfig,
  type VerifierConfig,
} from './config.ts';
export { createResourceApp, runService, type ErrorMapper, type ResourceAppOptions, type RunServiceOptions, type StartRetry } from './service.ts';
