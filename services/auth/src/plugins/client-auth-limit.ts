import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Counter } from 'prom-client';
import { AuthError } from '../errors.ts';

/** Counts events per key in fixed windows, in memory, holding at most `maxKeys` keys. */
export class FailureCounter {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #maxKeys: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, { count: number; endsAt: number }>();

  constructor(options: { max: number; windowMs: number; maxKeys?: number; now: () => number }) {
    this.#max = options.max;
    this.#windowMs = options.windowMs;
    this.#maxKeys = options.maxKeys ?? 100_000;
    this.#now = options.now;
  }

  /** Milliseconds until `key` may try again; 0 when it is under the limit. */
  blockedForMs(key: string): number {
    const entry = this.#entries.get(key);
    const now = this.#now();
    if (entry === undefined || entry.endsAt <= now) return 0;
    return entry.count >= this.#max ? entry.endsAt - now : 0;
  }

  record(key: string): void {
    const now = this.#now();
    const entry = this.#entries.get(key);
    if (entry !== undefined && entry.endsAt > now) {
      entry.count++;
      return;
    }
    this.#entries.delete(key);
    if (this.#entries.size >= this.#maxKeys) this.#evict(now);
    this.#entries.set(key, { count: 1, endsAt: now + this.#windowMs });
  }

  #evict(now: number): void {
    for (const [key, entry] of this.#entries) if (entry.endsAt <= now) this.#entries.delete(key);
    // Still full: forget the oldest windows (insertion order) rather than grow without bound.
    for (const key of this.#entries.keys()) {
      if (this.#entries.size < this.#maxKeys) break;
      this.#entries.delete(key);
    }
  }
}

/** Options of {@link clientAuthLimitPlugin}. */
export interface ClientAuthLimitOptions {
  /** CLIENT_AUTH_MAX_FAILURES_PER_CLIENT per window, per claimed client_id. */
  maxPerClient: number;
  /** CLIENT_AUTH_MAX_FAILURES_PER_IP per window, per client address. */
  maxPerIp: number;
  /** CLIENT_AUTH_WINDOW_SECONDS. */
  windowSeconds: number;
  /** Routes whose client authentication is limited (e.g. /oauth/token, /oauth/revoke, /oauth/introspect). */
  routes: readonly string[];
  /** `revocable_auth_client_auth_failures_total` (every 401 invalid_client on those routes). */
  failures: Counter;
  /** `revocable_auth_client_auth_throttled_total{scope}` (requests refused with 429, by client or ip). */
  throttled: Counter<'scope'>;
  now: () => number;
}

/**
 * Limits failed client authentications (401 `invalid_client`) per claimed client id and
 * per client address on the OAuth endpoints. Past either limit, the request is refused
 * with 429 and `Retry-After` before its credentials are looked at, until the window ends,
 * so secrets cannot be guessed at request rate. Works on whatever authenticates the
 * client: it counts the `ERR_AUTH_INVALID_CLIENT` errors those routes throw. The counters
 * live in this instance's memory (bounded), like the per-IP rate limits.
 */
export const clientAuthLimitPlugin = fp(
  async (app: FastifyInstance, options: ClientAuthLimitOptions) => {
    const routes = new Set(options.routes);
    const windowMs = options.windowSeconds * 1000;
    const byClient = new FailureCounter({ max: options.maxPerClient, windowMs, now: options.now });
    const byIp = new FailureCounter({ max: options.maxPerIp, windowMs, now: options.now });
    const limited = (request: FastifyRequest) => routes.has(request.routeOptions.url ?? '');

    app.addHook('preHandler', async (request) => {
      if (!limited(request)) return;
      const clientId = claimedClientId(request);
      const ipWait = byIp.blockedForMs(request.clientIp);
      const clientWait = clientId === undefined ? 0 : byClient.blockedForMs(clientId);
      if (ipWait === 0 && clientWait === 0) return;
      options.throttled.inc({ scope: clientWait >= ipWait ? 'client' : 'ip' });
      throw new AuthError('ERR_AUTH_RATE_LIMITED', 'too many failed client authentications, retry later', {
        retryAfterSeconds: Math.max(1, Math.ceil(Math.max(ipWait, clientWait) / 1000)),
      });
    });

    app.addHook('onError', async (request, _reply, error) => {
      if (!(error instanceof AuthError) || error.code !== 'ERR_AUTH_INVALID_CLIENT' || !limited(request)) return;
      options.failures.inc();
      byIp.record(request.clientIp);
      const clientId = claimedClientId(request);
      if (clientId !== undefined) byClient.record(clientId);
    });
  },
  { name: 'revocable-auth-client-auth-limit', fastify: '5.x', dependencies: ['revocable-auth-client-ip'] },
);

/** The client id a request claims: the user part of HTTP Basic (RFC 6749 §2.3.1), else `client_id` in the body. */
export function claimedClientId(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  const basic = header === undefined ? null : /^Basic[ ]+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (basic !== null) {
    const decoded = Buffer.from(basic[1] as string, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const raw = colon < 0 ? decoded : decoded.slice(0, colon);
    try {
      return decodeURIComponent(raw.replaceAll('+', ' ')).slice(0, 128);
    } catch {
      return raw.slice(0, 128);
    }
  }
  const body = request.body as { client_id?: unknown } | undefined;
  return body !== null && typeof body === 'object' && typeof body.client_id === 'string' && body.client_id !== '' ? body.client_id.slice(0, 128) : undefined;
}
