import fp from 'fastify-plugin';
import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Denylist } from '@revocable/denylist';
import { RevocationConsumer, type EventTransport } from '@revocable/events';
import {
  INSUFFICIENT_SCOPE,
  SKIP_CODES,
  WWW_AUTHENTICATE_HEADER,
  RETRY_AFTER_HEADER,
  parseBearer,
  type Logger,
  type UnauthorizedReason,
  type UnavailableReason,
} from '@revocable/protocol';
import { TokenVerificationError, type SigningAlgorithm } from '@revocable/tokens';
import { introspectToken, type IntrospectionOptions } from './introspection.ts';
import { createVerifierMetrics, initSkipCodes, type RequestOutcome, type VerifierMetrics } from './metrics.ts';
import { RevokedTokenError, TokenVerifier, type AuthContext } from './verifier.ts';

/** What a route does when the revocation state is older than its freshness bound. */
export type FreshnessPolicy = 'fail-closed' | 'fail-open' | 'introspect';

/** A bound on how old the revocation state may be for a route, and what to do past it. */
export interface FreshnessRequirement {
  /** Largest acceptable age of the revocation state, seconds. */
  maxSeconds: number;
  /**
   * `fail-closed`: answer 503. `fail-open`: serve and log a warning (counted as
   * `allowed_stale`). `introspect`: ask the auth service (RFC 7662); 503 if it cannot answer.
   */
  policy: FreshnessPolicy;
}

/** Per-route options, given as `config: { auth: {...} }` on a route. */
export interface RouteAuthOptions {
  /** No token needed (health checks, public pages). Default false: every route requires a token. */
  public?: boolean;
  /** Every listed scope must be in the token's `scope`, else 403 `insufficient_scope`. */
  scopes?: readonly string[];
  /** Overrides the plugin-wide freshness requirement; `false` turns the check off for this route. */
  freshness?: FreshnessRequirement | false;
}

/** Options of the {@link revocable} plugin. */
export interface RevocableOptions {
  /** Expected `iss` of access tokens. */
  issuer: string;
  /** This service's audience; tokens must carry it in `aud`. */
  audience: string;
  /** JWKS URL of the auth service. Keys are cached; an unknown kid refetches at most once per cooldown. */
  jwksUrl?: string | URL;
  /** Alternative to `jwksUrl`: a key resolver (tests, static keys). */
  getKey?: JWTVerifyGetKey;
  /** Minimum time between two JWKS refetches triggered by unknown kids, milliseconds. Default 5000: bounds refetch load under random-kid floods and how long a freshly rotated key can be refused. */
  jwksCooldownMs?: number;
  /** Longest time a fetched JWKS is used without refetching, milliseconds. Default 600000. */
  jwksCacheMaxAgeMs?: number;
  /** Where revocation events come from (e.g. `createTransport`). */
  transport: EventTransport;
  /** The revocation topic. */
  topic: string;
  /** Allowed signing algorithms. Default `['EdDSA', 'ES256']`. */
  algorithms?: readonly SigningAlgorithm[];
  /** Leeway for `exp`/`nbf`/`iat`, seconds. Default 5. */
  clockToleranceSeconds?: number;
  /** Tokens longer than this are refused before parsing, bytes. Default 8192. */
  maxTokenBytes?: number;
  /** Size of the verified-token cache, entries. Default 10000; 0 disables it. */
  cacheMax?: number;
  /** Default freshness requirement for every protected route. Default: none. */
  freshness?: FreshnessRequirement;
  /** Needed by routes whose freshness policy is `introspect`. */
  introspection?: IntrospectionOptions;
  /** Register `/healthz`, `/readyz` and `/metrics` (public). Default true. */
  healthRoutes?: boolean;
  /** Add prom-client's process/runtime metrics to the registry. Default false. */
  defaultMetrics?: boolean;
  /** Injected clock, epoch milliseconds. Default `Date.now`. */
  now?: () => number;
}

/** The plugin's state, exposed as `app.revocable`. */
export interface RevocableHandle {
  denylist: Denylist;
  consumer: RevocationConsumer;
  verifier: TokenVerifier;
  metrics: VerifierMetrics;
  /** True once the consumer replayed up to the high watermarks seen at start. */
  isReady(): boolean;
  /** Resolves when {@link isReady} becomes true. */
  whenReady(): Promise<void>;
  /** Age of the revocation state, seconds (`Infinity` before any heartbeat). */
  freshnessSeconds(): number;
  /**
   * The request-path decision without a Fastify route: readiness, bearer grammar, verification
   * (by `verifier`, default the plugin's own audience), denylist, scopes, freshness policy;
   * counted in `revocable_requests_total` like the hook's. Used by forward-auth gateways
   * (`services/gate`) that decide for routes they do not serve themselves.
   * @example
   * const decision = await app.revocable.authorize(request.headers.authorization, { scopes: ['orders:write'] });
   * if (!decision.ok) return sendAuthFailure(reply, decision.failure);
   */
  authorize(authorization: string | undefined, route: RouteAuthOptions | undefined, verifier?: TokenVerifier): Promise<AuthDecision>;
  /**
   * A verifier for another audience on the same keys, denylist and options as the plugin's
   * (one per audience, created once). Its cache counts in the verify-cache metrics.
   */
  verifierFor(audience: string): TokenVerifier;
}

