import type { FastifyRequest } from 'fastify';
import { safeEqual } from './crypto.ts';
import { AuthError } from './errors.ts';

/**
 * An OAuth client (RFC 6749 §2.1) as the registry knows it.
 * - `public`: a browser app, CLI or mobile app. It has only a `client_id`; it may log users
 *   in and refresh their sessions, never authenticate.
 * - `confidential`: a resource service with a secret (INTROSPECTION_CLIENTS). It
 *   authenticates with HTTP Basic (`client_secret_basic`) to introspect and revoke tokens
 *   meant for its audience; it logs nobody in.
 */
export interface OAuthClient {
  clientId: string;
  type: 'public' | 'confidential';
  /** Confidential clients only; compared in constant time. */
  secret?: string;
  /** Audiences this client may receive tokens for (public) or introspects (confidential: its own). */
  audiences: readonly string[];
  /** Scopes it may receive (every scope of its audiences unless restricted). */
  scopes: readonly string[];
  /** Scopes granted when a login or refresh asks for none (restricted to the granted audiences). */
  defaultScopes: readonly string[];
  /** Audiences of a login that names none. */
  defaultAudiences: readonly string[];
}

/** The audiences and scopes one token grant carries. */
export interface Grant {
  /** Audience names, deduplicated, in request order. */
  aud: string[];
  /** Space-separated scopes (may be empty). */
  scope: string;
}

/** What {@link ClientRegistry} is built from (the parsed configuration). */
export interface ClientRegistryOptions {
  clients: readonly OAuthClient[];
  /** Resource audiences (AUDIENCES) plus the auth service's own (ACCOUNT_AUDIENCE). */
  audiences: readonly string[];
  /** Every scope, each belonging to the audience before its first `:` (SCOPES). */
  scopes: readonly string[];
  /** Absolute resource URI → audience name (RESOURCE_URIS, plus the issuer → ACCOUNT_AUDIENCE). */
  resourceUris: ReadonlyMap<string, string>;
}

/** The audience a scope belongs to: the part before its first `:`. */
export function scopeAudience(scope: string): string {
  const colon = scope.indexOf(':');
  return colon < 0 ? scope : scope.slice(0, colon);
}

// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/** Splits an RFC 6749 §3.3 scope string; invalid_scope on characters outside the grammar. */
export function parseScope(value: string): string[] {
  const parts = value.split(' ').filter((s) => s !== '');
  for (const part of parts) {
    if (!SCOPE_TOKEN.test(part)) throw new AuthError('ERR_AUTH_INVALID_SCOPE', 'scope has characters outside RFC 6749 §3.3');
  }
  return [...new Set(parts)];
}

/**
 * The client registry: who the clients are, how they authenticate (RFC 6749 §2.3, §5.2), and
 * which audiences (RFC 8707 resource indicators, by name or absolute URI) and scopes a grant
 * may carry for each of them.
 */
export class ClientRegistry {
  readonly #clients: ReadonlyMap<string, OAuthClient>;
  readonly #o: ClientRegistryOptions;
  /** The first public client: logins and refreshes that name no client use it. */
  readonly defaultClient: OAuthClient;

  constructor(options: ClientRegistryOptions) {
    this.#o = options;
    this.#clients = new Map(options.clients.map((c) => [c.clientId, c]));
    const first = options.clients.find((c) => c.type === 'public');
    if (first === undefined) throw new Error('the client registry needs at least one public client');
    this.defaultClient = first;
  }

  /** Every scope the service knows (RFC 8414 `scopes_supported`). */
  get scopesSupported(): readonly string[] {
    return this.#o.scopes;
  }

