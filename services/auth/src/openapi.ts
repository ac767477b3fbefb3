import { takesInput, withErrorResponses } from '@revocable/kit';
import { WaitReportSchema } from './plugins/propagation-wait.ts';

type Schema = Record<string, unknown>;

const object = (properties: Schema, required: readonly string[] = Object.keys(properties)): Schema => ({ type: 'object', required: [...required], properties });
const str = (description?: string): Schema => ({ type: 'string', ...(description !== undefined ? { description } : {}) });
const nullable = (schema: Schema): Schema => ({ ...schema, type: [schema['type'], 'null'] });
const noContent = (description: string): Schema => ({ type: 'null', description });

/** `{ propagation }`: the 200 of a route that answers 204 unless a `Prefer: wait=N` was honoured. */
const waited = (what: string): Schema => ({
  ...object({ propagation: WaitReportSchema as unknown as Schema }),
  description: `${what}; answered under Prefer: wait=N (RFC 7240) once every live instance confirmed or N seconds passed, with Preference-Applied`,
});
const propagation = { propagation: WaitReportSchema as unknown as Schema };

const JWK = {
  type: 'object',
  required: ['kty', 'kid'],
  properties: {
    kty: str(),
    kid: str('token keys: RFC 7638 thumbprint; event-signing keys: `evt.` + thumbprint'),
    alg: str(),
    use: str(),
    crv: str(),
    x: str(),
    y: str(),
    key_ops: { type: 'array', items: str() },
    revocable_use: str('`event` on the event-signing keys that sign heartbeats (never valid for an access token); absent on token keys'),
  },
};

/**
 * Success answers of the routes that send them without a response schema (their bodies are
 * built by hand, or empty). Documentation only: the document gets them, the serializers do
 * not change. The OpenAPI test checks real answers against them.
 */
const SUCCESS: Record<string, Schema> = {
  'GET /healthz': { 200: { ...object({ status: { type: 'string', enum: ['ok'] } }), description: 'The process is alive' } },
  'GET /readyz': {
    200: { ...object({ status: { type: 'string', enum: ['ready'] }, database: str(), migrations: str(), relay: { type: 'object' } }), description: 'PostgreSQL reachable and migrated (the relay state is reported, never blocking)' },
    503: { ...object({ status: { type: 'string', enum: ['not_ready'] }, database: str(), migrations: str(), relay: { type: 'object' } }), description: 'PostgreSQL unreachable or migrations pending' },
  },
  'GET /metrics': { 200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } } },
  'GET /.well-known/jwks.json': { 200: { ...object({ keys: { type: 'array', items: JWK } }), description: 'RFC 7517 JWK set: active, next and still-valid retired token keys, then the event-signing keys' } },
  'GET /.well-known/oauth-authorization-server': {
    200: { ...object({ issuer: str(), token_endpoint: str(), jwks_uri: str() }), additionalProperties: true, description: 'RFC 8414 metadata' },
  },
  'POST /v1/logout': { 200: waited('Session revoked'), 204: noContent('Session revoked; the refresh cookie is cleared') },
  'POST /v1/logout-all': { 200: waited('Every session revoked'), 204: noContent('Every session revoked; the refresh cookie is cleared') },
  'DELETE /v1/sessions/:sid': { 200: waited('Session revoked'), 204: noContent('Session revoked') },
  'POST /oauth/revoke': {
    200: {
      type: 'object',
      additionalProperties: false,
      properties: propagation,
      description: 'Always `{}` (RFC 7009 §2.2), whether or not the token was known; `{ propagation }` under Prefer: wait=N',
    },
  },
  'POST /oauth/introspect': {
    200: {
      type: 'object',
      required: ['active'],
      additionalProperties: true,
      description: 'RFC 7662: `{active: false}` or the token claims',
      properties: { active: { type: 'boolean' }, sub: str(), aud: {}, exp: { type: 'integer' }, scope: str(), client_id: str() },
    },
  },
  'POST /v1/admin/users/:id/revoke': {
    200: { ...object({ user_id: str(), min_ver: { type: 'integer' }, ...propagation }, ['user_id', 'min_ver']), description: 'user.revoked written; tokens with a lower ver are dead; `propagation` under Prefer: wait=N' },
  },
  'POST /v1/admin/keys/rotate': { 200: { ...object({ kid: str(), previous_kid: nullable(str()), next_kid: str() }), description: 'The next key signs from now on; a new next key is published' } },
  'POST /v1/admin/keys/:kid/revoke': {
    200: {
      type: 'object',
      description: 'key.revoked written; everything the key signed is refused; `propagation` under Prefer: wait=N',
      required: ['kid', 'revoked'],
      properties: { kid: str(), revoked: { type: 'boolean' }, until: {}, replaced_by: {}, next_kid: {}, ...propagation },
    },
  },
  'GET /v1/admin/keys': { 200: { ...object({ keys: { type: 'array', items: { type: 'object', required: ['kid'], properties: { kid: str() } } } }), description: 'Every signing key with its status and dates' } },
};

interface RouteLike {
  method: string | string[];
  url: string;
  config?: unknown;
}

/**
 * The `transform` of the auth service's @fastify/swagger: documents the success answers of
 * routes without a response schema ({@link SUCCESS}) and the errors every route can answer —
 * 400/413/415 on input, 401 (and 403) with credentials, 404 for an unknown path parameter, 429 under the rate limits, 500, and
 * 503 while PostgreSQL is unreachable.
 */
export function documentAuthRoute({ schema, url, route }: { schema: unknown; url: string; route: RouteLike }): { schema: Schema; url: string } {
  const own = (schema ?? {}) as Schema;
  const method = Array.isArray(route.method) ? (route.method[0] ?? 'GET') : route.method;
  const success = SUCCESS[`${method} ${url}`];
  const withSuccess = success !== undefined && own['response'] === undefined ? { ...own, response: success } : own;
  const limited = (route.config as { rateLimit?: unknown } | undefined)?.rateLimit !== false;
  const secured = Array.isArray(own['security']) && own['security'].length > 0;
  const adminOrCookie = secured && JSON.stringify(own['security']).match(/"(admin|refreshCookie)"/) !== null;
  const statuses = [
    ...(takesInput(own) ? [400] : []),
    ...(secured ? [401] : []),
    ...(own['params'] !== undefined ? [404] : []),
    ...(adminOrCookie ? [403] : []),
    ...(own['body'] !== undefined ? [413, 415] : []),
    ...(limited ? [429] : []),
    500,
    503,
  ];
  return { url, schema: withErrorResponses(withSuccess, statuses) };
}
