import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { Type, type Static } from '@sinclair/typebox';
import { safeEqual } from '../crypto.ts';
import { AuthError } from '../errors.ts';
import { assertNotCrossSite, refreshCookie, sendTokens, wantsCookieDelivery } from '../plugins/context.ts';
import { ErrorResponse, TokenResponse } from './account.ts';

const Resource = Type.Union([Type.String({ maxLength: 256 }), Type.Array(Type.String({ maxLength: 256 }), { minItems: 1, maxItems: 8 })]);

const TokenBody = Type.Object(
  {
    grant_type: Type.String({ maxLength: 64 }),
    refresh_token: Type.Optional(Type.String({ maxLength: 512 })),
    resource: Type.Optional(Resource),
    audience: Type.Optional(Resource),
    scope: Type.Optional(Type.String({ maxLength: 512 })),
    client_id: Type.Optional(Type.String({ maxLength: 128 })),
  },
  { additionalProperties: false },
);
const RevokeBody = Type.Object(
  {
    token: Type.String({ minLength: 1, maxLength: 8192 }),
    token_type_hint: Type.Optional(Type.String({ maxLength: 64 })),
    client_id: Type.Optional(Type.String({ maxLength: 128 })),
  },
  { additionalProperties: false },
);
const IntrospectBody = Type.Object(
  { token: Type.String({ minLength: 1, maxLength: 8192 }), token_type_hint: Type.Optional(Type.String({ maxLength: 64 })) },
  { additionalProperties: false },
);

/** OAuth endpoints: token (refresh grant), revocation (RFC 7009), introspection (RFC 7662). */
export const oauthRoutes = fp(
  async (app: FastifyInstance) => {
    const { config, sessions, tokens } = app.revocableAuth;

    app.post<{ Body: Static<typeof TokenBody> }>(
      '/oauth/token',
      {
        schema: {
          tags: ['oauth'],
          summary: 'RFC 6749 §6 refresh grant (form or JSON); rotates the refresh token. `resource` per RFC 8707.',
          consumes: ['application/x-www-form-urlencoded', 'application/json'],
          body: TokenBody,
          response: { 200: TokenResponse, '4xx': ErrorResponse, '5xx': ErrorResponse },
        },
      },
      async (request, reply) => {
        const body = request.body;
        if (body.grant_type !== 'refresh_token') {
          throw new AuthError('ERR_AUTH_UNSUPPORTED_GRANT_TYPE', 'only grant_type=refresh_token is supported here; log in at /v1/login');
        }
        let token = body.refresh_token;
        let fromCookie = false;
        if (token === undefined || token === '') {
          token = refreshCookie(app, request);
          if (token === undefined) throw new AuthError('ERR_AUTH_INVALID_REQUEST', 'refresh_token is required (body or cookie)');
          assertNotCrossSite(request);
          fromCookie = true;
        }
        const issued = await sessions.refresh(token, body.resource ?? body.audience, { userAgent: request.headers['user-agent'], ip: request.clientIp });
        return sendTokens(app, reply, issued, wantsCookieDelivery(request, fromCookie));
      },
    );

    app.post<{ Body: Static<typeof RevokeBody> }>(
      '/oauth/revoke',
      {
        schema: {
          tags: ['oauth'],
          summary: 'RFC 7009: revoke a refresh token (its session) or an access token (its jti). Always 200.',
          consumes: ['application/x-www-form-urlencoded', 'application/json'],
          body: RevokeBody,
        },
      },
      async (request, reply) => {
        const hint = request.body.token_type_hint;
        if (hint !== undefined && hint !== 'access_token' && hint !== 'refresh_token') {
          // RFC 7009 §2.2.1: an unknown hint is ignored, not an error.
          request.log.debug({ hint: hint.slice(0, 32) }, 'ignoring unknown token_type_hint');
        }
        await sessions.revokeToken(request.body.token, hint === 'access_token' || hint === 'refresh_token' ? hint : undefined);
        return reply.header('cache-control', 'no-store').status(200).send({});
      },
    );

    app.post<{ Body: Static<typeof IntrospectBody> }>(
      '/oauth/introspect',
      {
        schema: {
          tags: ['oauth'],
          summary: 'RFC 7662 for resource services (HTTP Basic with INTROSPECTION_CLIENTS credentials)',
          consumes: ['application/x-www-form-urlencoded', 'application/json'],
          body: IntrospectBody,
          security: [{ basic: [] }],
        },
        config: { rateLimit: { max: config.introspectionRateLimitPerIp, timeWindow: 60_000 } },
      },
      async (request, reply) => {
        const clientId = authenticateClient(request, config.introspectionClients);
        const result = await tokens.introspect(clientId, request.body.token);
        return reply.header('cache-control', 'no-store').send(result);
      },
    );
  },
  { name: 'revocable-auth-oauth-routes', fastify: '5.x', dependencies: ['revocable-auth-context'] },
);

function authenticateClient(request: FastifyRequest, clients: ReadonlyArray<{ clientId: string; secret: string }>): string {
  const header = request.headers.authorization;
  const m = header === undefined ? null : /^Basic[ ]+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  const fail = () => new AuthError('ERR_AUTH_INVALID_CLIENT', 'client authentication failed');
  if (m === null) throw fail();
  const decoded = Buffer.from(m[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw fail();
  // RFC 6749 §2.3.1: id and secret are form-urlencoded inside Basic credentials.
  let id: string;
  let secret: string;
  try {
    id = decodeURIComponent(decoded.slice(0, colon).replaceAll('+', ' '));
    secret = decodeURIComponent(decoded.slice(colon + 1).replaceAll('+', ' '));
  } catch {
    throw fail();
  }
  let matched: string | undefined;
  // Compare against every client so timing does not reveal which ids exist.
  for (const client of clients) {
    const idOk = safeEqual(id, client.clientId);
    const secretOk = safeEqual(secret, client.secret);
    if (idOk && secretOk) matched = client.clientId;
  }
  if (matched === undefined) throw fail();
  return matched;
}