/** The outcome of {@link RevocableHandle.authorize}. */
export type AuthDecision = { ok: true; context: AuthContext } | { ok: false; failure: AuthFailure };

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

// Client-facing texts: fixed per reason, so nothing about keys or internals can leak.
const REASON_TEXT: Record<UnauthorizedReason, string> = {
  missing_token: 'a bearer token is required',
  malformed: 'the token is malformed',
  token_too_large: 'the token is too large',
  unsupported_alg: 'the token algorithm is not accepted',
  forbidden_header: 'the token header is not accepted',
  bad_typ: 'the token type is not accepted',
  unknown_kid: 'the token signing key is not known',
  bad_signature: 'the token signature is invalid',
  expired: 'the token has expired',
  not_yet_valid: 'the token is not valid yet',
  wrong_issuer: 'the token issuer is not trusted',
  wrong_audience: 'the token is not meant for this service',
  invalid_claims: 'the token claims are invalid',
  keys_unavailable: 'the token cannot be verified right now',
  revoked: 'the token has been revoked',
};

const UNAVAILABLE_TEXT: Record<UnavailableReason, string> = {
  not_ready: 'the service is catching up with revocations',
  stale_revocation_state: 'revocation state is too old to decide safely',
  introspection_failed: 'the token cannot be checked with the issuer right now',
  keys_unavailable: 'the token cannot be verified right now',
};

const STALE_WARN_INTERVAL_MS = 10_000;

/** An authentication/authorisation failure; the only place that turns them into HTTP answers is {@link authFailureResponse}. */
export type AuthFailure =
  | { status: 401; reason: UnauthorizedReason }
  | { status: 403; scopes: readonly string[] }
  | { status: 503; reason: UnavailableReason };

/** The HTTP answer to an {@link AuthFailure}: status, headers (lower-case names) and JSON body. */
export function authFailureResponse(failure: AuthFailure): { status: 401 | 403 | 503; headers: Record<string, string>; body: { error: string; error_description: string; reason: string } } {
  switch (failure.status) {
    case 401:
      return {
        status: 401,
        // RFC 6750 §3.1: no error code when the request carried no credentials.
        headers: {
          [WWW_AUTHENTICATE_HEADER]: failure.reason === 'missing_token' ? 'Bearer' : `Bearer error="invalid_token", error_description="${failure.reason}"`,
        },
        body: { error: 'invalid_token', error_description: REASON_TEXT[failure.reason], reason: failure.reason },
      };
    case 403:
      return {
        status: 403,
        headers: { [WWW_AUTHENTICATE_HEADER]: `Bearer error="insufficient_scope", scope="${failure.scopes.join(' ')}"` },
        body: {
          error: 'insufficient_scope',
          error_description: `this route requires the scope(s): ${failure.scopes.join(' ')}`,
          reason: INSUFFICIENT_SCOPE,
        },
      };
    case 503:
      return {
        status: 503,
        headers: { [RETRY_AFTER_HEADER]: '1' },
        body: { error: 'temporarily_unavailable', error_description: UNAVAILABLE_TEXT[failure.reason], reason: failure.reason },
      };
  }
}

/** Sends {@link authFailureResponse} of `failure` on `reply`. */
export function sendAuthFailure(reply: FastifyReply, failure: AuthFailure): FastifyReply {
  const answer = authFailureResponse(failure);
  return reply.code(answer.status).headers(answer.headers).send(answer.body);
}

