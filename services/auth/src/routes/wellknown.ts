import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/** JWKS and RFC 8414 authorization-server metadata. */
export const wellKnownRoutes = fp(
  async (app: FastifyInstance) => {
    const { config, keys, clients } = app.revocableAuth;

    app.get(
      '/.well-known/jwks.json',
      { schema: { tags: ['discovery'], summary: 'Public signing keys: the active key, the next key (published before it signs), and retired keys whose tokens may still be valid; then the event-signing keys that sign heartbeats (kid `evt.…`, `revocable_use: "event"`, never valid for a token)' } },
      async (_request, reply) => {
        const jwks = { keys: await keys.jwks() };
        // Short: verifiers refetch on an unknown kid anyway, and a revoked key must vanish quickly.
        return reply.header('cache-control', 'public, max-age=60').send(jwks);
      },
    );

    app.get(
      '/.well-known/oauth-authorization-server',
      { schema: { tags: ['discovery'], summary: 'RFC 8414 authorization server metadata' } },
      async (_request, reply) => {
        const base = config.issuer;
        return reply.header('cache-control', 'public, max-age=300').send({
          issuer: base,
          token_endpoint: `${base}/oauth/token`,
          jwks_uri: `${base}/.well-known/jwks.json`,
          revocation_endpoint: `${base}/oauth/revoke`,
          introspection_endpoint: `${base}/oauth/introspect`,
          grant_types_supported: ['refresh_token'],
          response_types_supported: [],
          // Public clients send client_id only; confidential ones (resource services) HTTP Basic.
          token_endpoint_auth_methods_supported: ['none', 'client_secret_basic'],
          revocation_endpoint_auth_methods_supported: ['none', 'client_secret_basic'],
          introspection_endpoint_auth_methods_supported: ['client_secret_basic'],
          scopes_supported: clients.scopesSupported,
          resource_indicators_supported: true,
          access_token_signing_alg_values_supported: [config.signingAlg],
          service_documentation: `${base}/docs`,
          // Non-standard, for resource services: where to authenticate users and which audiences exist.
          login_endpoint: `${base}/v1/login`,
          audiences_supported: [...config.audiences, config.accountAudience],
          account_audience: config.accountAudience,
        });
      },
    );
  },
  { name: 'revocable-auth-wellknown-routes', fastify: '5.x', dependencies: ['revocable-auth-context'] },
);
