export { buildApp, type AuthDeps } from './app.ts';
export { ConfigError, loadConfig, type AuthConfig, type IntrospectionClient } from './config.ts';
export { AUTH_ERRORS, AuthError, type AuthErrorCode, type RefreshRefusalReason } from './errors.ts';
export { runMigrations } from './migrate.ts';
export { CSRF_HEADER, REFRESH_COOKIE_PATHS } from './plugins/context.ts';
export { internalListenerAddress } from './plugins/internal-listener.ts';
export type { RelayState, RelayStatus } from './relay.ts';
export type { SessionInfo, TokenPair } from './services/sessions.ts';
