import { createRemoteJWKSet } from 'jose';
import { Counter } from 'prom-client';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { authFailureResponse, revocable, type RevocableOptions } from '@revocable/fastify';
import { createResourceApp, packageVersion, verifierOptionsFromConfig } from '@revocable/kit';
import type { GateConfig } from './config.ts';
import { normalisePath, type PathRejectReason } from './path.ts';
import { matchRoute, type GateRoute } from './routes.ts';

const BUILD_INFO = { service: 'gate', version: packageVersion(new URL('../package.json', import.meta.url)) };

/** Test seams: an injected clock, event transport or key resolver, or any other plugin option. */
export type GateOverrides = Partial<RevocableOptions>;

/** Where the gate finds the original request, per proxy family. */
interface OriginalRequest {
  method: string | undefined;
  uri: string | undefined;
  /**
   * How identity headers the gate does not set are kept from the upstream. `envoy`: named in
   * `x-envoy-auth-headers-to-remove`. `empty`: sent with an empty value, because Caddy 2.6's
   * `copy_headers` puts the literal placeholder `{http.reverse_proxy.header.X-Auth-…}` into
   * the request for a header missing from the answer. nginx drops empty values itself.
   */
  unset?: 'envoy' | 'empty';
}

type BadRequestReason = PathRejectReason | 'missing_method' | 'invalid_method';

const METHOD = /^[A-Z]{1,16}$/;
// Envoy ext_authz (HTTP service): request headers it removes before forwarding upstream.
const ENVOY_REMOVE_HEADER = 'x-envoy-auth-headers-to-remove';
/** nginx `auth_request`: the original request in `X-Original-Method` and `X-Original-URI`. */
export const NGINX_PATH = '/auth/nginx';
/** Traefik `forwardAuth`, Caddy `forward_auth`: the original request in `X-Forwarded-Method` and `X-Forwarded-Uri`. */
export const FORWARDED_PATH = '/auth/forwarded';
/** Path prefix Envoy's ext_authz `http_service.path_prefix` is set to. */
export const ENVOY_PREFIX = '/envoy';

/**
 * Builds the forward-auth gate: one process, many audiences, on the resource services'
 * verifier (`@revocable/fastify`: the same consumer, denylist, readiness and metrics).
 *
 * - `/auth/nginx` (any method): nginx `auth_request` (`X-Original-Method`, `X-Original-URI`).
 * - `/auth/forwarded` (any method): Traefik `forwardAuth` and Caddy `forward_auth`
 *   (`X-Forwarded-Method`, `X-Forwarded-Uri`).
 * - `/envoy/<original path>` (the original method): Envoy `ext_authz` HTTP with
 *   `path_prefix: /envoy`.
 *
 * Answers 200 with the identity headers, 401/403/503 as the plugin does (plus
 * `X-Auth-Reason`), 400 for a request target the gate will not interpret, 403 `no_route`
 * when no rule covers the request.
 */
