import type { FastifyInstance } from 'fastify';
import type { FreshnessPolicy, RevocableOptions } from '@revocable/fastify';
import { callerSubject, createProtectedApp, packageVersion } from '@revocable/kit';
import type { ProfileConfig } from './config.ts';

const BUILD_INFO = { service: 'profile', version: packageVersion(new URL('../package.json', import.meta.url)) };

/** Test seams: an injected clock or event transport, or any other plugin option. */
export type ProfileOverrides = Partial<RevocableOptions>;

interface Profile {
  displayName: string;
  bio: string;
  /** Epoch milliseconds; 0 for a profile never written. */
  updatedAt: number;
}

const profileSchema = {
  type: 'object',
  properties: {
    sub: { type: 'string' },
    displayName: { type: 'string' },
    bio: { type: 'string' },
    updatedAt: { type: 'integer' },
  },
  required: ['sub', 'displayName', 'bio', 'updatedAt'],
} as const;

/**
 * Builds the profile service: the revocable verifier (audience `profile`) and the caller's
 * profile. Reading (scope `profile:read`) tolerates stale revocation state (fail-open); writing (`profile:write`) asks the auth
 * service when the state is stale (introspect) if an introspection client is configured,
 * else refuses (fail-closed).
 */
export async function buildApp(config: ProfileConfig, overrides: ProfileOverrides = {}): Promise<FastifyInstance> {
  const app = await createProtectedApp(config, {
    buildInfo: BUILD_INFO,
    overrides,
    openapi: { title: 'Revocable profile service (sample, audience profile)', version: BUILD_INFO.version, description: 'The caller\'s own profile; writes ask the issuer (introspection) when revocation state is stale.' },
  });
  const now = overrides.now ?? Date.now;
  const profiles = new Map<string, Profile>();
  const maxSeconds = config.verifier.freshnessMaxSeconds;
  const writePolicy: FreshnessPolicy = config.verifier.introspection !== undefined ? 'introspect' : 'fail-closed';

  app.get(
    '/v1/profile',
    { config: { auth: { scopes: ['profile:read'], freshness: { maxSeconds, policy: 'fail-open' } } }, schema: { response: { 200: { ...profileSchema, description: "The caller's profile (empty until written)" } } } },
    async (request) => {
      const sub = callerSubject(request);
      const profile = profiles.get(sub) ?? { displayName: '', bio: '', updatedAt: 0 };
      return { sub, ...profile };
    },
  );

  app.put(
    '/v1/profile',
    {
      config: { auth: { scopes: ['profile:write'], freshness: { maxSeconds, policy: writePolicy } } },
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            displayName: { type: 'string', minLength: 1, maxLength: 100 },
            bio: { type: 'string', maxLength: 1000 },
          },
          required: ['displayName'],
        },
        response: { 200: { ...profileSchema, description: 'The profile, saved' } },
      },
    },
    async (request) => {
      const sub = callerSubject(request);
      const body = request.body as { displayName: string; bio?: string };
      const profile: Profile = { displayName: body.displayName, bio: body.bio ?? '', updatedAt: now() };
      profiles.set(sub, profile);
      return { sub, ...profile };
    },
  );

  return app;
}
