import { isIP } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Counter } from 'prom-client';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The client's address for limits and the session list: `request.ip` (X-Forwarded-For
     * as TRUST_PROXY allows) when it is a well-formed IP address, else the socket's address.
     */
    clientIp: string;
  }
}

/**
 * The client address of a request: a forwarded value that is not an IP address (a
 * misconfigured or hostile proxy chain, `<script>`) is ignored, never stored or used as a
 * limiter key.
 */
export function clientIpOf(request: FastifyRequest): { ip: string; ignoredForwarded: boolean } {
  const forwarded = request.ip;
  if (isIP(forwarded) !== 0) return { ip: forwarded, ignoredForwarded: false };
  return { ip: request.socket.remoteAddress ?? 'unknown', ignoredForwarded: true };
}

/** Options of {@link clientIpPlugin}. */
export interface ClientIpOptions {
  /** Counts requests whose forwarded address was ignored (`revocable_auth_forwarded_address_ignored_total`). */
  ignored: Counter;
}

/** Sets `request.clientIp` first thing in every request (before the rate limiter). */
export const clientIpPlugin = fp(
  async (app: FastifyInstance, options: ClientIpOptions) => {
    app.decorateRequest('clientIp', '');
    app.addHook('onRequest', async (request) => {
      const { ip, ignoredForwarded } = clientIpOf(request);
      if (ignoredForwarded) options.ignored.inc();
      request.clientIp = ip;
    });
  },
  { name: 'revocable-auth-client-ip', fastify: '5.x' },
);
