import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { AuthError } from '../errors.ts';
import { requireAdmin } from '../plugins/context.ts';
import { instanceBody, reportBody } from './propagation.ts';

/** How often a stream looks for changes, in ms. */
const POLL_INTERVAL_MS = 250;
/** A comment line this often keeps proxies from closing an idle stream, in ms. */
const KEEPALIVE_INTERVAL_MS = 15_000;
/** Streams open at once; an admin console needs one per tab. */
const MAX_STREAMS = 16;
/** Revocations in each snapshot. */
const RECENT = 20;

/**
 * `GET /v1/admin/live`: server-sent events for the admin console's live view. Each `snapshot`
 * event carries the recent revocations with every instance's receipt (as
 * `GET /v1/admin/revocations`) and the instances with freshness and lag (as
 * `GET /v1/admin/instances`); a new one is sent when anything in it changed. Admin
 * credential as a bearer token (the console reads the stream with fetch).
 */
export const liveRoutes = fp(
  async (app: FastifyInstance) => {
    const { propagation } = app.revocableAuth;
    const streams = new Set<() => void>();

    app.get(
      '/v1/admin/live',
      {
        schema: {
          tags: ['admin'],
          summary: 'Server-sent events: a `snapshot` (recent revocations with receipts, live instances) whenever one changes',
          security: [{ admin: [] }],
          response: { 200: { description: 'text/event-stream of `snapshot` events (JSON data)', content: { 'text/event-stream': { schema: { type: 'string' } } } } },
        },
        config: { rateLimit: false },
      },
      async (request, reply) => {
        requireAdmin(app, request);
        if (streams.size >= MAX_STREAMS) throw new AuthError('ERR_AUTH_BUSY', `at most ${MAX_STREAMS} live streams at once`, { retryAfterSeconds: 5 });
        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-store',
          connection: 'keep-alive',
          'x-accel-buffering': 'no',
          'x-request-id': String(request.id),
        });
        let last = '';
        let lastWriteAt = Date.now();
        const send = () => {
          const snapshot = JSON.stringify({ revocations: propagation.recent(RECENT).map(reportBody), instances: propagation.instances().map(instanceBody) });
          if (snapshot !== last) {
            last = snapshot;
            res.write(`event: snapshot\ndata: ${snapshot}\n\n`);
            lastWriteAt = Date.now();
          } else if (Date.now() - lastWriteAt >= KEEPALIVE_INTERVAL_MS) {
            res.write(': keepalive\n\n');
            lastWriteAt = Date.now();
          }
        };
        const timer = setInterval(send, POLL_INTERVAL_MS);
        const end = () => {
          clearInterval(timer);
          streams.delete(end);
          if (!res.writableEnded) res.end();
        };
        streams.add(end);
        res.on('close', end);
        send();
      },
    );

    // Open streams would keep close() waiting for their sockets.
    app.addHook('onClose', async () => {
      for (const end of [...streams]) end();
    });
  },
  { name: 'revocable-auth-live-routes', fastify: '5.x', dependencies: ['revocable-auth-context'] },
);
