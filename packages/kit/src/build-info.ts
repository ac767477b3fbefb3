import { readFileSync } from 'node:fs';

/**
 * The `version` of the package.json at `packageJsonUrl` (a service's own, for
 * `revocable_build_info`); `0.0.0` when the file has none.
 * @example
 * const version = packageVersion(new URL('../package.json', import.meta.url));
 */
export function packageVersion(packageJsonUrl: URL): string {
  const parsed = JSON.parse(readFileSync(packageJsonUrl, 'utf8')) as { version?: unknown };
  return typeof parsed.version === 'string' ? parsed.version : '0.0.0';
}
