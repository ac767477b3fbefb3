import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { Type, type Static } from '@sinclair/typebox';
import { ERROR_BODY_SCHEMA } from '@revocable/kit';
import { requireAdmin } from '../plugins/context.ts';
import { SessionBody } from './account.ts';
import { PreferHeaderSchema, WaitReportSchema, type WaitReport } from '../plugins/propagation-wait.ts';
import type { AccountStatus } from '../services/accounts.ts';
import type { UserSummary } from '../services/admin-directory.ts';

const UserParams = Type.Object({ id: Type.String({ maxLength: 64 }) });
const SessionParams = Type.Object({ id: Type.String({ maxLength: 64 }), sid: Type.String({ maxLength: 64 }) });
const EmailQuery = Type.Object({ email: Type.String({ minLength: 3, maxLength: 254 }) }, { additionalProperties: false });
const iso = (d: Date | null) => (d === null ? null : d.toISOString());
const UserSummaryBody = Type.Object({
  user_id: Type.String({ format: 'uuid' }),
  email: Type.String(),
  disabled: Type.Boolean(),
  disabled_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  min_ver: Type.Integer({ description: 'current token version: access tokens with a lower ver are dead' }),
  created_at: Type.String({ format: 'date-time' }),
});
const userBody = (u: UserSummary): Static<typeof UserSummaryBody> => ({
  user_id: u.userId,
  email: u.email,
  disabled: u.disabled,
  disabled_at: iso(u.disabledAt),
  min_ver: u.minVer,
  created_at: u.createdAt.toISOString(),
});

/** One audit line per admin action (who: the admin credential; what; on what), with the request id. */
function audit(request: FastifyRequest, action: string, target: Record<string, string>): void {
  request.log.info({ audit: { action, ...target } }, 'admin action');
}
const KeyParams = Type.Object({ kid: Type.String({ maxLength: 256 }) });
const security = [{ admin: [] }];
const propagationProp = { propagation: Type.Optional(WaitReportSchema) };
const withPropagation = <T extends object>(body: T, propagation: WaitReport | undefined): T & { propagation?: WaitReport } =>
  propagation === undefined ? body : { ...body, propagation };

