import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Type, type Static } from '@sinclair/typebox';
import { AuthError } from '../errors.ts';
import { assertNotCrossSite, refreshCookie, sendTokens, wantsCookieDelivery } from '../plugins/context.ts';
import { ErrorResponse, TokenResponse } from './account.ts';
import { PreferHeaderSchema } from '../plugins/propagation-wait.ts';

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
const IntrospectResponse = Type.Object(
  {
    active: Type.Boolean(),
    token_type: Type.Optional(Type.Literal('Bearer')),
    scope: Type.Optional(Type.String()),
    client_id: Type.Optional(Type.String()),
    username: Type.Optional(Type.String()),
    sub: Type.Optional(Type.String()),
    aud: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())])),
    iss: Type.Optional(Type.String()),
    exp: Type.Optional(Type.Integer()),
    iat: Type.Optional(Type.Integer()),
    nbf: Type.Optional(Type.Integer()),
    jti: Type.Optional(Type.String()),
    sid: Type.Optional(Type.String()),
    ver: Type.Optional(Type.Integer()),
  },
  { description: 'RFC 7662 §2.2; inactive tokens answer {"active": false} only' },
);

/**
 * OAuth endpoints: token (refresh grant), revocation (RFC 7009), introspection (RFC 7662).
 * Client authentication (RFC 6749 §2.3) is the registry's: public clients send `client_id`,
 * confidential ones HTTP Basic; wrong credentials are 401 `invalid_client`.
 */
export const oauthRoutes = fp(
  async (app: FastifyInstance) => {
    const { config, sessions, tokens, clients } = app.revocableAuth;

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
        const client = clients.authenticate(request, body.client_id);
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
        if (body.resource !== undefined && body.audience !== undefined) throw new AuthError('ERR_AUTH_INVALID_REQUEST', 'send resource or audience, not both');
        const issued = await sessions.refresh(token, client, { resource: body.resource ?? body.audience, scope: body.scope }, { userAgent: request.headers['user-agent'], ip: request.clientIp });
        return sendTokens(app, reply, issued, wantsCookieDelivery(request, fromCookie));
      },
    );

    app.post<{ Body: Static<typeof RevokeBody> }>(
      '/oauth/revoke',
      {
        schema: {
          tags: ['oauth'],
          summary:
            'RFC 7009: revoke a refresh token (its session) or an access token (its jti). 200 also for unknown tokens; 401 invalid_client on wrong client credentials; 400 unauthorized_client for a token issued to another client.',
          consumes: ['application/x-www-form-urlencoded', 'application/json'],
          body: RevokeBody,
          headers: PreferHeaderSchema,
        },
      },
      async (request, reply) => {
        const client = clients.authenticate(request, request.body.client_id);
        const hint = request.body.token_type_hint;
        if (hint !== undefined && hint !== 'access_token' && hint !== 'refresh_token') {
          // RFC 7009 §2.2.1: an unknown hint is ignored, not an error.
          request.log.debug({ hint: hint.slice(0, 32) }, 'ignoring unknown token_type_hint');
        }
        const { propagation } = await app.revocationWait.run(request, reply, () =>
          sessions.revokeToken(request.body.token, hint === 'access_token' || hint === 'refresh_token' ? hint : undefined, client),
        );
        return reply.header('cache-control', 'no-store').header('pragma', 'no-cache').status(200).send(propagation === undefined ? {} : { propagation });
      },
    );

    app.post<{ Body: Static<typeof IntrospectBody> }>(
      '/oauth/introspect',
      {
        schema: {
          tags: ['oauth'],
          summary: 'RFC 7662 for resource services (confidential clients: HTTP Basic with INTROSPECTION_CLIENTS credentials)',
          consumes: ['application/x-www-form-urlencoded', 'application/json'],
          body: IntrospectBody,
          response: { 200: IntrospectResponse },
          security: [{ basic: [] }],
        },
        config: { rateLimit: { max: config.introspectionRateLimitPerIp, timeWindow: 60_000 } },
      },
      async (request, reply) => {
        const client = clients.authenticateConfidential(request);
        const result = await tokens.introspect(client.clientId, request.body.token);
        return reply.header('cache-control', 'no-store').header('pragma', 'no-cache').send(result);
      },
    );
  },
  { name: 'revocable-auth-oauth-routes', fastify: '5.x', dependencies: ['revocable-auth-context', 'revocable-auth-propagation-wait'] },
);