export async function buildApp(config: GateConfig, overrides: GateOverrides = {}): Promise<FastifyInstance> {
  const app = createResourceApp({ logLevel: config.logLevel });
  // Forward-auth calls carry no body the gate needs (Envoy may pass one through): accept and drop it.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, _body, done) => done(null, undefined));

  const { routes, identityHeaders } = config.routes;
  const audiences = [...new Set(routes.flatMap((r) => (r.audience === null ? [] : [r.audience])))];
  // Every audience's verifier shares one JWKS (one cache, one refetch cooldown).
  const getKey =
    overrides.getKey ??
    createRemoteJWKSet(new URL(config.verifier.jwksUrl), { cooldownDuration: config.verifier.jwksCooldownMs, cacheMaxAge: config.verifier.jwksMaxAgeSeconds * 1000, timeoutDuration: 3000 });
  const options = verifierOptionsFromConfig({ ...config.verifier, audience: audiences[0] ?? 'gate' }, { getKey, buildInfo: BUILD_INFO, ...overrides });
  // The gate confirms revocations for every audience of its routes.
  if (options.receipts !== undefined && audiences.length > 0) options.receipts = { ...options.receipts, audiences };
  await app.register(revocable, options);
  const core = app.revocable;
  const verifiers = new Map(audiences.map((audience) => [audience, core.verifierFor(audience)]));

  const checks = new Counter({
    name: 'revocable_gate_checks_total',
    help: 'Forward-auth checks answered by the gate, by rule (its prefix; "none" when no rule matched) and status.',
    labelNames: ['route', 'status'] as const,
    registers: [core.metrics.registry],
  });

  const h = {
    subject: identityHeaders.subject.toLowerCase(),
    session: identityHeaders.session.toLowerCase(),
    scope: identityHeaders.scope.toLowerCase(),
    client: identityHeaders.client.toLowerCase(),
  };

  const deny = (reply: FastifyReply, route: GateRoute | null, status: 400 | 403, reason: BadRequestReason | 'no_route') => {
    checks.inc({ route: route?.prefix ?? 'none', status: String(status) });
    const description =
      reason === 'no_route' ? 'no rule of the gate covers this method and path' : `the original request cannot be checked safely (${reason})`;
    return reply
      .code(status)
      .header('cache-control', 'no-store')
      .header('x-auth-reason', reason)
      .send({ error: status === 400 ? 'invalid_request' : 'access_denied', error_description: description, reason });
  };

  async function check(request: FastifyRequest, reply: FastifyReply, original: OriginalRequest): Promise<FastifyReply> {
    if (original.method === undefined || original.method === '') return deny(reply, null, 400, 'missing_method');
    if (!METHOD.test(original.method)) return deny(reply, null, 400, 'invalid_method');
    const path = normalisePath(original.uri, config.maxUriBytes);
    if (!path.ok) return deny(reply, null, 400, path.reason);
    const route = matchRoute(routes, original.method, path.path);
    if (route === null) return deny(reply, null, 403, 'no_route');
    if (route.public) {
      checks.inc({ route: route.prefix, status: '200' });
      unsetHeaders(reply, original.unset, [h.subject, h.session, h.scope, h.client]);
      return reply.code(200).header('cache-control', 'no-store').send();
    }
    const verifier = verifiers.get(route.audience as string);
    const decision = await core.authorize(
      request.headers.authorization,
      { scopes: route.scopes, ...(route.freshness !== undefined ? { freshness: route.freshness } : {}) },
      verifier,
    );
    if (!decision.ok) {
      const answer = authFailureResponse(decision.failure);
      checks.inc({ route: route.prefix, status: String(answer.status) });
      return reply.code(answer.status).headers(answer.headers).header('cache-control', 'no-store').header('x-auth-reason', answer.body.reason).send(answer.body);
    }
    const { claims } = decision.context;
    checks.inc({ route: route.prefix, status: '200' });
    reply.code(200).header('cache-control', 'no-store').header(h.subject, claims.sub).header(h.session, claims.sid).header(h.scope, claims.scope ?? '');
    if (claims.client_id !== undefined) reply.header(h.client, claims.client_id);
    else unsetHeaders(reply, original.unset, [h.client]);
    return reply.send();
  }

  const open = { config: { auth: { public: true } } };
  // One endpoint per header family, each reading only its own headers: a proxy forwards the
  // client's other headers to the gate (Traefik and Caddy send a clone of the request), so a
  // client-sent X-Original-URI must never be read behind Traefik, nor X-Forwarded-Uri behind nginx.
  app.all(NGINX_PATH, open, (request, reply) =>
    check(request, reply, { method: headerValue(request.headers['x-original-method']), uri: headerValue(request.headers['x-original-uri']) }),
  );
  app.all(FORWARDED_PATH, open, (request, reply) =>
    check(request, reply, { method: headerValue(request.headers['x-forwarded-method']), uri: headerValue(request.headers['x-forwarded-uri']), unset: 'empty' }),
  );
  // Envoy appends the original path (with its query) to path_prefix and keeps the method.
  app.all(`${ENVOY_PREFIX}/*`, open, (request, reply) =>
    check(request, reply, { method: request.method, uri: request.raw.url?.slice(ENVOY_PREFIX.length), unset: 'envoy' }),
  );
  app.all(ENVOY_PREFIX, open, (request, reply) => check(request, reply, { method: request.method, uri: '/', unset: 'envoy' }));
  return app;
}

function unsetHeaders(reply: FastifyReply, how: OriginalRequest['unset'], names: readonly string[]): void {
  if (how === 'envoy') reply.header(ENVOY_REMOVE_HEADER, names.join(', '));
  else if (how === 'empty') for (const name of names) reply.header(name, '');
}

/** A header sent once; a repeated one (an array, or comma-joined by a proxy) is treated as absent. */
function headerValue(value: string | string[] | undefined): string | undefined {
  if (Array.isArray(value)) return undefined;
  return value;
}
