import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Type, type Static } from '@sinclair/typebox';
import { AuthError } from '../errors.ts';
import { requireAdmin } from '../plugins/context.ts';
import { withInstanceIdentity } from '../plugins/propagation-wait.ts';
import type { InstanceView, PropagationReport } from '../propagation.ts';

const EventParams = Type.Object({ id: Type.String({ maxLength: 128 }) });
// Query values arrive as strings (the app does not coerce types).
const RecentQuery = Type.Object({ limit: Type.Optional(Type.String({ pattern: '^(?:[1-9][0-9]?|1[0-9][0-9]|200)$', description: '1-200, default 20' })) }, { additionalProperties: false });
const security = [{ admin: [] }];
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The propagation report on the wire (also the body of a revoking answer under `Prefer: wait`). */
export const PropagationReportSchema = Type.Object(
  {
    id: Type.String({ description: 'event id' }),
    type: Type.String({ description: 'session.revoked, user.revoked, token.revoked or key.revoked' }),
    at: Type.String({ format: 'date-time', description: 'event time: set by this service in the committing transaction' }),
    audiences: Type.Array(Type.String(), { description: 'audiences the revocation affects (AUDIENCES)' }),
    confirmed: Type.Integer({ description: 'instances that confirmed' }),
    pending: Type.Array(Type.String(), { description: 'ids of the instances, live when the event was committed, that have not confirmed' }),
    slowest_ms: Type.Union([Type.Integer(), Type.Null()], { description: 'largest event time → receipt among confirmations, ms, on this service\'s clock' }),
    complete: Type.Boolean({ description: 'no instance pending' }),
    instances: Type.Array(
      withInstanceIdentity({
        status: Type.Union([Type.Literal('confirmed'), Type.Literal('pending')]),
        confirmed_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'receipt arrival, this service\'s clock' }),
        applied_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'when the instance applied it, its own clock' }),
        propagation_ms: Type.Union([Type.Integer(), Type.Null()]),
        live: Type.Boolean({ description: 'live now (announced within 3 of its intervals)' }),
      }),
    ),
  },
  { description: 'Which resource-service instances confirmed the revocation, and how fast (receipts on the receipts topic)' },
);

/** {@link PropagationReport} as JSON (ISO times, snake_case). */
export function reportBody(report: PropagationReport): Static<typeof PropagationReportSchema> {
  return {
    id: report.id,
    type: report.type,
    at: new Date(report.at).toISOString(),
    audiences: [...report.audiences],
    confirmed: report.confirmed,
    pending: report.pending,
    slowest_ms: report.slowestMs,
    complete: report.complete,
    instances: report.instances.map((i) => ({
      instance: i.instance,
      service: i.service,
      audiences: [...i.audiences],
      status: i.status,
      confirmed_at: iso(i.confirmedAt),
      applied_at: iso(i.appliedAt),
      propagation_ms: i.propagationMs,
      live: i.live,
    })),
  };
}

const InstancesResponse = Type.Object(
  {
    instances: Type.Array(
      withInstanceIdentity({
        live: Type.Boolean(),
        state: Type.Union([Type.Literal('up'), Type.Literal('leaving')]),
        last_seen_at: Type.String({ format: 'date-time' }),
        announce_interval_ms: Type.Integer(),
        ready: Type.Boolean(),
        freshness_seconds: Type.Union([Type.Number(), Type.Null()]),
        lag: Type.Integer(),
      }),
    ),
  },
  { description: 'Resource-service instances heard from in the last 10 minutes; live ones announced within 3 of their intervals' },
);

/** {@link InstanceView} as JSON (ISO times, snake_case). */
export function instanceBody(v: InstanceView): Static<typeof InstancesResponse>['instances'][number] {
  return {
    instance: v.instance,
    service: v.service,
    audiences: [...v.audiences],
    live: v.live,
    state: v.state,
    last_seen_at: new Date(v.lastSeenAt).toISOString(),
    announce_interval_ms: v.announceIntervalMs,
    ready: v.ready,
    freshness_seconds: v.freshnessSeconds,
    lag: v.lag,
  };
}

/** Propagation as the auth service sees it: per-revocation receipts and the live instances (admin). */
export const propagationRoutes = fp(
  async (app: FastifyInstance) => {
    const { propagation } = app.revocableAuth;

    app.get<{ Querystring: Static<typeof RecentQuery> }>(
      '/v1/admin/revocations',
      {
        schema: {
          tags: ['admin'],
          summary: 'The most recent revocations (newest first) with their propagation',
          querystring: RecentQuery,
          security,
          response: { 200: Type.Object({ revocations: Type.Array(PropagationReportSchema) }, { description: 'Newest first, at most `limit`' }) },
        },
      },
      async (request, reply) => {
        requireAdmin(app, request);
        return reply.header('cache-control', 'no-store').send({ revocations: propagation.recent(Number(request.query.limit ?? 20)).map(reportBody) });
      },
    );

    app.get<{ Params: Static<typeof EventParams> }>(
      '/v1/admin/revocations/:id',
      {
        schema: {
          tags: ['admin'],
          summary: 'Propagation of one revocation: every instance live at commit, confirmed (when, how fast) or pending',
          params: EventParams,
          security,
          response: { 200: PropagationReportSchema },
        },
      },
      async (request, reply) => {
        requireAdmin(app, request);
        const report = propagation.report(request.params.id);
        if (report === undefined) throw new AuthError('ERR_AUTH_NOT_FOUND', 'no such recent revocation (revocations are remembered for 15 minutes)');
        return reply.header('cache-control', 'no-store').send(reportBody(report));
      },
    );

    app.get('/v1/admin/instances', { schema: { tags: ['admin'], summary: 'Resource-service instances: live or not, freshness, lag', security, response: { 200: InstancesResponse } } }, async (request, reply) => {
      requireAdmin(app, request);
      return reply.header('cache-control', 'no-store').send({ instances: propagation.instances().map(instanceBody) });
    });
  },
  { name: 'revocable-auth-propagation-routes', fastify: '5.x', dependencies: ['revocable-auth-context'] },
);
