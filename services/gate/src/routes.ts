import type { FreshnessRequirement } from '@revocable/fastify';

/** One rule of the routes file: which requests it covers and what they need. */
export interface GateRoute {
  /** Path prefix, matched on segment boundaries (`/api` covers `/api` and `/api/x`, not `/apix`). */
  prefix: string;
  /** Upper-case methods the rule covers; null: every method. */
  methods: ReadonlySet<string> | null;
  /** No token needed. */
  public: boolean;
  /** Audience the token must carry (required unless public). */
  audience: string | null;
  /** Every listed scope must be in the token. */
  scopes: readonly string[];
  /** Freshness bound for this rule; `undefined`: the gate's default (FRESHNESS_MAX_SECONDS, fail-closed); `false`: none. */
  freshness: FreshnessRequirement | false | undefined;
  /** Position in the file, for ties and for labels (`routes[3]`). */
  index: number;
}

/** Names of the identity headers set on a 200 (the proxy copies them to the upstream request). */
export interface IdentityHeaders {
  /** Token `sub`. Default `X-Auth-Subject`. */
  subject: string;
  /** Token `sid`. Default `X-Auth-Session`. */
  session: string;
  /** Token `scope` (space-separated, empty when none). Default `X-Auth-Scope`. */
  scope: string;
  /** Token `client_id`, only when the token carries one. Default `X-Auth-Client`. */
  client: string;
}

/** The parsed routes file. */
export interface RoutesFile {
  routes: readonly GateRoute[];
  identityHeaders: IdentityHeaders;
}

/** A routes-file error: `where` is a JSON path like `routes[2].scopes`. */
export class RoutesFileError extends Error {
  readonly code = 'ERR_GATE_ROUTES';
  readonly where: string;
  constructor(where: string, message: string) {
    super(`${where}: ${message}`);
    this.name = 'RoutesFileError';
    this.where = where;
  }
}

const DEFAULT_HEADERS: IdentityHeaders = {
  subject: 'X-Auth-Subject',
  session: 'X-Auth-Session',
  scope: 'X-Auth-Scope',
  client: 'X-Auth-Client',
};
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]{1,64}$/;
const METHOD = /^[A-Z]{1,16}$/;
const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]+$/;
const AUDIENCE = /^[A-Za-z0-9._~:/-]{1,256}$/;
const ROUTE_KEYS = new Set(['prefix', 'methods', 'public', 'audience', 'scopes', 'freshness']);

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Validates the routes file (already JSON-parsed). Throws {@link RoutesFileError} naming the
 * first bad field. A prefix must be a normalised path (what {@link normalisePath} returns),
 * so a rule can never be written that no request could match.
 * @example parseRoutesFile({ routes: [{ prefix: '/public', public: true }, { prefix: '/', audience: 'orders' }] })
 */
export function parseRoutesFile(input: unknown): RoutesFile {
  if (!isObject(input)) throw new RoutesFileError('(root)', 'must be a JSON object with a "routes" array');
  for (const key of Object.keys(input)) {
    if (key !== 'routes' && key !== 'identityHeaders') throw new RoutesFileError(key, 'unknown field (expected "routes" and optionally "identityHeaders")');
  }
  const identityHeaders = { ...DEFAULT_HEADERS };
  if (input['identityHeaders'] !== undefined) {
    const given = input['identityHeaders'];
    if (!isObject(given)) throw new RoutesFileError('identityHeaders', 'must be an object like {"subject": "X-Auth-Subject"}');
    for (const [key, value] of Object.entries(given)) {
      if (!(key in DEFAULT_HEADERS)) throw new RoutesFileError(`identityHeaders.${key}`, 'unknown field (expected subject, session, scope, client)');
      if (typeof value !== 'string' || !HEADER_NAME.test(value)) throw new RoutesFileError(`identityHeaders.${key}`, 'must be an HTTP header name like X-Auth-Subject');
      identityHeaders[key as keyof IdentityHeaders] = value;
    }
    const names = Object.values(identityHeaders).map((n) => n.toLowerCase());
    if (new Set(names).size !== names.length) throw new RoutesFileError('identityHeaders', 'header names must differ from each other');
  }
  const list = input['routes'];
  if (!Array.isArray(list) || list.length === 0) throw new RoutesFileError('routes', 'must be a non-empty array of rules');
  const routes = list.map((raw: unknown, index) => parseRoute(raw, index));
  return { routes, identityHeaders };
}

