import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { Type, type Static } from '@sinclair/typebox';
import { AuthError } from '../errors.ts';
import { PreferHeaderSchema, WaitReportSchema, type WaitReport } from '../plugins/propagation-wait.ts';
import { assertNotCrossSite, bearerToken, clearRefreshCookie, refreshCookie, requireUser, sendTokens, wantsCookieDelivery } from '../plugins/context.ts';

const Email = Type.String({ minLength: 1, maxLength: 320, description: 'Email address (normalised: NFC, lower case)' });
const Password = Type.String({ minLength: 1, maxLength: 1024 });
const Audience = Type.Union([Type.String({ maxLength: 64 }), Type.Array(Type.String({ maxLength: 64 }), { minItems: 1, maxItems: 8 })], {
  description: 'Audience(s) of the access token, from the AUDIENCES allow-list; default: the first one',
});

const Resource = Type.Union([Type.String({ maxLength: 256 }), Type.Array(Type.String({ maxLength: 256 }), { minItems: 1, maxItems: 8 })], {
  description: 'RFC 8707 resource indicator(s): audience names or their absolute URIs (RESOURCE_URIS); same as audience',
});

const RegisterBody = Type.Object({ email: Email, password: Password }, { additionalProperties: false });
const LoginBody = Type.Object(
  {
    email: Email,
    password: Password,
    audience: Type.Optional(Audience),
    resource: Type.Optional(Resource),
    scope: Type.Optional(Type.String({ maxLength: 1024, description: "Space-separated scopes; default: the client's default scopes of the granted audiences" })),
    client_id: Type.Optional(Type.String({ maxLength: 128, description: 'A public client of CLIENTS; default: the first one' })),
  },
  { additionalProperties: false },
);
const PasswordBody = Type.Object({ current_password: Password, new_password: Password }, { additionalProperties: false });
const SessionParams = Type.Object({ sid: Type.String({ maxLength: 64 }) });

const bearer = [{ bearer: [] }];

/** OAuth-style error body (documentation; every error answer has this shape). */
export const ErrorResponse = Type.Object({
  error: Type.String(),
  error_description: Type.String(),
  reason: Type.Optional(
    Type.String({ description: 'refused refresh (invalid_grant): reuse_detected, session_revoked, session_expired or unknown_token' }),
  ),
});
/** RFC 6749 §5.1 token response. */
export const TokenResponse = Type.Object({
  access_token: Type.String({ description: 'RFC 9068 JWT (typ at+jwt)' }),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer({ description: 'seconds' }),
  refresh_token: Type.Optional(
    Type.String({ description: 'opaque, 256-bit, single use (rotated on every refresh); left out when the client asked for cookie delivery (x-csrf-protection header, or refreshed with the cookie)' }),
  ),
  scope: Type.Optional(Type.String({ description: 'granted scopes, space-separated (RFC 6749 §5.1)' })),
});
const AccessOnlyResponse = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer(),
  scope: Type.Optional(Type.String()),
  propagation: Type.Optional(WaitReportSchema),
});
const UserResponse = Type.Object({ id: Type.String({ format: 'uuid' }), email: Type.String() });
/** One live session (device) as the account API (`GET /v1/sessions`) and the admin API list it. */
export const SessionBody = Type.Object({
  sid: Type.String({ format: 'uuid' }),
  created_at: Type.String({ format: 'date-time' }),
  last_used_at: Type.String({ format: 'date-time' }),
  idle_expires_at: Type.String({ format: 'date-time' }),
  absolute_expires_at: Type.String({ format: 'date-time' }),
  user_agent: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
});
const SessionsResponse = Type.Object({ sessions: Type.Array(Type.Composite([SessionBody, Type.Object({ current: Type.Boolean() })])) });
const errors = { '4xx': ErrorResponse, '5xx': ErrorResponse };

/**
 * Credential-carrying bodies must be JSON: a cross-site HTML form can only send form or
 * text bodies, so this also shuts the door on login CSRF.
 */
async function jsonOnly(request: FastifyRequest): Promise<void> {
  const type = request.headers['content-type'] ?? '';
  if (!/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type)) {
    throw new AuthError('ERR_AUTH_UNSUPPORTED_MEDIA_TYPE', 'send this request as application/json');
  }
}

/** A revoking answer: 204 as always, or 200 `{ propagation }` when a `Prefer: wait` was honoured. */
function sendRevoked(reply: FastifyReply, propagation: WaitReport | undefined): FastifyReply {
  return propagation === undefined ? reply.status(204).send() : reply.status(200).header('cache-control', 'no-store').send({ propagation });
}

