import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { migrationsApplied } from '../migrate.ts';

/** /healthz (process alive), /readyz (database reachable and migrated), /metrics (Prometheus). */
export const healthRoutes = fp(
  async (app: FastifyInstance) => {
    const { pool, relay, metrics, expectedMigrations } = app.revocableAuth;
    let migrated = false;
    const noLimit: { rateLimit: false } = { rateLimit: false };

    app.get('/healthz', { schema: { tags: ['ops'], summary: 'Liveness' }, config: noLimit }, async () => ({ status: 'ok' }));

    app.get('/readyz', { schema: { tags: ['ops'], summary: 'Readiness: PostgreSQL reachable and migrated. Kafka state is reported, never blocking.' }, config: noLimit }, async (_request, reply) => {
      let database: 'up' | 'down' = 'down';
      try {
        if (!migrated) migrated = await migrationsApplied(pool, expectedMigrations);
        else await pool.query('SELECT 1');
        database = 'up';
      } catch {
        database = 'down';
      }
      const ready = database === 'up' && migrated;
      // Kafka being down does not make us unready: the outbox absorbs revocations until it is back.
      return reply.status(ready ? 200 : 503).send({
        status: ready ? 'ready' : 'not_ready',
        database,
        migrations: migrated ? 'applied' : 'pending',
        relay: relay?.status() ?? { state: 'disabled' },
      });
    });

    // With METRICS_PORT, /metrics is served by the internal listener only.
    if (app.revocableAuth.config.hardening.internalListener === undefined) {
      app.get('/metrics', { schema: { tags: ['ops'], summary: 'Prometheus metrics' }, config: noLimit }, async (_request, reply) => {
        return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
      });
    }
  },
  { name: 'revocable-auth-health-routes', fastify: '5.x', dependencies: ['revocable-auth-context'] },
);
