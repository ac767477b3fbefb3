import type { FastifyInstance, FastifyReply } from 'fastify';
import fp from 'fastify-plugin';
import { Type, type Static } from '@sinclair/typebox';
import { requireAdmin } from '../plugins/context.ts';
import type { AccountStatus } from '../services/accounts.ts';

const UserParams = Type.Object({ id: Type.String({ maxLength: 64 }) });
const KeyParams = Type.Object({ kid: Type.String({ maxLength: 256 }) });
const security = [{ admin: [] }];

/** Admin API, authenticated by ADMIN_TOKEN (constant-time comparison). */
export const adminRoutes = fp(
  async (app: FastifyInstance) => {
    const { accounts, keyAdmin } = app.revocableAuth;

    app.post<{ Params: Static<typeof UserParams> }>(
      '/v1/admin/users/:id/revoke',
      { schema: { tags: ['admin'], summary: 'Revoke every session and access token of a user (user.revoked)', params: UserParams, security } },
      async (request, reply) => {
        requireAdmin(app, request);
        const { minVer } = await accounts.adminRevokeUser(request.params.id);
        return reply.send({ user_id: request.params.id, min_ver: minVer });
      },
    );

    const accountResponse = {
      200: Type.Object({
        user_id: Type.String({ format: 'uuid' }),
        disabled: Type.Boolean(),
        disabled_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'when it was disabled; null while enabled' }),
        min_ver: Type.Integer({ description: 'current token version: access tokens with a lower ver are dead' }),
      }),
    };
    const sendAccount = (reply: FastifyReply, status: AccountStatus) =>
      reply.send({ user_id: status.userId, disabled: status.disabled, disabled_at: status.disabledAt?.toISOString() ?? null, min_ver: status.minVer });

    app.post<{ Params: Static<typeof UserParams> }>(
      '/v1/admin/users/:id/disable',
      {
        schema: {
          tags: ['admin'],
          summary:
            'Disable an account: bumps ver, revokes every session and emits user.revoked (account_disabled), in one transaction. Login then fails like a wrong password. Idempotent: no second event',
          params: UserParams,
          response: accountResponse,
          security,
        },
      },
      async (request, reply) => {
        requireAdmin(app, request);
        return sendAccount(reply, await accounts.disableUser(request.params.id));
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
        return sendAccount(reply, await accounts.enableUser(request.params.id));
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
          security,
        },
      },
      async (request, reply) => {
        requireAdmin(app, request);
        const result = await keyAdmin.revokeKey(request.params.kid);
        return reply.send({ kid: result.kid, revoked: true, until: result.until, replaced_by: result.replacedBy, next_kid: result.nextKid });
      },
    );

    app.get('/v1/admin/keys', { schema: { tags: ['admin'], summary: 'List signing keys: status (next, active, retired, revoked), dates, whether the JWKS serves it', security } }, async (request, reply) => {
      requireAdmin(app, request);
      return reply.send({ keys: await keyAdmin.list() });
    });
  },
  { name: 'revocable-auth-admin-routes', fastify: '5.x', dependencies: ['revocable-auth-context'] },
);
