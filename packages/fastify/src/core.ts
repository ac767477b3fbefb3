import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';
import { Denylist, type DenylistCaps } from '@revocable/denylist';
import { EventKeyRing, ReceiptPublisher, RevocationConsumer, type EventJwk, type EventTransport, type HeartbeatVerifier } from '@revocable/events';
import { Counter } from 'prom-client';
import { DENIAL_KINDS, EVENT_KEY_KID_PREFIX, HEARTBEAT_REJECT_CODES, SKIP_CODES, isToken68, locateBearer, type BearerFailure, type DenialKind, type Logger, type SkipCode } from '@revocable/protocol';
import { MAX_ACCESS_TTL_SECONDS, TokenVerificationError, type VerificationAlgorithm } from '@revocable/tokens';
import {
  decide,
  type AuthFailure,
  type Decision,
  type FreshnessRequirement,
  type FreshnessState,
  type RequestCount,
  type RouteAuthOptions,
  type RoutePolicy,
  type TokenState,
} from './decide.ts';
import { JwksEventKeys } from './event-keys.ts';
import { introspectToken, type IntrospectionOptions } from './introspection.ts';
import { createVerifierMetrics, initSkipCodes, type BuildInfo, type RequestCell, type VerifierMetrics } from './metrics.ts';
import { RevokedTokenError, TokenVerifier, type AuthContext, type TokenCheck } from './verifier.ts';

/** Options of {@link createVerifierCore} (and of the `revocable` plugin). */
export interface VerifierCoreOptions {
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
  /** Allowed signing algorithms. Default `['EdDSA', 'Ed25519', 'ES256', 'RS256']` (RS256 keys of at least 2048 bits). */
  algorithms?: readonly VerificationAlgorithm[];
  /** Leeway for `exp`/`nbf`/`iat`, seconds. Default 5. */
  clockToleranceSeconds?: number;
  /** Tokens longer than this are refused before parsing, bytes. Default 8192. */
  maxTokenBytes?: number;
  /** Longest accepted token lifetime (`exp - iat`), seconds. Default 3600, the issuer's longest ACCESS_TTL_SECONDS (`MAX_ACCESS_TTL_SECONDS`). */
  maxTokenLifetimeSeconds?: number;
  /**
   * Most live denylist entries per kind (defaults: `DEFAULT_DENYLIST_CAPS` of
   * @revocable/denylist). A revocation beyond its kind's cap is not stored but counted
   * (`revocable_denylist_overflows_total`), and every token the denylist does not deny is then
   * refused with 503 `denylist_overflow` until the refused entry could no longer cover an
   * acceptable token (at most the token lifetime + clock tolerance + 60 s).
   */
  denylistMaxEntries?: Partial<DenylistCaps>;
  /** Size of the verified-token cache, entries. Default 10000; 0 disables it. */
  cacheMax?: number;
  /** Default freshness requirement for every protected route. Default: none. */
  freshness?: FreshnessRequirement;
  /** Needed by routes whose freshness policy is `introspect`. */
  introspection?: IntrospectionOptions;
  /** Add prom-client's process/runtime metrics to the registry. Default false. */
  defaultMetrics?: boolean;
  /** Adds `revocable_build_info{service, version, node}` to the registry. Default: none. */
  buildInfo?: BuildInfo;
  /**
   * Report applied revocation events and announce this instance on the receipts topic (see
   * `ReceiptPublisher` in @revocable/events). Default: off.
   */
  receipts?: ReceiptOptions;
  /**
   * The issuer's event-signing public keys (JWKs marked for event signing), instead of the
   * ones `jwksUrl` serves: tests, static setups. Heartbeats count only when signed by one.
   */
  heartbeatKeys?: readonly EventJwk[];
  /**
   * A heartbeat whose `at` is further than this from the local clock is not counted
   * (`ERR_HEARTBEAT_SKEWED`), seconds. Default 60: the relay's and this host's clocks may
   * disagree by less; freshness itself never reads `at`.
   */
  heartbeatMaxSkewSeconds?: number;
  /** Injected clock, epoch milliseconds. Default `Date.now`. */
  now?: () => number;
  /**
   * Monotonic clock for freshness, milliseconds (any origin). Default `now` when `now` is
   * injected, else `performance.now`.
   */
  monotonicNow?: () => number;
}

