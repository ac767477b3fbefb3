import { createScratchDatabase } from '@revocable/auth/testing';

/**
 * Creates a fresh database on the server behind `adminUrl` (any existing database there)
 * and returns its URL and a drop function, so suites and clusters never see each other's rows.
 * The same helper as the auth service's unit tests use.
 */
export function createDatabase(adminUrl: string, prefix = 'revocable_test'): Promise<{ url: string; drop: () => Promise<void> }> {
  return createScratchDatabase(prefix, adminUrl);
}
