import fastifyCookie from '@fastify/cookie';
import fastifyFormbody from '@fastify/formbody';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { createEventBuilder, revocationTopicSpec, type EventTransport } from '@revocable/events';
import { serviceLogOptions, transportFromConfig, useRequestLog } from '@revocable/kit';
import type { Logger } from '@revocable/protocol';
import { ClientRegistry } from './clients.ts';
import type { AuthConfig } from './config.ts';
import { createPool, type Pool } from './db.ts';
import { AuthError } from './errors.ts';
import { CachedKeyResolver } from './key-resolver.ts';
import { EventKeyStore } from './event-keys.ts';
import { KeyStore } from './keys.ts';
import { hashQueueFromConfig } from './hash-queue.ts';
import { createMetrics, type AuthMetrics } from './metrics.ts';
import { expectedMigrations, runMigrations } from './migrate.ts';
import { createPasswordHasher, type PasswordHasher } from './password.ts';
import { clientAuthLimitPlugin } from './plugins/client-auth-limit.ts';
import { clientIpOf, clientIpPlugin } from './plugins/client-ip.ts';
import { contextPlugin, CSRF_HEADER } from './plugins/context.ts';
import { corsPlugin } from './plugins/cors.ts';
import { errorHandlerPlugin } from './plugins/errors.ts';
import { internalListenerPlugin } from './plugins/internal-listener.ts';
import { propagationWaitPlugin } from './plugins/propagation-wait.ts';
import { documentAuthRoute } from './openapi.ts';
import { PropagationTracker } from './propagation.ts';
import { ReceiptsReader } from './receipts-reader.ts';
import { OutboxRelay } from './relay.ts';
import { accountRoutes } from './routes/account.ts';
import { adminRoutes } from './routes/admin.ts';
import { consoleRoutes } from './routes/console.ts';
import { liveRoutes } from './routes/live.ts';
import { propagationRoutes } from './routes/propagation.ts';
import { healthRoutes } from './routes/health.ts';
import { oauthRoutes } from './routes/oauth.ts';
import { wellKnownRoutes } from './routes/wellknown.ts';
import { AccessTokenService } from './services/access-tokens.ts';
import { AdminDirectory } from './services/admin-directory.ts';
import { AccountService } from './services/accounts.ts';
import { purgeExpired } from './services/housekeeping.ts';
import { KeyAdminService } from './services/key-admin.ts';
import { LoginThrottle } from './services/login-throttle.ts';
import { Revocations } from './services/revocations.ts';
import { SessionService } from './services/sessions.ts';
import { longestLiveTtlSeconds, recordTtlInForce, TTL_LEASE_RENEW_INTERVAL_MS, type TtlPeriod } from './ttl-history.ts';

/** The services of the auth service, each with one concern (see the README's layout). */
export interface AuthServices {
  /** The OAuth client registry (CLIENTS + INTROSPECTION_CLIENTS), audiences and scopes. */
  clients: ClientRegistry;
  accounts: AccountService;
  sessions: SessionService;
  tokens: AccessTokenService;
  keyAdmin: KeyAdminService;
  /** The admin's lookups: accounts by email, their sessions, revoking one. */
  directory: AdminDirectory;
  /** Deletes rows nobody needs any more (run periodically). */
  purgeExpired: () => Promise<void>;
}

/** What {@link createServices} wires together. */
export interface ServiceDeps {
  pool: Pool;
  keys: KeyStore;
  hasher: PasswordHasher;
  /** Hashes registrations (the registration lane of the hashing queue); default `hasher`. */
  registrationHasher?: PasswordHasher;
  metrics?: AuthMetrics;
  log?: Pick<Logger, 'info' | 'warn'>;
  now: () => number;
}

/**
 * The wiring of the services: each gets the collaborators and only the settings it
 * needs. Used by {@link buildApp} and by the service tests.
 */
