import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '@revocable/protocol';
import { createVerifierCore, type AuthDecision, type VerifierCore, type VerifierCoreOptions } from './core.ts';
import type { AuthFailure, RouteAuthOptions } from './decide.ts';
import { authFailureResponse, hasTwoCredentials, twoCredentialsResponse } from './response.ts';
import type { AuthContext } from './verifier.ts';

export type { FreshnessPolicy, FreshnessRequirement, RouteAuthOptions } from './decide.ts';

/** Options of the {@link revocable} plugin: the {@link VerifierCoreOptions} plus its routes. */
export interface RevocableOptions extends VerifierCoreOptions {
  /** Register `/healthz`, `/readyz` and `/metrics` (public). Default true. */
  healthRoutes?: boolean;
}

/**
 * The plugin's state, exposed as `app.revocable`: the {@link VerifierCore} (denylist, consumer,
 * verifier, metrics, readiness, `authorize`, `verifierFor`) without its lifecycle, which the
 * plugin runs (`onReady` starts the consumer, `onClose` stops it).
 */
export type RevocableHandle = Omit<VerifierCore, 'start' | 'stop' | 'checkRoute'>;

declare module 'fastify' {
  interface FastifyInstance {
    revocable: RevocableHandle;
  }
  interface FastifyRequest {
    /** The verified token of this request; null on public routes. */
    auth: AuthContext | null;
  }
  interface FastifyContextConfig {
    auth?: RouteAuthOptions;
  }
}

const HEALTH_SCHEMA = { type: 'object', description: 'The process is alive', required: ['status'], properties: { status: { type: 'string', enum: ['ok'] } } } as const;
const READY_SCHEMA = {
  type: 'object',
  description: '200 when ready; 503 while catching up or when the reader is down',
  required: ['status', 'freshness_seconds', 'reader'],
  properties: {
    status: { type: 'string', enum: ['ready', 'catching_up', 'reader_down'] },
    freshness_seconds: { type: ['number', 'null'], description: 'how old the revocation state may be, seconds; null before the first heartbeat' },
    reader: {
      type: 'object',
      required: ['state', 'restarts'],
      properties: { state: { type: 'string' }, reason: { type: ['string', 'null'] }, restarts: { type: 'integer' } },
    },
  },
} as const;
// Documentation only: the body is the registry's text, sent as a string (never serialized).
const METRICS_SCHEMA = { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } } as const;

// A refusal answers (and does not call `done`: the request goes no further); an allowed
// request carries its token context on.
function proceed(decision: AuthDecision, request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void): void {
  if (!decision.ok) {
    sendAuthFailure(reply, decision.failure);
    return;
  }
  request.auth = decision.context;
  done();
}

/** Sends {@link authFailureResponse} of `failure` on `reply`. */
export function sendAuthFailure(reply: FastifyReply, failure: AuthFailure): FastifyReply {
  const answer = authFailureResponse(failure);
  return reply.code(answer.status).headers(answer.headers).send(answer.body);
}

async function revocablePlugin(app: FastifyInstance, options: RevocableOptions): Promise<void> {
  const core = createVerifierCore({ ...options, logger: app.log as unknown as Logger });
  const { consumer, metrics } = core;
  const handle: RevocableHandle = {
    denylist: core.denylist,
    consumer,
    verifier: core.verifier,
    metrics,
    isReady: core.isReady,
    whenReady: core.whenReady,
    freshnessSeconds: core.freshnessSeconds,
    authorize: core.authorize,
    verifierFor: core.verifierFor,
  };
  app.decorate('revocable', handle);
  app.decorateRequest('auth', null);

  // Misconfigured routes fail at startup, not on the first stale request.
  app.addHook('onRoute', (route) => {
    core.checkRoute(`${String(route.method)} ${route.url}`, (route.config as { auth?: RouteAuthOptions } | undefined)?.auth);
  });

  // The hook only executes the decision (core.authorize → decide()): public routes and
  // unmatched URLs (404 handler) are not asked for a token. Callback style, so a decision
  // that needed no waiting (cached token, early refusal) goes on in the same tick.
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => {
    // One read of the getter: it builds a fresh options object on every access.
    const route = request.routeOptions;
    if (route.url === undefined) return done();
    const routeAuth = route.config.auth;
    if (routeAuth?.public === true) return done();
    if (hasTwoCredentials(request.raw.rawHeaders, request.query)) {
      const answer = twoCredentialsResponse();
      reply.code(answer.status).headers(answer.headers).send(answer.body);
      return;
    }
    const decision = core.authorize(request.headers.authorization, routeAuth, core.verifier, request.log);
    if (decision instanceof Promise) decision.then((settled) => proceed(settled, request, reply, done), done);
    else proceed(decision, request, reply, done);
  });

  app.addHook('onResponse', (request, reply, done) => {
    metrics.httpRequests.observe(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    done();
  });

  if (options.healthRoutes !== false) {
    const config = { auth: { public: true } };
    app.get('/healthz', { config, schema: { tags: ['ops'], summary: 'Liveness', response: { 200: HEALTH_SCHEMA } } }, async () => ({ status: 'ok' }));
    app.get('/readyz', { config, schema: { tags: ['ops'], summary: 'Readiness: caught up with the revocation topic and the reader running', response: { 200: READY_SCHEMA, 503: READY_SCHEMA } } }, async (_request, reply) => {
      const caughtUp = consumer.isCaughtUp();
      // A dead reader (failed, or stalled while the broker answers) takes the instance out of rotation.
      const reader = consumer.status();
      const healthy = consumer.isHealthy();
      const freshness = consumer.freshnessSeconds();
      return reply.code(caughtUp && healthy ? 200 : 503).send({
        status: !healthy ? 'reader_down' : caughtUp ? 'ready' : 'catching_up',
        freshness_seconds: Number.isFinite(freshness) ? freshness : null,
        reader: { state: reader.state, reason: reader.reason, restarts: reader.restarts },
      });
    });
    app.get('/metrics', { config, schema: { tags: ['ops'], summary: 'Prometheus metrics (text exposition format)', response: { 200: METRICS_SCHEMA } } }, async (_request, reply) => {
      const body = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(body);
    });
  }

  // Start reading in the background: the consumer retries until the broker answers, and the
  // app must come up (answering /readyz 503) meanwhile.
  app.addHook('onReady', async () => {
    core.start();
  });
  app.addHook('onClose', async () => {
    await core.stop();
  });
}

/**
 * The resource-service verifier: checks bearer tokens locally (signature, claims, alg
 * allow-list), denies revoked ones from a Kafka-fed in-memory denylist, enforces scopes and
 * freshness per route, and exposes `/healthz`, `/readyz`, `/metrics`.
 */
export const revocable = fp(revocablePlugin, { name: '@revocable/fastify', fastify: '5.x' });

export type { AuthDecision };
