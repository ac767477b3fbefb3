import { HttpDurationHistogram, packageVersion, registerBuildInfo } from '@revocable/kit';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const VERSION = packageVersion(new URL('../package.json', import.meta.url));

/** Prometheus metrics of one auth instance (own registry: no global state between apps). */
export interface AuthMetrics {
  registry: Registry;
  /** `revocable_http_request_duration_seconds{method, route, status}`, as in every service. */
  httpRequests: HttpDurationHistogram;
  logins: Counter<'result'>;
  refreshes: Counter<'result'>;
  revocations: Counter<'type' | 'reason'>;
  outboxPublished: Counter;
  /** `revocable_auth_outbox_publish_latency_seconds{type}`: event time (commit) → Kafka acknowledged, 1 ms buckets at the low end. */
  outboxPublishLatency: Histogram<'type'>;
  outboxSendErrors: Counter;
  outboxInvalid: Counter;
  heartbeatsSent: Counter;
  relayKafkaUp: Gauge;
  outboxPending: Gauge;
  outboxOldestAgeSeconds: Gauge;
  /** Statements sent to PostgreSQL (BEGIN/COMMIT included), all connections of the pool. */
  dbStatements: Counter;
  /** scrypt computations started, by lane (login, register) and op (hash, verify). */
  passwordWork: Counter<'lane' | 'op'>;
  /** Password work refused with 503 because its lane of the hashing queue was full. */
  passwordRejected: Counter<'lane'>;
  /** The hashing queue now: running, waiting_login, waiting_register. */
  passwordQueue: Gauge<'state'>;
  /** Duplicate refreshes inside the grace window: honoured (same client) or other_client (treated as reuse). */
  refreshGrace: Counter<'outcome'>;
  /** Requests whose forwarded client address was not an IP address (ignored: the socket address is used). */
  forwardedIgnored: Counter;
  /** Failed client authentications (401 invalid_client) on the OAuth endpoints. */
  clientAuthFailures: Counter;
  /** Requests refused with 429 by the client-authentication limits, by scope (client, ip). */
  clientAuthThrottled: Counter<'scope'>;
}

export function createMetrics(): AuthMetrics {
  const registry = new Registry();
  // Unprefixed process_*/nodejs_* and the same HTTP histogram as every other service.
  collectDefaultMetrics({ register: registry });
  registerBuildInfo(registry, { service: 'auth', version: VERSION });
  return {
    registry,
    httpRequests: new HttpDurationHistogram(registry),
    logins: new Counter({ name: 'revocable_auth_logins_total', help: 'Login attempts by result', labelNames: ['result'], registers: [registry] }),
    refreshes: new Counter({ name: 'revocable_auth_refreshes_total', help: 'Refresh-token grants by result', labelNames: ['result'], registers: [registry] }),
    revocations: new Counter({
      name: 'revocable_auth_revocations_total',
      help: 'Revocation events written to the outbox, by type and reason',
      labelNames: ['type', 'reason'],
      registers: [registry],
    }),
    outboxPublished: new Counter({ name: 'revocable_auth_outbox_published_total', help: 'Outbox events acknowledged by Kafka', registers: [registry] }),
    outboxPublishLatency: new Histogram({
      name: 'revocable_auth_outbox_publish_latency_seconds',
      help: 'From a revocation committing (its event time) to Kafka acknowledging it, on this service clock, by event type',
      labelNames: ['type'],
      buckets: [0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.008, 0.01, 0.0125, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    outboxSendErrors: new Counter({ name: 'revocable_auth_outbox_send_errors_total', help: 'Failed relay cycles (Kafka or PostgreSQL)', registers: [registry] }),
    outboxInvalid: new Counter({ name: 'revocable_auth_outbox_invalid_total', help: 'Outbox rows that failed validation and were dropped', registers: [registry] }),
    heartbeatsSent: new Counter({ name: 'revocable_auth_heartbeats_sent_total', help: 'Heartbeat records acknowledged by Kafka', registers: [registry] }),
    relayKafkaUp: new Gauge({ name: 'revocable_auth_relay_kafka_up', help: '1 when the last relay cycle reached Kafka', registers: [registry] }),
    outboxPending: new Gauge({ name: 'revocable_auth_outbox_pending', help: 'Rows waiting in the outbox (sampled by the relay)', registers: [registry] }),
    outboxOldestAgeSeconds: new Gauge({
      name: 'revocable_auth_outbox_oldest_age_seconds',
      help: 'Age of the oldest outbox row (sampled by the relay)',
      registers: [registry],
    }),
    dbStatements: new Counter({
      name: 'revocable_auth_db_statements_total',
      help: 'Statements sent to PostgreSQL by the request pool and the relay (BEGIN and COMMIT included)',
      registers: [registry],
    }),
    passwordWork: new Counter({
      name: 'revocable_auth_password_work_total',
      help: 'scrypt computations started (password hashes and verifications), by queue lane and operation',
      labelNames: ['lane', 'op'],
      registers: [registry],
    }),
    passwordRejected: new Counter({
      name: 'revocable_auth_password_queue_rejected_total',
      help: 'Requests answered 503 because their lane of the password hashing queue was full',
      labelNames: ['lane'],
      registers: [registry],
    }),
    passwordQueue: new Gauge({
      name: 'revocable_auth_password_queue',
      help: 'Password hashing queue: running, waiting_login, waiting_register',
      labelNames: ['state'],
      registers: [registry],
    }),
    refreshGrace: new Counter({
      name: 'revocable_auth_refresh_grace_total',
      help: 'Duplicate refreshes inside the grace window: honoured (same client) or other_client (revoked as reuse)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    forwardedIgnored: new Counter({
      name: 'revocable_auth_forwarded_address_ignored_total',
      help: 'Requests whose X-Forwarded-For client address was malformed and ignored (the socket address was used)',
      registers: [registry],
    }),
    clientAuthFailures: new Counter({
      name: 'revocable_auth_client_auth_failures_total',
      help: 'Failed client authentications (401 invalid_client) on /oauth/token, /oauth/revoke and /oauth/introspect',
      registers: [registry],
    }),
    clientAuthThrottled: new Counter({
      name: 'revocable_auth_client_auth_throttled_total',
      help: 'Requests refused with 429 after too many failed client authentications, by scope (client, ip)',
      labelNames: ['scope'],
      registers: [registry],
    }),
  };
}