/** Users, login, logout, sessions, password change (`/v1/...`). */
export const accountRoutes = fp(
  async (app: FastifyInstance) => {
    const { config, accounts, sessions, clients } = app.revocableAuth;

    app.post<{ Body: Static<typeof RegisterBody> }>(
      '/v1/users',
      {
        schema: { tags: ['account'], summary: 'Register with email and password', body: RegisterBody, response: { 201: UserResponse, ...errors } },
        // Its own per-IP counter: a registration costs a password hash, like a login.
        config: { rateLimit: { max: config.hardening.registerRateLimitPerIp, timeWindow: config.hardening.registerRateLimitWindowSeconds * 1000 } },
        preValidation: jsonOnly,
      },
      async (request, reply) => {
        const user = await accounts.register(request.body.email, request.body.password);
        return reply.status(201).send({ id: user.id, email: user.email });
      },
    );

    app.post<{ Body: Static<typeof LoginBody> }>(
      '/v1/login',
      {
        schema: { tags: ['account'], summary: 'Log in: access token + rotating refresh token (body and HttpOnly cookie)', body: LoginBody, response: { 200: TokenResponse, ...errors } },
        config: { rateLimit: { max: config.loginRateLimitPerIp, timeWindow: config.loginRateLimitWindowSeconds * 1000 } },
        preValidation: jsonOnly,
      },
      async (request, reply) => {
        const { email, password, audience, resource, scope, client_id: clientId } = request.body;
        if (audience !== undefined && resource !== undefined) throw new AuthError('ERR_AUTH_INVALID_REQUEST', 'send resource or audience, not both');
        const client = clients.publicClient(clientId);
        const issued = await sessions.login(email, password, client, { resource: resource ?? audience, scope }, { userAgent: request.headers['user-agent'], ip: request.clientIp });
        return sendTokens(app, reply, issued, wantsCookieDelivery(request));
      },
    );

    app.post(
      '/v1/logout',
      {
        schema: {
          tags: ['account'],
          summary: 'Revoke the current session (bearer access token, or the refresh cookie plus the x-csrf-protection header)',
          security: [{ bearer: [] }, { refreshCookie: [] }],
          headers: PreferHeaderSchema,
        },
      },
      async (request, reply) => {
        let propagation: WaitReport | undefined;
        if (bearerToken(request) !== undefined) {
          // Logout only takes privileges away: any token of this issuer's audiences may end its own session.
          const claims = await requireUser(app, request, { allowExpired: true, anyAudience: true });
          ({ propagation } = await app.revocationWait.run(request, reply, () => sessions.logout(claims)));
        } else {
          const cookie = refreshCookie(app, request);
          if (cookie === undefined) throw new AuthError('ERR_AUTH_INVALID_TOKEN', 'missing bearer access token or refresh cookie');
          assertNotCrossSite(request);
          ({ propagation } = await app.revocationWait.run(request, reply, () => sessions.logoutByRefreshToken(cookie)));
        }
        clearRefreshCookie(app, reply);
        return sendRevoked(reply, propagation);
      },
    );

    app.post(
      '/v1/logout-all',
      { schema: { tags: ['account'], summary: 'Revoke every session and access token of the user', security: bearer, headers: PreferHeaderSchema } },
      async (request, reply) => {
        const claims = await requireUser(app, request);
        const { propagation } = await app.revocationWait.run(request, reply, () => sessions.logoutAll(claims.sub));
        clearRefreshCookie(app, reply);
        return sendRevoked(reply, propagation);
      },
    );

    app.get('/v1/sessions', { schema: { tags: ['account'], summary: "List the user's active sessions (devices)", security: bearer, response: { 200: SessionsResponse, ...errors } } }, async (request, reply) => {
      const claims = await requireUser(app, request);
      return reply.header('cache-control', 'no-store').header('pragma', 'no-cache').send({ sessions: await sessions.listSessions(claims) });
    });

    app.delete<{ Params: Static<typeof SessionParams> }>(
      '/v1/sessions/:sid',
      { schema: { tags: ['account'], summary: 'Revoke one session (log out one device)', params: SessionParams, security: bearer, headers: PreferHeaderSchema } },
      async (request, reply) => {
        const claims = await requireUser(app, request);
        const { propagation } = await app.revocationWait.run(request, reply, () => sessions.deleteSession(claims, request.params.sid));
        return sendRevoked(reply, propagation);
      },
    );

    app.post<{ Body: Static<typeof PasswordBody> }>(
      '/v1/password',
      {
        schema: {
          tags: ['account'],
          summary: 'Change password: bumps ver, revokes other sessions, returns a new access token',
          body: PasswordBody,
          headers: PreferHeaderSchema,
          security: bearer,
          response: { 200: AccessOnlyResponse, ...errors },
        },
        config: { rateLimit: { max: config.loginRateLimitPerIp, timeWindow: config.loginRateLimitWindowSeconds * 1000 } },
        preValidation: jsonOnly,
      },
      async (request, reply) => {
        const claims = await requireUser(app, request);
        const { result: tokens, propagation } = await app.revocationWait.run(request, reply, () =>
          accounts.changePassword(claims, request.body.current_password, request.body.new_password),
        );
        return reply.header('cache-control', 'no-store').header('pragma', 'no-cache').send(propagation === undefined ? tokens : { ...tokens, propagation });
      },
    );
  },
  { name: 'revocable-auth-account-routes', fastify: '5.x', dependencies: ['revocable-auth-context', 'revocable-auth-propagation-wait'] },
);
