/** What the workload, mutator and nemesis record; the checker judges it against the truth. */

/** One access token the harness holds. `access` is never printed: reports name the `jti`. */
export interface TokenInfo {
  jti: string;
  sid: string;
  sub: string;
  ver: number;
  kid: string;
  /** Epoch seconds. */
  exp: number;
  iat: number;
  user: number;
  access: string;
  refresh: string | null;
  issuedBy: string;
  receivedAt: number;
}

export type Policy = 'fail-open' | 'fail-closed' | 'introspect';

export interface Probe {
  jti: string;
  user: number;
  instance: string;
  /** Which incarnation of the instance was running when the probe was sent. */
  generation: number;
  route: string;
  policy: Policy;
  t0: number;
  t1: number;
  /** HTTP status; 0 when no answer (connection refused, timeout). */
  status: number;
  reason: string | null;
  /** Probes sent on purpose after a restart or at the end, rather than by the workload. */
  phase: 'workload' | 'restart-check' | 'final';
}

/** An event the topic must carry because a revocation was acknowledged. */
export type Expectation =
  | { type: 'session.revoked'; sub: string; sid: string }
  | { type: 'user.revoked'; sub: string; minVer: number }
  | { type: 'token.revoked'; sub: string; jti: string }
  | { type: 'key.revoked'; kid: string };

export type MutationKind =
  | 'logout'
  | 'logout-all'
  | 'password-change'
  | 'delete-session'
  | 'revoke-access-token'
  | 'revoke-refresh-token'
  | 'admin-revoke-user'
  | 'admin-disable-user'
  | 'refresh-reuse'
  | 'key-rotate'
  | 'key-revoke';

export interface Mutation {
  id: number;
  kind: MutationKind;
  user: number | null;
  instance: string;
  t0: number;
  t1: number;
  status: number;
  /** The revoking request was answered with its success status: the revocation is promised. */
  acknowledged: boolean;
  expects: Expectation[];
  /** Tokens this mutation is meant to kill (their jti). */
  targets: string[];
  error: string | null;
}

export type FaultKind = 'broker-kill' | 'broker-pause' | 'auth-kill' | 'verifier-kill' | 'pg-terminate' | 'verifier-cut';

export const FAULT_KINDS: readonly FaultKind[] = ['broker-kill', 'broker-pause', 'auth-kill', 'verifier-kill', 'pg-terminate', 'verifier-cut'];

export interface FaultWindow {
  index: number;
  kind: FaultKind;
  /** The instance hit (`broker` for broker faults). */
  target: string;
  startedAt: number;
  healedAt: number | null;
  recoveredAt: number | null;
  notes: string[];
}

export interface Violation {
  kind:
    | 'LOST'
    | 'LATE'
    | 'RESTARTED_SERVED_REVOKED'
    | 'ACK_MISSING_FROM_TOPIC'
    | 'DB_MISMATCH'
    | 'LIVE_TOKEN_REFUSED'
    | 'NOT_RECOVERED'
    | 'CRASHED'
    | 'FAULT_INEFFECTIVE'
    | 'ISSUED_WITH_REVOKED_KEY';
  message: string;
  jti?: string;
  instance?: string;
  at?: number;
}

/** What a verifier said about itself on /readyz (sampled every ~500 ms). */
export interface FreshnessSample {
  instance: string;
  t: number;
  status: number;
  /** Seconds; null when unknown (not caught up, never heard a heartbeat, no answer). */
  freshness: number | null;
}

export class History {
  readonly samples = new Map<string, FreshnessSample[]>();
  readonly tokens = new Map<string, TokenInfo>();
  readonly probes: Probe[] = [];
  readonly mutations: Mutation[] = [];
  readonly windows: FaultWindow[] = [];
  readonly violations: Violation[] = [];
  #mutationId = 0;

  nextMutationId(): number {
    return ++this.#mutationId;
  }

  /** The fault window open at `t`, if any. */
  windowAt(t: number): FaultWindow | undefined {
    return this.windows.find((w) => t >= w.startedAt && t <= (w.recoveredAt ?? w.healedAt ?? Number.POSITIVE_INFINITY));
  }
}