/** Options of the receipts an instance sends (see {@link VerifierCoreOptions.receipts}). */
export interface ReceiptOptions {
  /** The receipts topic (the auth service creates it). */
  topic: string;
  /** This instance's id, unique in the fleet (1–128 of `[A-Za-z0-9_.:@/+=-]`). */
  instance: string;
  /** Service name, e.g. `orders`. */
  service: string;
  /** Audiences this instance serves. Default `[audience]`. */
  audiences?: readonly string[];
  /** Announce interval, milliseconds. Default 2000; the instance stops counting as live after 3 missed. */
  announceIntervalMs?: number;
}

/** Replayed events younger than this still get a receipt (an instance restarting while a revocation waits). */
const REPLAY_RECEIPT_WINDOW_MS = 60_000;

/** The outcome of {@link VerifierCore.authorize}. */
export type AuthDecision = { ok: true; context: AuthContext } | { ok: false; failure: AuthFailure };

/**
 * The verifier without any HTTP framework: the denylist, the consumer feeding it from the
 * revocation topic, the token verifier(s), the metrics, and {@link authorize} (the request-path
 * decision, executed). The `revocable` Fastify plugin is a thin layer over it; a forward-auth
 * gateway can use it directly.
 */
export interface VerifierCore {
  denylist: Denylist;
  consumer: RevocationConsumer;
  /** The verifier of {@link VerifierCoreOptions.audience}. */
  verifier: TokenVerifier;
  metrics: VerifierMetrics;
  /** True once the consumer replayed up to the high watermarks seen at start. */
  isReady(): boolean;
  /** Resolves when {@link isReady} becomes true. */
  whenReady(): Promise<void>;
  /** Age of the revocation state, seconds (`Infinity` before any heartbeat). */
  freshnessSeconds(): number;
  /**
   * The request-path decision for one request, executed: readiness, bearer grammar,
   * verification (by `verifier`, default the core's own audience), denylist, scopes,
   * freshness policy (asking the issuer for `introspect`), counted in
   * `revocable_requests_total`. `log` receives the warnings (default the core's logger).
   * Answers synchronously when nothing has to be waited for (a cached token, a refusal
   * before verification) and with a promise otherwise: `await` it either way.
   * @example
   * const decision = await core.authorize(request.headers.authorization, { scopes: ['orders:write'] });
   * if (!decision.ok) return sendAuthFailure(reply, decision.failure);
   */
  authorize(authorization: string | undefined, route?: RouteAuthOptions, verifier?: TokenVerifier, log?: Pick<Logger, 'warn'>): AuthDecision | Promise<AuthDecision>;
  /**
   * A verifier for another audience on the same keys, denylist and options (one per audience,
   * created once). Its cache counts in the verify-cache metrics.
   */
  verifierFor(audience: string): TokenVerifier;
  /**
   * Checks a route's options against this core at startup (throws `TypeError` naming `where`):
   * freshness bounds positive, known policies, `introspect` only with the introspection
   * option, scopes RFC 6749 scope tokens.
   */
  checkRoute(where: string, route: RouteAuthOptions | undefined): void;
  /** Starts reading the topic in the background (retries until the broker answers). */
  start(): void;
  /** Stops the consumer. */
  stop(): Promise<void>;
}

