/**
 * @revocable/client: the browser / Node.js SDK for Revocable. No dependencies: it uses the
 * platform `fetch`.
 */
export {
  CSRF_HEADER,
  DEFAULT_PROPAGATION_WAIT_SECONDS,
  RevocableClient,
  createClient,
  type LoginInput,
  type PropagationInstance,
  type PropagationOptions,
  type PropagationReport,
  type RevocableClientOptions,
  type SessionEndReason,
  type SessionEndedEvent,
  type SessionInfo,
  type SessionSnapshot,
  type TokenChange,
} from './client.ts';
export {
  AuthRequestError,
  AuthServerError,
  InvalidCredentialsError,
  NetworkError,
  NotAuthenticatedError,
  ProtocolError,
  RateLimitedError,
  RefreshTokenReuseError,
  RevocableClientError,
  SessionRevokedError,
  TimeoutError,
  type ClientErrorCode,
  type ServerErrorDetails,
} from './errors.ts';
export type { RefreshRefusalReason } from './http.ts';
export { decodeJwtPayload, type UnverifiedClaims } from './jwt.ts';
export { memoryStore, type RefreshTokenStorage, type RefreshTokenStore } from './storage.ts';
