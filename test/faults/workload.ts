import { randomUUID } from 'node:crypto';
import type { Rng } from './rng.ts';
import type { History, MutationKind, Expectation, Mutation, Policy, TokenInfo } from './history.ts';
import type { FaultSystem, Verifier } from './system.ts';
import type { ServiceProcess } from './process.ts';

export interface HttpAnswer {
  status: number;
  body: unknown;
  reason: string | null;
}

/** One HTTP call with a deadline; status 0 when nothing answered. Never throws. */
export async function http(
  base: string,
  method: string,
  path: string,
  options: { bearer?: string; json?: unknown; timeoutMs?: number } = {},
): Promise<HttpAnswer> {
  const headers: Record<string, string> = {};
  if (options.bearer !== undefined) headers['authorization'] = `Bearer ${options.bearer}`;
  if (options.json !== undefined) headers['content-type'] = 'application/json';
  try {
    const response = await fetch(`${base}${path}`, {
      method,
      headers,
      ...(options.json !== undefined ? { body: JSON.stringify(options.json) } : {}),
      signal: AbortSignal.timeout(options.timeoutMs ?? 4000),
    });
    const text = await response.text();
    let body: unknown = null;
    try {
      body = text.length > 0 ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    const reason = typeof (body as { reason?: unknown } | null)?.reason === 'string' ? (body as { reason: string }).reason : null;
    return { status: response.status, body, reason };
  } catch (error) {
    return { status: 0, body: null, reason: (error as Error).name === 'TimeoutError' ? 'timeout' : 'no_answer' };
  }
}

export function decodeToken(access: string): { header: { kid: string }; claims: { jti: string; sid: string; sub: string; ver: number; exp: number; iat: number } } {
  const [h, p] = access.split('.');
  return {
    header: JSON.parse(Buffer.from(h ?? '', 'base64url').toString()) as { kid: string },
    claims: JSON.parse(Buffer.from(p ?? '', 'base64url').toString()) as { jti: string; sid: string; sub: string; ver: number; exp: number; iat: number },
  };
}

export interface User {
  index: number;
  id: string;
  email: string;
  password: string;
  current: TokenInfo | null;
  /** Tokens of this user known to be revoked recently (the workload probes them too). */
  revoked: TokenInfo[];
  busy: boolean;
}

const ROUTES: Record<'orders' | 'profile', Array<{ method: string; path: string; policy: Policy; json?: unknown }>> = {
  orders: [
    { method: 'GET', path: '/v1/orders', policy: 'fail-open' },
    { method: 'POST', path: '/v1/orders', policy: 'fail-closed', json: { item: 'tea', quantity: 1 } },
  ],
  profile: [
    { method: 'GET', path: '/v1/profile', policy: 'fail-open' },
    { method: 'PUT', path: '/v1/profile', policy: 'introspect', json: { displayName: 'fault user' } },
  ],
};

/**
 * The users, their tokens, the probing workload and the mutator. Talks to the auth
 * instances like a client behind a load balancer: it picks one, and tries the other when
 * the first does not answer.
 */
export class Workload {
  readonly users: User[] = [];
  readonly #system: FaultSystem;
  readonly #history: History;
  /** Picks the auth instance of each call (the balancing), independent of the schedule. */
  readonly #rng: Rng;
  readonly #userRngs: Rng[] = [];
  #running = false;
  #loops: Promise<void>[] = [];
  /** Probes per second, all users together. */
  readonly rate: number;
  /** Kids the harness saw revoked (acknowledged), with when. */
  readonly revokedKids = new Map<string, number>();

  constructor(system: FaultSystem, history: History, rng: Rng, options: { users: number; rate: number }) {
    this.#system = system;
    this.#history = history;
    this.#rng = rng.fork();
    this.rate = options.rate;
    for (let i = 0; i < options.users; i++) {
      this.#userRngs.push(rng.fork());
      this.users.push({ index: i, id: '', email: `fault-${i}-${randomUUID()}@example.com`, password: `fault password ${i}`, current: null, revoked: [], busy: false });
    }
  }

  aliveAuth(): ServiceProcess[] {
    return this.#system.auth.filter((a) => a.alive);
  }

  /** Calls an auth instance (the preferred one, else any other alive one); returns which answered. */
  async authCall(method: string, path: string, options: { bearer?: string; json?: unknown; prefer?: ServiceProcess; only?: boolean } = {}): Promise<HttpAnswer & { instance: string }> {
    const order = options.prefer !== undefined ? [options.prefer, ...this.#system.auth.filter((a) => a !== options.prefer)] : this.#rng.shuffle(this.#system.auth);
    let last: HttpAnswer & { instance: string } = { status: 0, body: null, reason: 'no_answer', instance: order[0]?.name ?? 'auth' };
    for (const a of options.only === true ? order.slice(0, 1) : order) {
      const answer = await http(a.url, method, path, options);
      last = { ...answer, instance: a.name };
      if (answer.status !== 0) return last;
    }
    return last;
  }

  async register(): Promise<void> {
    const queue = [...this.users];
    const worker = async () => {
      for (let user = queue.shift(); user !== undefined; user = queue.shift()) {
        const res = await this.authCall('POST', '/v1/users', { json: { email: user.email, password: user.password } });
        if (res.status !== 201) throw new Error(`registering a fault-test user failed: ${res.status} ${JSON.stringify(res.body)}`);
        user.id = (res.body as { id: string }).id;
        if ((await this.login(user)) === null) throw new Error('first login of a fault-test user failed');
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
  }

  /** Logs in (bounded retries over ~10 s) and makes the new token the user's current one. */
  async login(user: User, attempts = 20): Promise<TokenInfo | null> {
    for (let i = 0; i < attempts; i++) {
      const res = await this.authCall('POST', '/v1/login', { json: { email: user.email, password: user.password, audience: ['orders', 'profile', 'auth'] } });
      if (res.status === 200) {
        const body = res.body as { access_token: string; refresh_token: string };
        const token = this.adopt(user, body.access_token, body.refresh_token, res.instance);
        user.current = token;
        return token;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    user.current = null;
    return null;
  }

  /** Records a token received from the auth service. */
  adopt(user: User, access: string, refresh: string | null, issuedBy: string): TokenInfo {
    const { header, claims } = decodeToken(access);
    const token: TokenInfo = { jti: claims.jti, sid: claims.sid, sub: claims.sub, ver: claims.ver, kid: header.kid, exp: claims.exp, iat: claims.iat, user: user.index, access, refresh, issuedBy, receivedAt: Date.now() };
    this.#history.tokens.set(token.jti, token);
    const revokedAt = this.revokedKids.get(token.kid);
    if (revokedAt !== undefined && token.iat * 1000 > revokedAt + 1000) {
      this.#history.violations.push({ kind: 'ISSUED_WITH_REVOKED_KEY', jti: token.jti, instance: issuedBy, at: Date.now(), message: `${issuedBy} issued jti ${token.jti} signed with kid ${token.kid}, revoked at ${new Date(revokedAt).toISOString()}` });
    }
    return token;
  }

  retire(user: User, token: TokenInfo | null): void {
    if (token === null) return;
    user.revoked.push(token);
    if (user.revoked.length > 6) user.revoked.shift();
    if (user.current === token) user.current = null;
  }

  /** One probe of one token at one verifier, recorded. */
  async probe(token: TokenInfo, verifier: Verifier, routeIndex: number, phase: 'workload' | 'restart-check' | 'final'): Promise<number> {
    const route = ROUTES[verifier.audience][routeIndex % 2] as (typeof ROUTES)['orders'][number];
    const generation = verifier.proc.generation;
    const t0 = Date.now();
    const answer = await http(verifier.proc.url, route.method, route.path, { bearer: token.access, ...(route.json !== undefined ? { json: route.json } : {}), timeoutMs: 3000 });
    this.#history.probes.push({
      jti: token.jti,
      user: token.user,
      instance: verifier.proc.name,
      generation,
      route: `${route.method} ${route.path}`,
      policy: route.policy,
      t0,
      t1: Date.now(),
      status: answer.status,
      reason: answer.reason,
      phase,
    });
    return answer.status;
  }

  start(): void {
    this.#running = true;
    const perUserIntervalMs = (this.users.length / this.rate) * 1000;
    for (const user of this.users) {
      const rng = this.#userRngs[user.index] as Rng;
      this.#loops.push(
        (async () => {
          // Spread the users over the interval.
          await new Promise((resolve) => setTimeout(resolve, rng.next() * perUserIntervalMs));
          while (this.#running) {
            const started = Date.now();
            const stale = user.revoked.length > 0 && rng.next() < 0.25;
            const token = stale ? rng.pick(user.revoked) : user.current;
            if (token !== null && token.exp * 1000 > Date.now()) {
              await this.probe(token, rng.pick(this.#system.verifiers), rng.int(0, 1), 'workload');
            }
            const wait = perUserIntervalMs - (Date.now() - started);
            await new Promise((resolve) => setTimeout(resolve, Math.max(5, wait)));
          }
        })(),
      );
    }
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
    this.#loops = [];
  }
}

const USER_KINDS: readonly MutationKind[] = [
  'logout',
  'logout-all',
  'password-change',
  'delete-session',
  'revoke-access-token',
  'revoke-refresh-token',
  'admin-revoke-user',
  'admin-disable-user',
  'refresh-reuse',
];

/**
 * Does every kind of revocation, records what each acknowledged one promises (the event it
 * must produce), and gives the user a fresh token afterwards.
 */
export class Mutator {
  readonly #system: FaultSystem;
  readonly #history: History;
  readonly #workload: Workload;
  readonly #rng: Rng;
  #running = false;
  #loop: Promise<void> = Promise.resolve();
  readonly #inflight = new Set<Promise<unknown>>();
  /** Mutations per second in the background. */
  readonly rate: number;

  constructor(system: FaultSystem, history: History, workload: Workload, rng: Rng, options: { rate: number }) {
    this.#system = system;
    this.#history = history;
    this.#workload = workload;
    this.#rng = rng;
    this.rate = options.rate;
  }

  start(): void {
    this.#running = true;
    const rng = this.#rng.fork();
    this.#loop = (async () => {
      while (this.#running) {
        void this.mutateOne(rng);
        await new Promise((resolve) => setTimeout(resolve, 1000 / this.rate));
      }
    })();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
    await Promise.all([...this.#inflight]);
  }

  /** Starts one mutation of a seeded kind on a free user (or does nothing when all are busy). */
  mutateOne(rng: Rng, prefer?: ServiceProcess): Promise<Mutation | null> {
    const free = this.#workload.users.filter((u) => !u.busy && u.current !== null);
    if (free.length === 0) return Promise.resolve(null);
    const user = rng.pick(free);
    const kind = rng.pick(USER_KINDS);
    const p = this.#userMutation(user, kind, prefer);
    this.#inflight.add(p);
    void p.finally(() => this.#inflight.delete(p));
    return p;
  }

  /** A burst of `count` concurrent mutations, optionally at one auth instance only. */
  async burst(rng: Rng, count: number, prefer?: ServiceProcess): Promise<void> {
    await Promise.all(Array.from({ length: count }, () => this.mutateOne(rng, prefer)));
  }

  #record(m: Omit<Mutation, 'id' | 't1'>): Mutation {
    const full: Mutation = { ...m, id: this.#history.nextMutationId(), t1: Date.now() };
    this.#history.mutations.push(full);
    return full;
  }

  async #userMutation(user: User, kind: MutationKind, prefer?: ServiceProcess): Promise<Mutation | null> {
    const token = user.current;
    if (token === null) return null;
    user.busy = true;
    const only = prefer !== undefined;
    const call = (method: string, path: string, options: { bearer?: string; json?: unknown } = {}) => this.#workload.authCall(method, path, { ...options, ...(prefer !== undefined ? { prefer, only } : {}) });
    const admin = this.#system.adminToken;
    const t0 = Date.now();
    let mutation: Mutation | null = null;
    let killed: TokenInfo[] = [token];
    try {
      switch (kind) {
        case 'logout': {
          const r = await call('POST', '/v1/logout', { bearer: token.access });
          mutation = this.#record({ kind, user: user.index, instance: r.instance, t0, status: r.status, acknowledged: r.status === 204, expects: [{ type: 'session.revoked', sub: token.sub, sid: token.sid }], targets: [token.jti], error: null });
          break;
        }
        case 'logout-all': {
          const r = await call('POST', '/v1/logout-all', { bearer: token.access });
          mutation = this.#record({ kind, user: user.index, instance: r.instance, t0, status: r.status, acknowledged: r.status === 204, expects: [{ type: 'user.revoked', sub: token.sub, minVer: token.ver + 1 }], targets: [token.jti], error: null });
          break;
        }
        case 'password-change': {
          const next = `fault password ${user.index} ${randomUUID().slice(0, 8)}`;
          const r = await call('POST', '/v1/password', { bearer: token.access, json: { current_password: user.password, new_password: next } });
          if (r.status === 200) user.password = next;
          else if (r.status === 0 || r.status >= 500) {
            // Outcome unknown: find out which password works now.
            user.password = (await this.#passwordWorks(user, next)) ? next : user.password;
          }
          mutation = this.#record({ kind, user: user.index, instance: r.instance, t0, status: r.status, acknowledged: r.status === 200, expects: [{ type: 'user.revoked', sub: token.sub, minVer: token.ver + 1 }], targets: [token.jti], error: null });
          break;
        }
        case 'delete-session': {
          // A second device, then log it out from the first.
          const other = await call('POST', '/v1/login', { json: { email: user.email, password: user.password, audience: ['orders', 'profile', 'auth'] } });
          if (other.status !== 200) {
            killed = [];
            break;
          }
          const second = this.#workload.adopt(user, (other.body as { access_token: string }).access_token, (other.body as { refresh_token: string }).refresh_token, other.instance);
          const r = await call('DELETE', `/v1/sessions/${second.sid}`, { bearer: token.access });
          killed = [second];
          mutation = this.#record({ kind, user: user.index, instance: r.instance, t0, status: r.status, acknowledged: r.status === 204, expects: [{ type: 'session.revoked', sub: second.sub, sid: second.sid }], targets: [second.jti], error: null });
          break;
        }
        case 'revoke-access-token': {
          const r = await call('POST', '/oauth/revoke', { json: { token: token.access, token_type_hint: 'access_token' } });
          mutation = this.#record({ kind, user: user.index, instance: r.instance, t0, status: r.status, acknowledged: r.status === 200, expects: [{ type: 'token.revoked', sub: token.sub, jti: token.jti }], targets: [token.jti], error: null });
          // The session lives on: refresh for a new access token.
          if (r.status === 200 && token.refresh !== null) {
            const refreshed = await call('POST', '/oauth/token', { json: { grant_type: 'refresh_token', refresh_token: token.refresh, resource: ['orders', 'profile', 'auth'] } });
            if (refreshed.status === 200) {
              this.#workload.retire(user, token);
              const body = refreshed.body as { access_token: string; refresh_token: string };
              user.current = this.#workload.adopt(user, body.access_token, body.refresh_token, refreshed.instance);
              killed = [];
            }
          }
          break;
        }
        case 'revoke-refresh-token': {
          if (token.refresh === null) {
            killed = [];
            break;
          }
          const r = await call('POST', '/oauth/revoke', { json: { token: token.refresh, token_type_hint: 'refresh_token' } });
          mutation = this.#record({ kind, user: user.index, instance: r.instance, t0, status: r.status, acknowledged: r.status === 200, expects: [{ type: 'session.revoked', sub: token.sub, sid: token.sid }], targets: [token.jti], error: null });
          break;
        }
        case 'admin-revoke-user': {
          const r = await call('POST', `/v1/admin/users/${user.id}/revoke`, { bearer: admin });
          const minVer = r.status === 200 ? (r.body as { min_ver: number }).min_ver : token.ver + 1;
          mutation = this.#record({ kind, user: user.index, instance: r.instance, t0, status: r.status, acknowledged: r.status === 200, expects: [{ type: 'user.revoked', sub: token.sub, minVer }], targets: [token.jti], error: null });
          break;
        }
        case 'admin-disable-user': {
          const r = await call('POST', `/v1/admin/users/${user.id}/disable`, { bearer: admin });
          mutation = this.#record({ kind, user: user.index, instance: r.instance, t0, status: r.status, acknowledged: r.status === 200, expects: [{ type: 'user.revoked', sub: token.sub, minVer: token.ver + 1 }], targets: [token.jti], error: null });
          // Enable again (no event) so the user can go on; bounded retries.
          for (let i = 0; i < 20; i++) {
            const e = await this.#workload.authCall('POST', `/v1/admin/users/${user.id}/enable`, { bearer: admin });
            if (e.status === 200) break;
            await new Promise((resolve) => setTimeout(resolve, 500));
          }
          break;
        }
        case 'refresh-reuse': {
          if (token.refresh === null) {
            killed = [];
            break;
          }
          const first = await call('POST', '/oauth/token', { json: { grant_type: 'refresh_token', refresh_token: token.refresh, resource: ['orders', 'profile'] } });
          if (first.status === 200) {
            const body = first.body as { access_token: string; refresh_token: string };
            const successor = this.#workload.adopt(user, body.access_token, body.refresh_token, first.instance);
            killed = [token, successor];
          }
          const r = await call('POST', '/oauth/token', { json: { grant_type: 'refresh_token', refresh_token: token.refresh, resource: ['orders', 'profile'] } });
          // A rotated token presented again: refused (400 invalid_grant) and the session revoked.
          const ack = first.status === 200 && r.status === 400 && (r.body as { error?: string } | null)?.error === 'invalid_grant';
          mutation = this.#record({ kind, user: user.index, instance: r.instance, t0, status: r.status, acknowledged: ack, expects: [{ type: 'session.revoked', sub: token.sub, sid: token.sid }], targets: killed.map((k) => k.jti), error: null });
          break;
        }
        default:
          killed = [];
      }
    } finally {
      for (const k of killed) this.#workload.retire(user, k);
      if (user.current === null) await this.#workload.login(user);
      user.busy = false;
    }
    return mutation;
  }

  async #passwordWorks(user: User, candidate: string): Promise<boolean> {
    for (let i = 0; i < 20; i++) {
      const r = await this.#workload.authCall('POST', '/v1/login', { json: { email: user.email, password: candidate, audience: ['orders', 'profile', 'auth'] } });
      if (r.status === 200) {
        this.#workload.adopt(user, (r.body as { access_token: string }).access_token, null, r.instance);
        return true;
      }
      if (r.status === 401 || r.status === 400) return false;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    return false;
  }

  /** Rotates the signing key; nobody is logged out by a rotation. */
  async rotateKey(): Promise<{ kid: string; previousKid: string } | null> {
    const t0 = Date.now();
    const r = await this.#workload.authCall('POST', '/v1/admin/keys/rotate', { bearer: this.#system.adminToken });
    this.#record({ kind: 'key-rotate', user: null, instance: r.instance, t0, status: r.status, acknowledged: r.status === 200, expects: [], targets: [], error: null });
    if (r.status !== 200) return null;
    const body = r.body as { kid: string; previous_kid: string };
    return { kid: body.kid, previousKid: body.previous_kid };
  }

  /** Emergency revocation of `kid`: every token it signed dies; every user whose token it signed logs in again. */
  async revokeKey(kid: string): Promise<void> {
    const t0 = Date.now();
    for (const u of this.#workload.users) u.busy = true;
    try {
      const r = await this.#workload.authCall('POST', `/v1/admin/keys/${encodeURIComponent(kid)}/revoke`, { bearer: this.#system.adminToken });
      const targets = [...this.#history.tokens.values()].filter((t) => t.kid === kid).map((t) => t.jti);
      this.#record({ kind: 'key-revoke', user: null, instance: r.instance, t0, status: r.status, acknowledged: r.status === 200, expects: [{ type: 'key.revoked', kid }], targets, error: null });
      if (r.status === 200) this.#workload.revokedKids.set(kid, Date.now());
      const relogin = this.#workload.users.filter((u) => u.current?.kid === kid);
      for (const u of relogin) this.#workload.retire(u, u.current);
      const queue = [...relogin];
      const worker = async () => {
        for (let u = queue.shift(); u !== undefined; u = queue.shift()) await this.#workload.login(u);
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
    } finally {
      for (const u of this.#workload.users) u.busy = false;
    }
  }
}

export type { Expectation };