export function createServices(config: AuthConfig, deps: ServiceDeps): AuthServices {
  const { pool, keys, hasher, registrationHasher, metrics, log, now } = deps;
  const window = { accessTtlSeconds: config.accessTtlSeconds, clockSkewSeconds: config.clockSkewSeconds };
  const events = createEventBuilder(window);
  const resolver = new CachedKeyResolver({ load: () => keys.publicKeys(), ttlMs: config.keyCacheTtlSeconds * 1000, now });
  const clients = new ClientRegistry({
    clients: config.clients,
    audiences: [...config.audiences, config.accountAudience],
    scopes: config.scopes,
    resourceUris: config.resourceUris,
  });
  const tokens = new AccessTokenService({
    db: pool,
    keys: resolver,
    activeSigner: (db) => keys.activeSigner(db),
    issuer: config.issuer,
    audiences: [...config.audiences, config.accountAudience],
    accountAudience: config.accountAudience,
    defaultClientId: clients.defaultClient.clientId,
    accessTtlSeconds: config.accessTtlSeconds,
    now,
  });
  const revocations = new Revocations({ events, metrics, log });
  const throttle = new LoginThrottle({
    db: pool,
    keyEncryptionKey: config.keyEncryptionKey,
    maxFailures: config.loginMaxFailuresPerAccount,
    windowSeconds: config.loginAccountWindowSeconds,
    metrics,
    now,
  });
  return {
    clients,
    tokens,
    accounts: new AccountService({ pool, tokens, revocations, throttle, hasher, registrationHasher, passwordMinLength: config.passwordMinLength, log, now }),
    sessions: new SessionService({
      pool,
      tokens,
      clients,
      revocations,
      throttle,
      hasher,
      keyEncryptionKey: config.keyEncryptionKey,
      sessionIdleTtlSeconds: config.sessionIdleTtlSeconds,
      sessionAbsoluteTtlSeconds: config.sessionAbsoluteTtlSeconds,
      maxSessionsPerUser: config.maxSessionsPerUser,
      refreshReuseGraceSeconds: config.refreshReuseGraceSeconds,
      metrics,
      log,
      now,
    }),
    keyAdmin: new KeyAdminService({ pool, keys, resolver, events, metrics, log, now }),
    directory: new AdminDirectory({ pool, revocations, log, now }),
    purgeExpired: () => purgeExpired({ db: pool, ...window, loginAccountWindowSeconds: config.loginAccountWindowSeconds, now }),
  };
}

/** Optional collaborators of {@link buildApp}; production uses the defaults. */
export interface AuthDeps {
  /** Clock, epoch ms. Default `Date.now`. */
  now?: () => number;
  /** Kafka seam. Default: the `config.kafkaClient` transport on `config.kafkaBrokers`. */
  transport?: EventTransport;
  /** `false` silences logs (tests); default: pino at `config.logLevel`. */
  logger?: boolean | FastifyBaseLogger;
  /** Overrides `config.relayEnabled` (e.g. an instance that only serves HTTP). */
  relay?: boolean;
  /** Overrides `config.propagation.receiptsEnabled` (reading the receipts topic). */
  receipts?: boolean;
  /** Interval of the housekeeping purge, in ms. Default 10 minutes. */
  purgeIntervalMs?: number;
  /** How often the scheduled key rotation checks the active key's age, in ms. Default 1 minute. */
  keyRotationCheckIntervalMs?: number;
  /** Sees the text of every statement sent to PostgreSQL (never parameters); tests count them. */
  onStatement?: (text: string) => void;
}

/**
 * Builds the auth service: applies migrations (if `migrateOnStart`), makes sure the active
 * and the next signing key exist, wires routes, and starts the outbox relay when the app is ready. `close()`
 * stops the relay and releases the pool. Tests drive it with `app.inject`.
 */