/** Admin API, authenticated by ADMIN_TOKEN (constant-time comparison). */
export const adminRoutes = fp(
  async (app: FastifyInstance) => {
    const { accounts, keyAdmin, directory } = app.revocableAuth;

    app.get<{ Querystring: Static<typeof EmailQuery> }>(
      '/v1/admin/users',
      { schema: { tags: ['admin'], summary: 'Find an account by email (normalised as at registration)', querystring: EmailQuery, response: { 200: UserSummaryBody, 404: { ...ERROR_BODY_SCHEMA, description: 'No account has this email' } }, security } },
      async (request, reply) => {
        requireAdmin(app, request);
        return reply.send(userBody(await directory.findByEmail(request.query.email)));
      },
    );

    app.get<{ Params: Static<typeof UserParams> }>(
      '/v1/admin/users/:id',
      {
        schema: {
          tags: ['admin'],
          summary: 'An account and its live sessions (device = user agent at login), newest first',
          params: UserParams,
          response: {
            200: Type.Object({
              user: UserSummaryBody,
              sessions: Type.Array(SessionBody),
            }),
          },
          security,
        },
      },
      async (request, reply) => {
        requireAdmin(app, request);
        const { user, sessions } = await directory.userWithSessions(request.params.id);
        return reply.send({
          user: userBody(user),
          sessions: sessions.map((s) => ({
            sid: s.sid,
            created_at: s.createdAt.toISOString(),
            last_used_at: s.lastUsedAt.toISOString(),
            idle_expires_at: s.idleExpiresAt.toISOString(),
            absolute_expires_at: s.absoluteExpiresAt.toISOString(),
            user_agent: s.userAgent,
            ip: s.ip,
          })),
        });
      },
    );

    app.post<{ Params: Static<typeof SessionParams> }>(
      '/v1/admin/users/:id/sessions/:sid/revoke',
      {
        schema: {
          tags: ['admin'],
          summary: 'Revoke one session of a user (session.revoked, reason admin): its refresh token and every access token of it',
          params: SessionParams,
          headers: PreferHeaderSchema,
          response: { 200: Type.Object({ user_id: Type.String(), sid: Type.String(), revoked: Type.Boolean(), ...propagationProp }) },
          security,
        },
      },
      async (request, reply) => {
        requireAdmin(app, request);
        const { propagation } = await app.revocationWait.run(request, reply, async () => {
          await directory.revokeSession(request.params.id, request.params.sid);
          // Audited once the change is made, before any wait for propagation.
          audit(request, 'session.revoke', { user_id: request.params.id, sid: request.params.sid });
        });
        return reply.send(withPropagation({ user_id: request.params.id, sid: request.params.sid, revoked: true }, propagation));
      },
    );

    app.post<{ Params: Static<typeof UserParams> }>(
      '/v1/admin/users/:id/revoke',
      { schema: { tags: ['admin'], summary: 'Revoke every session and access token of a user (user.revoked)', params: UserParams, headers: PreferHeaderSchema, security } },
      async (request, reply) => {
        requireAdmin(app, request);
        const { result, propagation } = await app.revocationWait.run(request, reply, async () => {
          const revoked = await accounts.adminRevokeUser(request.params.id);
          audit(request, 'user.revoke', { user_id: request.params.id });
          return revoked;
        });
        return reply.send(withPropagation({ user_id: request.params.id, min_ver: result.minVer }, propagation));
      },
    );

    const accountResponse = {
      200: Type.Object({
        user_id: Type.String({ format: 'uuid' }),
        disabled: Type.Boolean(),
        disabled_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'when it was disabled; null while enabled' }),
        min_ver: Type.Integer({ description: 'current token version: access tokens with a lower ver are dead' }),
        ...propagationProp,
      }),
    };
    const sendAccount = (reply: FastifyReply, status: AccountStatus, propagation?: WaitReport) =>
      reply.send(withPropagation({ user_id: status.userId, disabled: status.disabled, disabled_at: status.disabledAt?.toISOString() ?? null, min_ver: status.minVer }, propagation));

    app.post<{ Params: Static<typeof UserParams> }>(
      '/v1/admin/users/:id/disable',
      {
        schema: {
          tags: ['admin'],
          summary:
            'Disable an account: bumps ver, revokes every session and emits user.revoked (account_disabled), in one transaction. Login then fails like a wrong password. Idempotent: no second event',
          params: UserParams,
          headers: PreferHeaderSchema,
          response: accountResponse,
          security,
        },
      },
      async (request, reply) => {
        requireAdmin(app, request);
        const { result, propagation } = await app.revocationWait.run(request, reply, async () => {
          const status = await accounts.disableUser(request.params.id);
          audit(request, 'user.disable', { user_id: request.params.id });
          return status;
        });
        return sendAccount(reply, result, propagation);
      },
    );

    app.post<{ Params: Static<typeof UserParams> }>(
      '/v1/admin/users/:id/enable',
      {
        schema: {
          tags: ['admin'],
          summary: 'Enable a disabled account: login works again; tokens issued before the disable stay dead. No event. Idempotent',
          params: UserParams,
          response: accountResponse,
          security,
        },
      },
      async (request, reply) => {
        requireAdmin(app, request);
        const status = await accounts.enableUser(request.params.id);
        audit(request, 'user.enable', { user_id: request.params.id });
        return sendAccount(reply, status);
      },
    );

    app.post(
      '/v1/admin/keys/rotate',
      {
        schema: {
          tags: ['admin'],
          summary: 'Rotate: the published next key starts signing, a new next key is published; the old key stays in the JWKS until its tokens expire',
          security,
        },
      },
      async (request, reply) => {
        requireAdmin(app, request);
        const { kid, previousKid, nextKid } = await keyAdmin.rotateKey();
        audit(request, 'key.rotate', { kid });
        return reply.send({ kid, previous_kid: previousKid, next_kid: nextKid });
      },
    );

    app.post<{ Params: Static<typeof KeyParams> }>(
      '/v1/admin/keys/:kid/revoke',
      {
        schema: {
          tags: ['admin'],
          summary: 'Emergency revocation of a signing key (key.revoked); denies everything it signed. Revoking the active key promotes the published next key',
          params: KeyParams,
          headers: PreferHeaderSchema,
          security,
        },
      },
      async (request, reply) => {
        requireAdmin(app, request);
        const { result, propagation } = await app.revocationWait.run(request, reply, async () => {
          const revoked = await keyAdmin.revokeKey(request.params.kid);
          audit(request, 'key.revoke', { kid: revoked.kid });
          return revoked;
        });
        return reply.send(withPropagation({ kid: result.kid, revoked: true, until: result.until, replaced_by: result.replacedBy, next_kid: result.nextKid }, propagation));
      },
    );

    app.get('/v1/admin/keys', { schema: { tags: ['admin'], summary: 'List signing keys: status (next, active, retired, revoked), dates, whether the JWKS serves it', security } }, async (request, reply) => {
      requireAdmin(app, request);
      return reply.send({ keys: await keyAdmin.list() });
    });
  },
  { name: 'revocable-auth-admin-routes', fastify: '5.x', dependencies: ['revocable-auth-context', 'revocable-auth-propagation-wait'] },
);
