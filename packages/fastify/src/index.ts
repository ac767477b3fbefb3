export {
  revocable,
  authFailureResponse,
  sendAuthFailure,
  type AuthDecision,
  type AuthFailure,
  type FreshnessPolicy,
  type FreshnessRequirement,
  type RevocableHandle,
  type RevocableOptions,
  type RouteAuthOptions,
} from './plugin.ts';
export { TokenVerifier, RevokedTokenError, type AuthContext, type DenylistLookup, type TokenVerifierOptions } from './verifier.ts';
export { introspectToken, IntrospectionError, type IntrospectionOptions, type IntrospectionResult } from './introspection.ts';
export { createVerifierMetrics, type MetricSources, type RequestOutcome, type VerifierMetrics } from './metrics.ts';
export { ConfigError, intFromEnv, loadServerConfig, loadVerifierConfig, verifierOptionsFromConfig, type ServerConfig, type VerifierConfig } from './config.ts';
export { createResourceApp, runService, type ErrorMapper, type ResourceAppOptions, type RunServiceOptions } from './service.ts';
export { resourceCors, type ResourceCorsOptions } from './cors.ts';
