export { buildApp, ENVOY_PREFIX, FORWARDED_PATH, NGINX_PATH, type GateOverrides } from './app.ts';
export { loadConfig, type GateConfig } from './config.ts';
export { normalisePath, DEFAULT_MAX_URI_BYTES, type NormalisedPath, type PathRejectReason } from './path.ts';
export { matchRoute, parseRoutesFile, RoutesFileError, type GateRoute, type IdentityHeaders, type RoutesFile } from './routes.ts';
