import type { FastifyInstance } from 'fastify';
import type { RevocableOptions } from '@revocable/fastify';
import { callerSubject, createProtectedApp, packageVersion } from '@revocable/kit';
import type { OrdersConfig } from './config.ts';
import { OrderLimitError, OrderStore } from './store.ts';

const BUILD_INFO = { service: 'orders', version: packageVersion(new URL('../package.json', import.meta.url)) };

/** Test seams: an injected clock or event transport, or any other plugin option. */
export type OrdersOverrides = Partial<RevocableOptions>;

const orderSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    item: { type: 'string' },
    quantity: { type: 'integer' },
    createdAt: { type: 'integer' },
  },
  required: ['id', 'item', 'quantity', 'createdAt'],
} as const;

const errorSchema = {
  type: 'object',
  properties: { error: { type: 'string' }, error_description: { type: 'string' } },
  required: ['error'],
} as const;

const idParams = {
  type: 'object',
  properties: { id: { type: 'string', format: 'uuid' } },
  required: ['id'],
} as const;

/**
 * Builds the orders service: the revocable verifier (audience `orders`) and CRUD over the
 * caller's own orders. Reads need the scope `orders:read` and tolerate stale revocation
 * state (fail-open); writes need `orders:write` and do not (fail-closed, 503 past
 * FRESHNESS_MAX_SECONDS).
 */
export async function buildApp(config: OrdersConfig, overrides: OrdersOverrides = {}): Promise<FastifyInstance> {
  const app = await createProtectedApp(config, {
    buildInfo: BUILD_INFO,
    overrides,
    openapi: { title: 'Revocable orders service (sample, audience orders)', version: BUILD_INFO.version, description: 'CRUD over the caller\'s own orders; every token checked against the Kafka-fed denylist.' },
    mapError: (error) => (error instanceof OrderLimitError ? { status: 409, error: 'limit_reached', description: error.message } : undefined),
  });
  const store = new OrderStore({ maxPerOwner: config.maxOrdersPerUser, ...(overrides.now !== undefined ? { now: overrides.now } : {}) });
  const maxSeconds = config.verifier.freshnessMaxSeconds;

  // Scopes per route (403 insufficient_scope with the scope attribute otherwise).
  const read = { auth: { scopes: ['orders:read'], freshness: { maxSeconds, policy: 'fail-open' as const } } };
  const write = { auth: { scopes: ['orders:write'], freshness: { maxSeconds, policy: 'fail-closed' as const } } };

  app.post(
    '/v1/orders',
    {
      config: write,
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            item: { type: 'string', minLength: 1, maxLength: 200 },
            quantity: { type: 'integer', minimum: 1, maximum: 1000 },
          },
          required: ['item', 'quantity'],
        },
        response: { 201: { ...orderSchema, description: 'The order, created' }, 409: { ...errorSchema, description: 'MAX_ORDERS_PER_USER reached (`limit_reached`)' } },
      },
    },
    async (request, reply) => {
      const body = request.body as { item: string; quantity: number };
      return reply.code(201).send(store.create(callerSubject(request), body));
    },
  );

  app.get(
    '/v1/orders',
    { config: read, schema: { response: { 200: { type: 'object', description: "The caller's orders", properties: { orders: { type: 'array', items: orderSchema } } } } } },
    async (request) => ({ orders: store.list(callerSubject(request)) }),
  );

  app.get('/v1/orders/:id', { config: read, schema: { params: idParams, response: { 200: { ...orderSchema, description: 'The order' }, 404: { ...errorSchema, description: 'No such order of the caller (`not_found`)' } } } }, async (request, reply) => {
    const order = store.get(callerSubject(request), (request.params as { id: string }).id);
    if (order === undefined) return reply.code(404).send({ error: 'not_found', error_description: 'no such order' });
    return order;
  });

  app.delete('/v1/orders/:id', { config: write, schema: { params: idParams, response: { 204: { type: 'null', description: 'Deleted' }, 404: { ...errorSchema, description: 'No such order of the caller (`not_found`)' } } } }, async (request, reply) => {
    const deleted = store.delete(callerSubject(request), (request.params as { id: string }).id);
    if (!deleted) return reply.code(404).send({ error: 'not_found', error_description: 'no such order' });
    return reply.code(204).send();
  });

  return app;
}
