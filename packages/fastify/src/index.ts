export {
  revocable,
  sendAuthFailure,
  type AuthDecision,
  type FreshnessPolicy,
  type FreshnessRequirement,
  type RevocableHandle,
  type RevocableOptions,
  type RouteAuthOptions,
} from './plugin.ts';
export { createVerifierCore, type ReceiptOptions, type VerifierCore, type VerifierCoreOptions } from './core.ts';
export {
  decide,
  type AuthFailure,
  type Decision,
  type FreshnessState,
  type RequestCount,
  type RoutePolicy,
  type TokenState,
} from './decide.ts';
export { authFailureResponse, type AuthFailureResponse } from './response.ts';
export { TokenVerifier, RevokedTokenError, type AuthContext, type DenylistLookup, type TokenCheck, type TokenVerifierOptions } from './verifier.ts';
export { introspectToken, IntrospectionError, type IntrospectionOptions, type IntrospectionResult } from './introspection.ts';
export { createVerifierMetrics, registerBuildInfo, type BuildInfo, type MetricSources, type PerKind, type RequestCell, type RequestOutcome, type RequestTally, type VerifierMetrics } from './metrics.ts';
// The denylist caps are part of the plugin's options (denylistMaxEntries).
export { DEFAULT_DENYLIST_CAPS, type DenylistCaps } from '@revocable/denylist';
export { HttpDurationHistogram, HTTP_DURATION_BUCKETS } from './http-duration.ts';
export { resourceCors, type ResourceCorsOptions } from './cors.ts';
/** The issuer's longest access-token lifetime, seconds: the default `maxLifetimeSeconds` (from @revocable/tokens). */
export { MAX_ACCESS_TTL_SECONDS } from '@revocable/tokens';
