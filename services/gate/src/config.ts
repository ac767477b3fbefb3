import { readFileSync } from 'node:fs';
import { ConfigError, intFromEnv, loadServerConfig, loadVerifierConfig, type ServerConfig, type VerifierConfig } from '@revocable/kit';
import { DEFAULT_MAX_URI_BYTES } from './path.ts';
import { parseRoutesFile, RoutesFileError, type RoutesFile } from './routes.ts';

/** Gate configuration, parsed once from the environment (and the routes file) by {@link loadConfig}. */
export interface GateConfig extends ServerConfig {
  /**
   * Verifier settings: KAFKA_BROKERS, KAFKA_CLIENT_ID (default revocable-gate), REVOCATION_TOPIC,
   * AUTH_URL, AUTH_ISSUER, JWKS_URL, FRESHNESS_MAX_SECONDS (the default bound of rules without
   * one, fail-closed), INTROSPECTION_CLIENT_ID/SECRET, ... The audiences come from the routes file.
   */
  verifier: VerifierConfig;
  /** GATE_ROUTES_FILE (required): path of the JSON routes file. */
  routesFile: string;
  /** The parsed routes file. */
  routes: RoutesFile;
  /** GATE_MAX_URI_BYTES, default 4096: longer original request targets are refused (400 uri_too_long). */
  maxUriBytes: number;
}

/** Parses the configuration; throws `ConfigError` (one line: variable and fix) on a bad value. */
export function loadConfig(env: Record<string, string | undefined> = process.env): GateConfig {
  const server = loadServerConfig(env, { port: 3003 });
  const verifier = loadVerifierConfig({ ...env, AUDIENCE: 'gate' }, { audience: 'gate' });
  const routesFile = env['GATE_ROUTES_FILE']?.trim() ?? '';
  if (routesFile === '') throw new ConfigError('GATE_ROUTES_FILE', 'required: the path of the JSON routes file (see services/gate/README.md)');
  let text: string;
  try {
    text = readFileSync(routesFile, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'read error';
    throw new ConfigError('GATE_ROUTES_FILE', `cannot read ${routesFile} (${code}); point it at the JSON routes file`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError('GATE_ROUTES_FILE', `${routesFile} is not valid JSON (${(error as Error).message.split('\n')[0]})`);
  }
  let routes: RoutesFile;
  try {
    routes = parseRoutesFile(json);
  } catch (error) {
    if (error instanceof RoutesFileError) throw new ConfigError('GATE_ROUTES_FILE', `${routesFile}: ${error.message}`);
    throw error;
  }
  const introspecting = routes.routes.find((r) => r.freshness !== undefined && r.freshness !== false && r.freshness.policy === 'introspect');
  if (introspecting !== undefined && verifier.introspection === undefined) {
    throw new ConfigError('INTROSPECTION_CLIENT_ID', `routes[${introspecting.index}] uses the introspect policy: set INTROSPECTION_CLIENT_ID and INTROSPECTION_CLIENT_SECRET`);
  }
  return {
    ...server,
    verifier,
    routesFile,
    routes,
    maxUriBytes: intFromEnv(env, 'GATE_MAX_URI_BYTES', DEFAULT_MAX_URI_BYTES, 256, 65_536),
  };
}