function parseRoute(raw: unknown, index: number): GateRoute {
  const at = `routes[${index}]`;
  if (!isObject(raw)) throw new RoutesFileError(at, 'must be an object with at least "prefix"');
  for (const key of Object.keys(raw)) {
    if (!ROUTE_KEYS.has(key)) throw new RoutesFileError(`${at}.${key}`, 'unknown field (expected prefix, methods, public, audience, scopes, freshness)');
  }
  const prefix = raw['prefix'];
  if (typeof prefix !== 'string' || !prefix.startsWith('/')) throw new RoutesFileError(`${at}.prefix`, 'must be a path starting with "/"');
  if (!isNormalPrefix(prefix)) {
    throw new RoutesFileError(`${at}.prefix`, 'must be a plain normalised path (no "//", ".", "..", "%", ";", "\\", "?" or "#")');
  }

  let methods: Set<string> | null = null;
  if (raw['methods'] !== undefined) {
    const m = raw['methods'];
    if (!Array.isArray(m) || m.length === 0 || !m.every((x) => typeof x === 'string' && METHOD.test(x))) {
      throw new RoutesFileError(`${at}.methods`, 'must be a non-empty array of upper-case methods like ["GET", "HEAD"]');
    }
    methods = new Set(m as string[]);
  }

  const isPublic = raw['public'];
  if (isPublic !== undefined && typeof isPublic !== 'boolean') throw new RoutesFileError(`${at}.public`, 'must be true or false');
  if (isPublic === true) {
    for (const key of ['audience', 'scopes', 'freshness']) {
      if (raw[key] !== undefined) throw new RoutesFileError(`${at}.${key}`, 'a public rule takes no audience, scopes or freshness');
    }
    return { prefix, methods, public: true, audience: null, scopes: [], freshness: undefined, index };
  }

  const audience = raw['audience'];
  if (typeof audience !== 'string' || !AUDIENCE.test(audience)) throw new RoutesFileError(`${at}.audience`, 'required unless "public": true; a name like "orders"');

  let scopes: string[] = [];
  if (raw['scopes'] !== undefined) {
    const s = raw['scopes'];
    if (!Array.isArray(s) || !s.every((x) => typeof x === 'string' && SCOPE.test(x))) {
      throw new RoutesFileError(`${at}.scopes`, 'must be an array of OAuth scope names like ["orders:write"]');
    }
    scopes = s as string[];
  }

  let freshness: FreshnessRequirement | false | undefined;
  const f = raw['freshness'];
  if (f === false) freshness = false;
  else if (f !== undefined) {
    if (!isObject(f)) throw new RoutesFileError(`${at}.freshness`, 'must be false or {"maxSeconds": 10, "policy": "fail-closed"}');
    for (const key of Object.keys(f)) {
      if (key !== 'maxSeconds' && key !== 'policy') throw new RoutesFileError(`${at}.freshness.${key}`, 'unknown field (expected maxSeconds, policy)');
    }
    const maxSeconds = f['maxSeconds'];
    if (typeof maxSeconds !== 'number' || !Number.isFinite(maxSeconds) || maxSeconds <= 0 || maxSeconds > 86_400) {
      throw new RoutesFileError(`${at}.freshness.maxSeconds`, 'must be a number of seconds between 0 (exclusive) and 86400');
    }
    const policy = f['policy'];
    if (policy !== 'fail-closed' && policy !== 'fail-open' && policy !== 'introspect') {
      throw new RoutesFileError(`${at}.freshness.policy`, 'must be "fail-closed", "fail-open" or "introspect"');
    }
    freshness = { maxSeconds, policy };
  }
  return { prefix, methods, public: false, audience, scopes, freshness, index };
}

function isNormalPrefix(prefix: string): boolean {
  if (prefix === '/') return true;
  if (/[%;\\?#\s]/.test(prefix)) return false;
  const segments = prefix.slice(1).split('/');
  // A trailing "/" is allowed ("/api/" covers "/api/x" but not "/api").
  if (segments.at(-1) === '') segments.pop();
  return segments.every((s) => s !== '' && s !== '.' && s !== '..');
}

/**
 * Finds the rule for a normalised path and method: the longest matching prefix among the
 * rules covering the method; on equal prefixes the earlier rule. `null`: no rule (deny).
 */
export function matchRoute(routes: readonly GateRoute[], method: string, path: string): GateRoute | null {
  let best: GateRoute | null = null;
  for (const route of routes) {
    if (route.methods !== null && !route.methods.has(method)) continue;
    if (!prefixCovers(route.prefix, path)) continue;
    if (best === null || route.prefix.length > best.prefix.length) best = route;
  }
  return best;
}

function prefixCovers(prefix: string, path: string): boolean {
  if (prefix === '/' || prefix.endsWith('/')) return path.startsWith(prefix);
  return path === prefix || path.startsWith(`${prefix}/`);
}