async function revocablePlugin(app: FastifyInstance, options: RevocableOptions): Promise<void> {
  const now = options.now ?? Date.now;
  const getKey = resolveKeys(options);
  const logger = app.log as unknown as Logger;
  const denylist = new Denylist({ now });

  let metrics: VerifierMetrics | undefined;
  const consumer = new RevocationConsumer({
    transport: options.transport,
    topic: options.topic,
    now,
    logger,
    onEvent: (event) => denylist.apply(event),
    onApplied: (event, latencyMs) => {
      metrics?.eventsApplied.inc({ type: event.type });
      metrics?.eventApplyLatency.observe({ phase: consumer.isCaughtUp() ? 'live' : 'replay' }, latencyMs / 1000);
    },
    onSkip: (code, detail, meta) => {
      metrics?.eventsSkipped.inc({ code });
      logger.warn({ code, detail, partition: meta.partition, offset: meta.offset }, 'skipped a revocation record');
    },
  });
  const newVerifier = (audience: string) => new TokenVerifier({
    issuer: options.issuer,
    audience,
    getKey,
    denylist,
    now,
    ...(options.algorithms !== undefined ? { algorithms: options.algorithms } : {}),
    ...(options.clockToleranceSeconds !== undefined ? { clockToleranceSeconds: options.clockToleranceSeconds } : {}),
    ...(options.maxTokenBytes !== undefined ? { maxTokenBytes: options.maxTokenBytes } : {}),
    ...(options.cacheMax !== undefined ? { cacheMax: options.cacheMax } : {}),
  });
  const verifier = newVerifier(options.audience);
  const verifiers = new Map<string, TokenVerifier>([[options.audience, verifier]]);
  const verifierFor = (audience: string): TokenVerifier => {
    let found = verifiers.get(audience);
    if (found === undefined) {
      found = newVerifier(audience);
      verifiers.set(audience, found);
    }
    return found;
  };
  metrics = createVerifierMetrics(
    {
      denylistSize: () => denylist.size(),
      lagByPartition: () => consumer.stats().lagByPartition,
      freshnessSeconds: () => consumer.freshnessSeconds(),
      ready: () => consumer.isCaughtUp(),
      reader: () => consumer.status(),
      cacheStats: () => {
        const total = { hits: 0, misses: 0, size: 0 };
        for (const v of verifiers.values()) {
          const stats = v.cacheStats();
          total.hits += stats.hits;
          total.misses += stats.misses;
          total.size += stats.size;
        }
        return total;
      },
    },
    { defaultMetrics: options.defaultMetrics === true },
  );
  initSkipCodes(metrics, SKIP_CODES);
  const m = metrics;

  const handle: RevocableHandle = {
    denylist,
    consumer,
    verifier,
    metrics: m,
    isReady: () => consumer.isCaughtUp(),
    whenReady: () => consumer.whenCaughtUp(),
    freshnessSeconds: () => consumer.freshnessSeconds(),
    authorize: (authorization, route, tokenVerifier) => authorize(authorization, route, tokenVerifier ?? verifier, app.log),
    verifierFor,
  };
  app.decorate('revocable', handle);
  app.decorateRequest('auth', null);

  const count = (outcome: RequestOutcome, reason: string) => m.requests.inc({ outcome, reason });
  // Fail-open is an alarm, but one log line per request would bury everything else.
  let lastStaleWarnMs = Number.NEGATIVE_INFINITY;
  let staleServed = 0;

  // Misconfigured routes fail at startup, not on the first stale request.
  app.addHook('onRoute', (route) => {
    const auth = (route.config as { auth?: RouteAuthOptions } | undefined)?.auth;
    const freshness = auth?.freshness ?? options.freshness;
    const where = `${String(route.method)} ${route.url}`;
    if (freshness !== undefined && freshness !== false) {
      if (!(Number.isFinite(freshness.maxSeconds) && freshness.maxSeconds > 0)) {
        throw new TypeError(`revocable: ${where}: freshness.maxSeconds must be a positive number of seconds`);
      }
      if (!['fail-closed', 'fail-open', 'introspect'].includes(freshness.policy)) {
        throw new TypeError(`revocable: ${where}: freshness.policy must be fail-closed, fail-open or introspect`);
      }
      if (freshness.policy === 'introspect' && options.introspection === undefined) {
        throw new TypeError(`revocable: ${where}: the introspect policy needs the plugin's introspection option`);
      }
    }
    if (auth?.scopes !== undefined && !(Array.isArray(auth.scopes) && auth.scopes.every((s) => typeof s === 'string' && /^[\x21\x23-\x5b\x5d-\x7e]+$/.test(s)))) {
      throw new TypeError(`revocable: ${where}: scopes must be an array of RFC 6749 scope tokens`);
    }
  });

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    // Unmatched URLs fall through to the 404 handler without asking for a token.
    if (request.routeOptions.url === undefined) return;
    const routeAuth = request.routeOptions.config.auth;
    if (routeAuth?.public === true) return;
    const decision = await authorize(request.headers.authorization, routeAuth, verifier, request.log);
    if (!decision.ok) return sendAuthFailure(reply, decision.failure);
    request.auth = decision.context;
  });

  async function authorize(
    authorization: string | undefined,
    routeAuth: RouteAuthOptions | undefined,
    tokenVerifier: TokenVerifier,
    log: { warn(obj: object, msg: string): void },
  ): Promise<AuthDecision> {
    const deny = (failure: AuthFailure): AuthDecision => ({ ok: false, failure });

    // Before the replay reached the start watermarks the denylist is incomplete: serving would
    // let a token revoked while this instance was down through.
    if (!consumer.isCaughtUp()) {
      count('unavailable', 'not_ready');
      return deny({ status: 503, reason: 'not_ready' });
    }

    const bearer = parseBearer(authorization);
    if (!bearer.ok) {
      count('unauthorized', bearer.reason);
      return deny({ status: 401, reason: bearer.reason });
    }
    const token = bearer.token;

    let context: AuthContext;
    try {
      context = (await tokenVerifier.verify(token)).context;
    } catch (error) {
      if (!(error instanceof TokenVerificationError)) throw error;
      if (error.reason === 'keys_unavailable') {
        // Our problem, not the token's: a 401 would make clients throw away good tokens.
        count('unavailable', 'keys_unavailable');
        log.warn({ code: error.code }, 'signing keys could not be resolved');
        return deny({ status: 503, reason: 'keys_unavailable' });
      }
      count('unauthorized', error instanceof RevokedTokenError ? `revoked_${error.kind}` : error.reason);
      return deny({ status: 401, reason: error.reason });
    }

    const required = routeAuth?.scopes ?? [];
    if (required.some((scope) => !context.scopes.has(scope))) {
      count('forbidden', 'insufficient_scope');
      return deny({ status: 403, scopes: required });
    }

    const freshness = routeAuth?.freshness ?? options.freshness;
    if (freshness !== undefined && freshness !== false) {
      const age = consumer.freshnessSeconds();
      if (age > freshness.maxSeconds) {
        switch (freshness.policy) {
          case 'fail-closed':
            count('unavailable', 'stale_revocation_state');
            return deny({ status: 503, reason: 'stale_revocation_state' });
          case 'fail-open':
            count('allowed_stale', 'ok');
            staleServed++;
            if (now() - lastStaleWarnMs >= STALE_WARN_INTERVAL_MS) {
              lastStaleWarnMs = now();
              log.warn({ freshnessSeconds: age, maxSeconds: freshness.maxSeconds, servedStale: staleServed }, 'serving with stale revocation state (fail-open)');
              staleServed = 0;
            }
            return { ok: true, context };
          case 'introspect': {
            const answer = await introspect(token);
            if (answer === 'active') break;
            if (answer === 'inactive') {
              count('unauthorized', 'revoked_introspection');
              return deny({ status: 401, reason: 'revoked' });
            }
            count('unavailable', 'introspection_failed');
            return deny({ status: 503, reason: 'introspection_failed' });
          }
        }
      }
    }
    count('allowed', 'ok');
    return { ok: true, context };
  }

  async function introspect(token: string): Promise<'active' | 'inactive' | 'failed'> {
    // Unreachable for routes (checked in onRoute); kept so the type narrows.
    if (options.introspection === undefined) return 'failed';
    try {
      const { active } = await introspectToken(token, options.introspection);
      m.introspections.inc({ result: active ? 'active' : 'inactive' });
      return active ? 'active' : 'inactive';
    } catch (error) {
      m.introspections.inc({ result: 'failed' });
      app.log.warn({ err: error }, 'token introspection failed');
      return 'failed';
    }
  }

  if (options.healthRoutes !== false) {
    const publicRoute = { config: { auth: { public: true } } };
    app.get('/healthz', publicRoute, async () => ({ status: 'ok' }));
    app.get('/readyz', publicRoute, async (_request, reply) => {
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
    app.get('/metrics', publicRoute, async (_request, reply) => {
      const body = await m.registry.metrics();
      return reply.type(m.registry.contentType).send(body);
    });
  }

  // Start reading in the background: the consumer retries until the broker answers, and the
  // app must come up (answering /readyz 503) meanwhile.
  app.addHook('onReady', async () => {
    consumer.start().catch((error: unknown) => app.log.error({ err: error }, 'revocation consumer failed to start'));
  });
  app.addHook('onClose', async () => {
    await consumer.stop();
  });
}

function resolveKeys(options: RevocableOptions): JWTVerifyGetKey {
  if (options.getKey !== undefined) return options.getKey;
  if (options.jwksUrl === undefined) throw new TypeError('revocable: either jwksUrl or getKey is required');
  return createRemoteJWKSet(new URL(options.jwksUrl), {
    cooldownDuration: options.jwksCooldownMs ?? 5_000,
    cacheMaxAge: options.jwksCacheMaxAgeMs ?? 600_000,
    timeoutDuration: 3000,
  });
}

/**
 * The resource-service verifier: checks bearer tokens locally (signature, claims, alg
 * allow-list), denies revoked ones from a Kafka-fed in-memory denylist, enforces scopes and
 * freshness per route, and exposes `/healthz`, `/readyz`, `/metrics`.
 */
export const revocable = fp(revocablePlugin, { name: '@revocable/fastify', fastify: '5.x' });