export async function buildApp(config: AuthConfig, deps: AuthDeps = {}): Promise<FastifyInstance> {
  const now = deps.now ?? Date.now;
  const app = Fastify({
    // Request ids (X-Request-Id), redacted query strings, probes at debug: the kit's rules.
    ...serviceLogOptions({ level: config.logLevel, redact: ['res.headers["set-cookie"]'] }),
    ...(deps.logger !== undefined && typeof deps.logger !== 'boolean'
      ? { logger: undefined, loggerInstance: deps.logger }
      : deps.logger === false
        ? { logger: false }
        : {}),
    bodyLimit: config.bodyLimitBytes,
    // A hop count as proxy-addr's function form (Fastify's types take no number): trust the first n hops.
    trustProxy: typeof config.trustProxy === 'number' ? trustHops(config.trustProxy) : config.trustProxy,
    return503OnClosing: true,
    ajv: { customOptions: { removeAdditional: true, coerceTypes: false, allErrors: false } },
  });

  const metrics = createMetrics();
  const pool: Pool = createPool({
    onStatement: (text) => {
      metrics.dbStatements.inc();
      deps.onStatement?.(text);
    },
    connectionString: config.databaseUrl,
    max: config.databasePoolMax,
    connectTimeoutMs: config.databaseConnectTimeoutMs,
    statementTimeoutMs: config.databaseStatementTimeoutMs,
    onIdleError: (error) => app.log.warn({ err: error.message }, 'idle PostgreSQL client error'),
  });
  try {
    if (config.migrateOnStart) {
      const applied = await runMigrations(config.databaseUrl, {
        info: (m) => app.log.debug({ migration: m }, 'migration'),
        warn: (m) => app.log.warn({ migration: firstLine(m) }, 'migration'),
        // The caller reports the failure; node-pg-migrate's own message carries a stack.
        error: (m) => app.log.debug({ migration: firstLine(m) }, 'migration failed'),
      });
      if (applied.length > 0) app.log.info({ applied }, 'database migrations applied');
    }
  } catch (error) {
    await pool.end().catch(() => {});
    throw error;
  }
  // The TTL this instance signs with joins the history; the longest one whose tokens may
  // still be live sizes the topic's retention and the retired keys' publication.
  const ttlWindow = { accessTtlSeconds: config.accessTtlSeconds, clockSkewSeconds: config.clockSkewSeconds };
  let ttlHistory: TtlPeriod[];
  try {
    ttlHistory = await recordTtlInForce(pool, ttlWindow, now());
  } catch (error) {
    await pool.end().catch(() => {});
    throw error;
  }
  const longestTtlSeconds = longestLiveTtlSeconds(ttlHistory, now(), ttlWindow);

  const eventKeys = new EventKeyStore({
    pool,
    keyEncryptionKey: config.keyEncryptionKey,
    // A retired event key stays published as long as the topic may hold a heartbeat it signed.
    retentionMs: () => Number(topicSpec.configs?.['retention.ms'] ?? 0),
    now,
  });
  const topicSpec = revocationTopicSpec({
    topic: config.revocationTopic,
    partitions: config.revocationTopicPartitions,
    replicationFactor: config.revocationTopicReplicationFactor,
    // The longest `until - at` of any event: a key's last token plus the verifiers' JWKS cache age.
    maxAccessTtlSeconds: longestTtlSeconds + config.verifierJwksMaxAgeSeconds,
  });
  const keys = new KeyStore({
    eventKeys,
    pool,
    keyEncryptionKey: config.keyEncryptionKey,
    alg: config.signingAlg,
    accessTtlSeconds: config.accessTtlSeconds,
    clockSkewSeconds: config.clockSkewSeconds,
    verifierJwksMaxAgeSeconds: config.verifierJwksMaxAgeSeconds,
    longestLiveTtlSeconds: longestTtlSeconds,
    now,
  });
  try {
    await keys.ensureKeys();
  } catch (error) {
    await pool.end().catch(() => {});
    throw error;
  }
  const scrypt = createPasswordHasher(config.passwordScryptCost);
  await scrypt.prepare();
  const queue = hashQueueFromConfig(config, metrics);
  const services = createServices(config, {
    pool,
    keys,
    hasher: queue.wrap(scrypt, 'login'),
    registrationHasher: queue.wrap(scrypt, 'register'),
    metrics,
    now,
    log: app.log.child({ component: 'auth' }),
  });

  try {
    const skeletons = await services.accounts.backfillEmailSkeletons();
    if (skeletons.filled > 0) app.log.info(skeletons, 'email skeletons stored for existing accounts');
  } catch (error) {
    await pool.end().catch(() => {});
    throw error;
  }

  const propagation = new PropagationTracker({ audiences: config.audiences, now, registry: metrics.registry });
  const relayOn = deps.relay ?? config.relayEnabled;
  const receiptsOn = deps.receipts ?? config.propagation.receiptsEnabled;
  const sharedTransport =
    relayOn || receiptsOn ? (deps.transport ?? transportFromConfig(config, { logger: app.log.child({ component: 'kafka' }) })) : undefined;
  let receipts: ReceiptsReader | undefined;
  if (receiptsOn && sharedTransport !== undefined) {
    receipts = new ReceiptsReader({
      transport: sharedTransport,
      topic: config.propagation.receiptsTopic,
      replicationFactor: config.revocationTopicReplicationFactor,
      tracker: propagation,
      log: app.log.child({ component: 'receipts' }),
    });
    const started = receipts;
    app.addHook('onReady', async () => started.start());
  }
  let relay: OutboxRelay | undefined;
  if (relayOn && sharedTransport !== undefined) {
    const transport = sharedTransport;
    relay = new OutboxRelay({
      onPublished: (events) => {
        for (const event of events) propagation.track(event);
      },
      pool,
      databaseUrl: config.databaseUrl,
      transport,
      topicSpec,
      heartbeatSigner: () => eventKeys.activeSigner(),
      batchSize: config.outboxBatchSize,
      pollIntervalMs: config.outboxPollIntervalMs,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      instanceId: config.instanceId,
      now,
      log: app.log.child({ component: 'outbox-relay' }),
      metrics,
    });
    const started = relay;
    app.addHook('onReady', async () => started.start());
  }

  const purge = setInterval(() => {
    services.purgeExpired().catch((error: unknown) => app.log.warn({ err: (error as Error).message }, 'purge failed'));
  }, deps.purgeIntervalMs ?? 600_000);
  purge.unref();
  // Keeps this TTL's lease in the future while the instance signs (see ttl-history.ts).
  const ttlLease = setInterval(() => {
    recordTtlInForce(pool, ttlWindow, now()).catch((error: unknown) => app.log.warn({ err: (error as Error).message }, 'access TTL lease renewal failed'));
  }, TTL_LEASE_RENEW_INTERVAL_MS);
  ttlLease.unref();
  const rotation =
    config.keyRotationIntervalSeconds > 0
      ? setInterval(() => {
          services.keyAdmin.rotateKeyIfDue(config.keyRotationIntervalSeconds).catch((error: unknown) => app.log.warn({ err: (error as Error).message }, 'scheduled key rotation failed'));
        }, deps.keyRotationCheckIntervalMs ?? 60_000)
      : undefined;
  rotation?.unref();
  app.addHook('onClose', async () => {
    clearInterval(purge);
    clearInterval(ttlLease);
    clearInterval(rotation);
    // Relay first: it needs the pool to finish (or abandon) its cycle.
    await relay?.stop();
    await receipts?.stop();
    await pool.end();
  });

  useRequestLog(app);
  app.addHook('onSend', async (_request, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
  });

  app.addHook('onResponse', async (request, reply) => {
    metrics.httpRequests.observe(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
  });

  await app.register(errorHandlerPlugin);
  // Before the rate limiter and routes: a preflight is answered in onRequest.
  await app.register(corsPlugin, { origins: config.corsOrigins });
  // Only JSON and form bodies: text/plain would otherwise reach validation as a string.
  app.removeContentTypeParser('text/plain');
  await app.register(fastifyCookie);
  await app.register(fastifyFormbody, { bodyLimit: config.bodyLimitBytes });
  // Before the rate limiter: its key is the client address, never a malformed forwarded value.
  await app.register(clientIpPlugin, { ignored: metrics.forwardedIgnored });
  await app.register(clientAuthLimitPlugin, {
    maxPerClient: config.hardening.clientAuthMaxFailuresPerClient,
    maxPerIp: config.hardening.clientAuthMaxFailuresPerIp,
    windowSeconds: config.hardening.clientAuthWindowSeconds,
    routes: ['/oauth/token', '/oauth/revoke', '/oauth/introspect'],
    failures: metrics.clientAuthFailures,
    throttled: metrics.clientAuthThrottled,
    now,
  });
  await app.register(fastifyRateLimit, {
    global: true,
    keyGenerator: (request) => request.clientIp || clientIpOf(request).ip,
    max: config.rateLimitPerIp,
    timeWindow: 60_000,
    errorResponseBuilder: (_request, context) =>
      new AuthError('ERR_AUTH_RATE_LIMITED', 'too many requests, retry later', { retryAfterSeconds: Math.max(1, Math.ceil(context.ttl / 1000)) }),
  });
  await app.register(fastifySwagger, {
    transform: documentAuthRoute,
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Revocable auth service',
        version: '0.1.0',
        description:
          'Issues access tokens (RFC 9068 at+jwt) and rotating refresh tokens; every revocation is published to Kafka. ' +
          `Cookie-authenticated requests must send the \`${CSRF_HEADER}\` header.`,
      },
      servers: [{ url: config.issuer }],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          basic: { type: 'http', scheme: 'basic', description: 'confidential client (INTROSPECTION_CLIENTS id:secret), client_secret_basic' },
          admin: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN' },
          refreshCookie: { type: 'apiKey', in: 'cookie', name: config.refreshCookieName },
        },
      },
    },
  });
  const internal = config.hardening.internalListener;
  if (internal === undefined) await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  else await app.register(internalListenerPlugin, { ...internal, registry: metrics.registry });
  await app.register(contextPlugin, {
    config,
    pool,
    ...services,
    keys,
    metrics,
    relay,
    propagation,
    expectedMigrations: await expectedMigrations(),
    now,
  });
  await app.register(propagationWaitPlugin, { tracker: propagation, maxSeconds: config.propagation.preferWaitMaxSeconds, enabled: receipts !== undefined, now });
  await app.register(healthRoutes);
  await app.register(wellKnownRoutes);
  await app.register(accountRoutes);
  await app.register(oauthRoutes);
  await app.register(adminRoutes);
  await app.register(consoleRoutes);
  await app.register(propagationRoutes);
  await app.register(liveRoutes);
  return app;
}

function trustHops(hops: number): (address: string, hop: number) => boolean {
  return (_address, hop) => hop < hops;
}

function firstLine(message: string): string {
  return message.split('\n', 1)[0] ?? '';
}