const STALE_WARN_INTERVAL_MS = 10_000;
/** Skipped heartbeats are logged at most this often (a starting instance skips every old one). */
const HEARTBEAT_SKIP_WARN_INTERVAL_MS = 10_000;
const HEARTBEAT_CODES: ReadonlySet<SkipCode> = new Set(HEARTBEAT_REJECT_CODES);
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;
const NOT_CHECKED: TokenState = Object.freeze({ kind: 'unchecked' });
const KEYS_UNAVAILABLE: TokenState = Object.freeze({ kind: 'keys_unavailable' });
const UNUSABLE: Record<BearerFailure, TokenState> = {
  missing_token: Object.freeze({ kind: 'unusable', reason: 'missing_token' }),
  malformed: Object.freeze({ kind: 'unusable', reason: 'malformed' }),
  token_too_large: Object.freeze({ kind: 'unusable', reason: 'token_too_large' }),
};
const REVOKED = Object.fromEntries(DENIAL_KINDS.map((by) => [by, Object.freeze({ kind: 'revoked', by })])) as Record<DenialKind, TokenState>;
const NOT_READY: FreshnessState = Object.freeze({ ready: false, ageSeconds: 0 });
// The age only matters past a freshness bound; decide() does not read it without one.
const READY_UNBOUNDED: FreshnessState = Object.freeze({ ready: true, ageSeconds: 0 });
const NO_SCOPES: readonly string[] = Object.freeze([]);

/**
 * Builds the {@link VerifierCore}: nothing is read until {@link VerifierCore.start}.
 * @example
 * const core = createVerifierCore({ issuer, audience: 'orders', jwksUrl, transport, topic, logger });
 * core.start();
 * await core.whenReady();
 * const decision = await core.authorize(`Bearer ${token}`);
 */