  /** Every client (for metadata and documentation; secrets included, never serialise as is). */
  get clients(): readonly OAuthClient[] {
    return [...this.#clients.values()];
  }

  /** The client of that id, or undefined. */
  get(clientId: string): OAuthClient | undefined {
    return this.#clients.get(clientId);
  }

  /**
   * Authenticates the caller of a token, revocation or introspection request (RFC 6749
   * §2.3.1, §5.2). With an `Authorization: Basic` header, id and secret must match a
   * confidential client (form-urlencoded inside the header); with none, `bodyClientId` (or
   * the default client when absent) must be a public client. Anything else is
   * `ERR_AUTH_INVALID_CLIENT` (401 with a `WWW-Authenticate: Basic` challenge).
   */
  authenticate(request: FastifyRequest, bodyClientId: string | undefined): OAuthClient {
    const header = request.headers.authorization;
    if (header !== undefined && header !== '') {
      const basic = /^Basic[ ]+([A-Za-z0-9+/]+={0,2})[ ]*$/i.exec(header);
      if (basic === null) {
        // Another scheme (e.g. a Bearer token) is not client authentication.
        throw new AuthError('ERR_AUTH_INVALID_CLIENT', 'client authentication failed: use HTTP Basic (client_secret_basic)');
      }
      const client = this.#checkBasic(basic[1] as string);
      if (bodyClientId !== undefined && bodyClientId !== client.clientId) {
        throw new AuthError('ERR_AUTH_INVALID_REQUEST', 'client_id in the body differs from the authenticated client');
      }
      return client;
    }
    if (bodyClientId === undefined) return this.defaultClient;
    const client = this.#clients.get(bodyClientId);
    if (client === undefined) throw new AuthError('ERR_AUTH_INVALID_CLIENT', 'unknown client_id');
    if (client.type !== 'public') throw new AuthError('ERR_AUTH_INVALID_CLIENT', 'this client must authenticate (HTTP Basic)');
    return client;
  }

  /**
   * The public client a login names (`client_id`), or the default client when it names none.
   * Unknown ids are `ERR_AUTH_INVALID_CLIENT`; a confidential client logs nobody in
   * (`ERR_AUTH_UNAUTHORIZED_CLIENT`).
   */
  publicClient(clientId: string | undefined): OAuthClient {
    if (clientId === undefined) return this.defaultClient;
    const client = this.#clients.get(clientId);
    if (client === undefined) throw new AuthError('ERR_AUTH_INVALID_CLIENT', 'unknown client_id');
    if (client.type !== 'public') throw new AuthError('ERR_AUTH_UNAUTHORIZED_CLIENT', 'a confidential client cannot log users in');
    return client;
  }

  /** A confidential client by HTTP Basic only (introspection). */
  authenticateConfidential(request: FastifyRequest): OAuthClient {
    const header = request.headers.authorization;
    const basic = header === undefined ? null : /^Basic[ ]+([A-Za-z0-9+/]+={0,2})[ ]*$/i.exec(header);
    if (basic === null) throw new AuthError('ERR_AUTH_INVALID_CLIENT', 'client authentication failed: use HTTP Basic (client_secret_basic)');
    return this.#checkBasic(basic[1] as string);
  }

  #checkBasic(encoded: string): OAuthClient {
    const fail = () => new AuthError('ERR_AUTH_INVALID_CLIENT', 'client authentication failed');
    const decoded = Buffer.from(encoded, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw fail();
    // RFC 6749 §2.3.1: id and secret are form-urlencoded inside Basic credentials.
    let id: string;
    let secret: string;
    try {
      id = decodeURIComponent(decoded.slice(0, colon).replaceAll('+', ' '));
      secret = decodeURIComponent(decoded.slice(colon + 1).replaceAll('+', ' '));
    } catch {
      throw fail();
    }
    let matched: OAuthClient | undefined;
    // Compare against every confidential client so timing does not reveal which ids exist.
    for (const client of this.#clients.values()) {
      if (client.type !== 'confidential' || client.secret === undefined) continue;
      const idOk = safeEqual(id, client.clientId);
      const secretOk = safeEqual(secret, client.secret);
      if (idOk && secretOk) matched = client;
    }
    if (matched === undefined) throw fail();
    return matched;
  }

  /**
   * RFC 8707: a `resource` (or `audience`) value is an audience name or the absolute URI
   * mapped to one. Unknown values are `ERR_AUTH_INVALID_TARGET`.
   */
  resolveResources(requested: string | readonly string[] | undefined): string[] | undefined {
    if (requested === undefined) return undefined;
    const list = typeof requested === 'string' ? [requested] : requested;
    if (list.length === 0) return undefined;
    const names: string[] = [];
    for (const value of list) {
      const name = this.#o.audiences.includes(value) ? value : this.#o.resourceUris.get(canonicalUri(value));
      if (name === undefined) {
        throw new AuthError('ERR_AUTH_INVALID_TARGET', `unknown resource; use one of: ${this.#o.audiences.join(', ')} (or its URI)`);
      }
      if (!names.includes(name)) names.push(name);
    }
    return names;
  }

  /**
   * The grant of a login (`ceiling` undefined) or refresh (`ceiling`: what the session was
   * granted at login). Audiences: the requested ones (resolved), else the ceiling's, else
   * the client's defaults; each must be allowed to the client and inside the ceiling
   * (`ERR_AUTH_INVALID_TARGET`). Scopes: the requested ones, each known, allowed to the
   * client, belonging to a granted audience and inside the ceiling (`ERR_AUTH_INVALID_SCOPE`);
   * else the defaults (client's default scopes, or the ceiling's scopes) of the granted audiences.
   */
  grant(client: OAuthClient, request: { resource?: string | readonly string[] | undefined; scope?: string | undefined }, ceiling?: Grant): Grant {
    if (client.type !== 'public') throw new AuthError('ERR_AUTH_UNAUTHORIZED_CLIENT', 'a confidential client cannot obtain user tokens');
    const requested = this.resolveResources(request.resource);
    const aud = requested ?? (ceiling !== undefined ? [...ceiling.aud] : [...client.defaultAudiences]);
    for (const a of aud) {
      if (!client.audiences.includes(a)) throw new AuthError('ERR_AUTH_INVALID_TARGET', `client ${client.clientId} may not obtain tokens for ${a}`);
      if (ceiling !== undefined && !ceiling.aud.includes(a)) {
        throw new AuthError('ERR_AUTH_INVALID_TARGET', `the session was not granted ${a} at login`);
      }
    }
    const ceilingScopes = ceiling === undefined ? undefined : parseScope(ceiling.scope);
    let scopes: string[];
    if (request.scope !== undefined && request.scope.trim() !== '') {
      scopes = parseScope(request.scope);
      for (const s of scopes) {
        if (!this.#o.scopes.includes(s)) throw new AuthError('ERR_AUTH_INVALID_SCOPE', `unknown scope ${s.slice(0, 64)}`);
        if (!client.scopes.includes(s)) throw new AuthError('ERR_AUTH_INVALID_SCOPE', `scope ${s} is not allowed for client ${client.clientId}`);
        if (!aud.includes(scopeAudience(s))) throw new AuthError('ERR_AUTH_INVALID_SCOPE', `scope ${s} is not for the requested audience(s) ${aud.join(' ')}`);
        if (ceilingScopes !== undefined && !ceilingScopes.includes(s)) throw new AuthError('ERR_AUTH_INVALID_SCOPE', `scope ${s} was not granted at login`);
      }
    } else {
      const base = ceilingScopes ?? client.defaultScopes;
      scopes = base.filter((s) => aud.includes(scopeAudience(s)));
    }
    return { aud, scope: scopes.join(' ') };
  }
}

/** An absolute URI compared as the WHATWG URL parser writes it, without a trailing slash on the path. */
export function canonicalUri(value: string): string {
  try {
    const url = new URL(value);
    if (url.hash !== '') return value;
    const s = url.toString();
    return s.endsWith('/') ? s.slice(0, -1) : s;
  } catch {
    return value;
  }
}