export function createVerifierCore(options: VerifierCoreOptions & { logger: Logger }): VerifierCore {
  const now = options.now ?? Date.now;
  const logger = options.logger;
  const getKey = refuseEventKeys(resolveKeys(options));
  // An entry must deny as long as the verifier accepts the tokens it covers: past `exp` by the clock tolerance.
  const graceSeconds = Math.max(60, options.clockToleranceSeconds ?? 0);
  // Past a refusal, a token it covers can be accepted for at most its lifetime + leeway
  // (+ the denylist's own grace): the overflow cannot close the service for longer.
  const failClosedMaxSeconds = (options.maxTokenLifetimeSeconds ?? MAX_ACCESS_TTL_SECONDS) + Math.ceil(options.clockToleranceSeconds ?? 5) + graceSeconds;
  const denylist = new Denylist({ now, graceSeconds, failClosedMaxSeconds, ...(options.denylistMaxEntries !== undefined ? { maxEntries: options.denylistMaxEntries } : {}) });
  const jwksEventKeys =
    options.heartbeatKeys === undefined && options.jwksUrl !== undefined
      ? new JwksEventKeys({
          url: new URL(options.jwksUrl),
          cooldownMs: options.jwksCooldownMs ?? 5_000,
          maxAgeMs: options.jwksCacheMaxAgeMs ?? 600_000,
          logger,
        })
      : undefined;
  const heartbeatVerifier: HeartbeatVerifier | undefined =
    options.heartbeatKeys !== undefined ? new EventKeyRing({ keys: options.heartbeatKeys }) : jwksEventKeys?.ring;
  if (heartbeatVerifier === undefined) {
    logger.warn({}, 'no event-signing keys (neither jwksUrl nor heartbeatKeys): no heartbeat counts, routes with a freshness bound see stale state');
  }
  let lastHeartbeatSkipWarnMs = Number.NEGATIVE_INFINITY;
  let heartbeatSkips = 0;

  let metrics: VerifierMetrics | undefined;
  let receipts: ReceiptPublisher | undefined;
  const createReceipts = (o: ReceiptOptions, vm: VerifierMetrics): ReceiptPublisher => {
    const sent = new Counter({ name: 'revocable_receipts_sent_total', help: 'Receipt records acknowledged by Kafka, by kind (applied, announce).', labelNames: ['kind'] as const, registers: [vm.registry] });
    const dropped = new Counter({ name: 'revocable_receipts_dropped_total', help: 'Receipts dropped because Kafka was unreachable for too long (bounded buffer).', registers: [vm.registry] });
    for (const kind of ['applied', 'announce']) sent.inc({ kind }, 0);
    return new ReceiptPublisher({
      transport: options.transport,
      topic: o.topic,
      instance: o.instance,
      service: o.service,
      audiences: o.audiences ?? [options.audience],
      ...(o.announceIntervalMs !== undefined ? { announceIntervalMs: o.announceIntervalMs } : {}),
      state: () => {
        const freshness = consumer.freshnessSeconds();
        let lag = 0;
        for (const value of consumer.stats().lagByPartition.values()) lag += value;
        return { ready: consumer.isCaughtUp(), freshnessSeconds: Number.isFinite(freshness) ? freshness : null, lag };
      },
      onSent: (kind) => sent.inc({ kind }),
      onDropped: (count) => dropped.inc(count),
      now,
      logger,
    });
  };
  const consumer = new RevocationConsumer({
    transport: options.transport,
    topic: options.topic,
    now,
    ...(options.monotonicNow !== undefined ? { monotonicNow: options.monotonicNow } : {}),
    ...(heartbeatVerifier !== undefined ? { heartbeatVerifier } : {}),
    heartbeatMaxSkewMs: (options.heartbeatMaxSkewSeconds ?? 60) * 1000,
    logger,
    onEvent: (event) => {
      denylist.apply(event);
      // A revoked key's verified tokens leave the cache at once (see TokenVerifier.forgetKid).
      if (event.type === 'key.revoked') for (const v of verifiers.values()) v.forgetKid(event.kid);
    },
    onApplied: (event, latencyMs) => {
      const phase = consumer.isCaughtUp() ? 'live' : 'replay';
      metrics?.eventsApplied.inc({ type: event.type });
      metrics?.eventApplyLatency.observe({ phase, type: event.type }, latencyMs / 1000);
      if (receipts !== undefined) {
        const appliedAt = now();
        if (phase === 'live' || appliedAt - event.at < REPLAY_RECEIPT_WINDOW_MS) receipts.applied(event, appliedAt, phase);
      }
    },
    onSkip: (code, detail, meta) => {
      metrics?.eventsSkipped.inc({ code });
      if (HEARTBEAT_CODES.has(code)) {
        // One line per interval: a replay skips every old heartbeat, a forger may write many.
        heartbeatSkips++;
        if (performance.now() - lastHeartbeatSkipWarnMs < HEARTBEAT_SKIP_WARN_INTERVAL_MS) return;
        lastHeartbeatSkipWarnMs = performance.now();
        logger.warn({ code, detail, partition: meta.partition, offset: meta.offset, skippedHeartbeats: heartbeatSkips }, 'heartbeats not counted for freshness');
        heartbeatSkips = 0;
        return;
      }
      logger.warn({ code, detail, partition: meta.partition, offset: meta.offset }, 'skipped a revocation record');
    },
  });
  const newVerifier = (audience: string) =>
    new TokenVerifier({
      issuer: options.issuer,
      audience,
      getKey,
      denylist,
      now,
      ...(options.algorithms !== undefined ? { algorithms: options.algorithms } : {}),
      ...(options.clockToleranceSeconds !== undefined ? { clockToleranceSeconds: options.clockToleranceSeconds } : {}),
      ...(options.maxTokenBytes !== undefined ? { maxTokenBytes: options.maxTokenBytes } : {}),
      ...(options.maxTokenLifetimeSeconds !== undefined ? { maxLifetimeSeconds: options.maxTokenLifetimeSeconds } : {}),
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
      denylistCaps: () => denylist.caps(),
      denylistOverflows: () => denylist.overflows(),
      denylistFailClosedUntil: () => denylist.failClosedUntil(),
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
    { defaultMetrics: options.defaultMetrics === true, ...(options.buildInfo !== undefined ? { buildInfo: options.buildInfo } : {}) },
  );
  initSkipCodes(metrics, SKIP_CODES);
  const m = metrics;
  if (options.receipts !== undefined) receipts = createReceipts(options.receipts, m);

  // Route policies are merged once per route options object, not per request.
  const defaultPolicy: RoutePolicy = Object.freeze({ scopes: NO_SCOPES, freshness: options.freshness });
  const policies = new WeakMap<RouteAuthOptions, RoutePolicy>();
  const policyOf = (route: RouteAuthOptions | undefined): RoutePolicy => {
    if (route === undefined) return defaultPolicy;
    let policy = policies.get(route);
    if (policy === undefined) {
      const freshness = route.freshness ?? options.freshness;
      policy = Object.freeze({ scopes: route.scopes ?? NO_SCOPES, freshness: freshness === false ? undefined : freshness });
      policies.set(route, policy);
    }
    return policy;
  };

  // Fail-open is an alarm, but one log line per request would bury everything else.
  let lastStaleWarnMs = Number.NEGATIVE_INFINITY;
  let staleServed = 0;

  function stateOf(checked: TokenCheck): TokenState {
    return checked.denied !== null ? REVOKED[checked.denied] : { kind: 'valid', context: checked.context };
  }

  function stateOfError(error: unknown, log: Pick<Logger, 'warn'>): TokenState {
    if (!(error instanceof TokenVerificationError)) throw error;
    if (error instanceof RevokedTokenError) return REVOKED[error.kind];
    if (error.reason === 'keys_unavailable') {
      log.warn({ code: error.code }, 'signing keys could not be resolved');
      return KEYS_UNAVAILABLE;
    }
    return { kind: 'rejected', reason: error.reason };
  }

  async function introspect(token: string): Promise<'active' | 'inactive' | 'failed'> {
    // Unreachable for checked routes (checkRoute); kept so the type narrows.
    if (options.introspection === undefined) return 'failed';
    try {
      const { active } = await introspectToken(token, options.introspection);
      m.introspections.inc({ result: active ? 'active' : 'inactive' });
      return active ? 'active' : 'inactive';
    } catch (error) {
      m.introspections.inc({ result: 'failed' });
      logger.warn({ err: error }, 'token introspection failed');
      return 'failed';
    }
  }

  // One tally cell per distinct sample (decide() interns its samples), so a request's count
  // is one integer increment, read by the counter at scrape time.
  const cells = new Map<RequestCount, RequestCell>();
  const countOf = (count: RequestCount): RequestCell => {
    let cell = cells.get(count);
    if (cell === undefined) {
      cell = m.requests.cell(count.outcome, count.reason);
      cells.set(count, cell);
    }
    return cell;
  };

  /** Executes a final decision: the metric sample, the rate-limited fail-open warning. */
  function execute(decision: Exclude<Decision, { verdict: 'introspect' }>, log: Pick<Logger, 'warn'>): AuthDecision {
    countOf(decision.count).n++;
    if (decision.verdict === 'deny') return { ok: false, failure: decision.failure };
    if (decision.stale !== undefined) {
      staleServed++;
      if (now() - lastStaleWarnMs >= STALE_WARN_INTERVAL_MS) {
        lastStaleWarnMs = now();
        log.warn({ freshnessSeconds: decision.stale.ageSeconds, maxSeconds: decision.stale.maxSeconds, servedStale: staleServed }, 'serving with stale revocation state (fail-open)');
        staleServed = 0;
      }
    }
    return { ok: true, context: decision.context };
  }

  /** decide() on a known token state, then (only for `introspect`) again with the issuer's answer. */
  function settle(state: TokenState, policy: RoutePolicy, token: string | undefined, log: Pick<Logger, 'warn'>): AuthDecision | Promise<AuthDecision> {
    let freshness: FreshnessState = policy.freshness === undefined ? READY_UNBOUNDED : { ready: true, ageSeconds: consumer.freshnessSeconds() };
    // Read only for a token local state would serve: a refused one needs no overflow check.
    if (state.kind === 'valid' && denylist.failingClosed()) {
      // Tokens are served again from the second failClosedUntil names.
      const retryAfter = Math.max(1, Math.ceil(denylist.failClosedUntil() - now() / 1000));
      freshness = { ...freshness, overflow: true, overflowRetryAfterSeconds: retryAfter };
    }
    const decision = decide(state, policy, freshness);
    if (decision.verdict !== 'introspect') return execute(decision, log);
    const asked = token === undefined ? Promise.resolve('failed' as const) : introspect(token);
    return asked.then((introspection) => {
      const final = decide(state, policy, { ...freshness, introspection });
      // decide() only asks once: with an answer it always settles.
      if (final.verdict === 'introspect') throw new Error('revocable: decide() asked to introspect twice');
      return execute(final, log);
    });
  }

  function authorize(
    authorization: string | undefined,
    route?: RouteAuthOptions,
    tokenVerifier: TokenVerifier = verifier,
    log: Pick<Logger, 'warn'> = logger,
  ): AuthDecision | Promise<AuthDecision> {
    const policy = policyOf(route);
    // Not ready: the answer is 503 whatever the token, so no verification work is spent.
    if (!consumer.isCaughtUp()) return execute(decide(NOT_CHECKED, policy, NOT_READY) as Exclude<Decision, { verdict: 'introspect' }>, log);
    // Cache first: a token equal to one verified before needs no character check (parseBearer
    // = locateBearer + isToken68), which would read all ~500 characters on every request.
    const bearer = locateBearer(authorization);
    if (!bearer.ok) return settle(UNUSABLE[bearer.reason], policy, undefined, log);
    const token = bearer.token;
    const hit = tokenVerifier.cached(token);
    if (hit !== undefined) return settle(stateOf(hit), policy, token, log);
    if (!isToken68(token)) return settle(UNUSABLE.malformed, policy, undefined, log);
    return tokenVerifier.checkUncached(token).then(
      (result) => settle(stateOf(result), policy, token, log),
      (error: unknown) => settle(stateOfError(error, log), policy, token, log),
    );
  }

  function checkRoute(where: string, route: RouteAuthOptions | undefined): void {
    const freshness = route?.freshness ?? options.freshness;
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
    if (route?.scopes !== undefined && !(Array.isArray(route.scopes) && route.scopes.every((s) => typeof s === 'string' && SCOPE_TOKEN.test(s)))) {
      throw new TypeError(`revocable: ${where}: scopes must be an array of RFC 6749 scope tokens`);
    }
  }

  return {
    denylist,
    consumer,
    verifier,
    metrics: m,
    isReady: () => consumer.isCaughtUp(),
    whenReady: () => consumer.whenCaughtUp(),
    freshnessSeconds: () => consumer.freshnessSeconds(),
    authorize,
    verifierFor,
    checkRoute,
    start: () => {
      void jwksEventKeys?.start();
      consumer.start().catch((error: unknown) => logger.error({ err: error }, 'revocation consumer failed to start'));
      receipts?.start();
    },
    stop: async () => {
      // Announce leaving first: the auth service stops waiting for this instance at once.
      await receipts?.stop();
      jwksEventKeys?.stop();
      await consumer.stop();
    },
  };
}

/** Token keys only: an event-signing key (`evt.` kid) never verifies an access token. */
function refuseEventKeys(getKey: JWTVerifyGetKey): JWTVerifyGetKey {
  return (header, token) => {
    if (typeof header.kid === 'string' && header.kid.startsWith(EVENT_KEY_KID_PREFIX)) {
      throw new TokenVerificationError('unknown_kid', 'no key matches the token');
    }
    return getKey(header, token);
  };
}

function resolveKeys(options: VerifierCoreOptions): JWTVerifyGetKey {
  if (options.getKey !== undefined) return options.getKey;
  if (options.jwksUrl === undefined) throw new TypeError('revocable: either jwksUrl or getKey is required');
  return createRemoteJWKSet(new URL(options.jwksUrl), {
    cooldownDuration: options.jwksCooldownMs ?? 5_000,
    cacheMaxAge: options.jwksCacheMaxAgeMs ?? 600_000,
    timeoutDuration: 3000,
  });
}
