import type { FaultWindow, FreshnessSample, History, Probe, TokenInfo, Violation } from './history.ts';
import { FRESHNESS_MAX_SECONDS } from './system.ts';
import type { DatabaseTruth, RevocationTruth } from './truth.ts';

/**
 * How long after a revocation an acceptance on a fail-closed route is LATE: the route's
 * freshness bound, plus the relay's heartbeat bound (a heartbeat means "every revocation
 * committed more than max(2 heartbeat intervals, 2 s) ago is published"), plus 1 s of
 * scheduling slack on a loaded machine. Also the grace before a fail-open acceptance of a
 * revoked token by a healthy instance counts as LOST.
 */
export const LATE_BOUND_MS = (FRESHNESS_MAX_SECONDS + 2 + 1) * 1000;
/** A restarted instance must know every revocation produced this long before it started. */
export const RESTART_BOUND_MS = 2000;
/** A refusal this long before the revocation event's own time is a live token refused. */
const REFUSAL_SLACK_MS = 1000;

export interface WindowFigures {
  window: FaultWindow;
  probes: number;
  liveProbes: number;
  liveServed: number;
  failClosedLive: number;
  failClosedServed: number;
  violations: number;
  /** Answers to live tokens that were not 2xx, by `status reason`. */
  refusals: Record<string, number>;
}

export interface CheckResult {
  violations: Violation[];
  figures: {
    probes: number;
    workloadProbes: number;
    finalProbes: number;
    restartChecks: number;
    mutations: number;
    acknowledged: number;
    revokedTokensChecked: number;
    events: number;
    windows: WindowFigures[];
    baseline: { liveProbes: number; liveServed: number; refusals: Record<string, number> };
  };
}

const ok = (status: number) => status >= 200 && status < 300;
const iso = (t: number) => new Date(t).toISOString();

/** Judges the recorded history against what PostgreSQL and the topic say happened. */
export function check(history: History, truth: RevocationTruth, db: DatabaseTruth, startedAt: (instance: string, generation: number) => number): CheckResult {
  const violations: Violation[] = [...history.violations];
  const revokedAt = new Map<string, number>();
  const revokedBy = new Map<string, string>();
  for (const token of history.tokens.values()) {
    const event = truth.revocationOf(token);
    if (event !== undefined) {
      revokedAt.set(token.jti, event.at);
      revokedBy.set(token.jti, event.type);
    }
  }
  const probeViolation = (kind: Violation['kind'], p: Probe, what: string): void => {
    const r = revokedAt.get(p.jti);
    violations.push({
      kind,
      jti: p.jti,
      instance: p.instance,
      at: p.t0,
      message:
        `${what}: jti ${p.jti} (user ${p.user}) at ${p.instance} (generation ${p.generation}) ${p.route} [${p.policy}, ${p.phase}] ` +
        `sent ${iso(p.t0)} answered ${p.status}${p.reason ? ` ${p.reason}` : ''} at ${iso(p.t1)}` +
        (r !== undefined ? `; revoked by ${revokedBy.get(p.jti)} at ${iso(r)} (${((p.t0 - r) / 1000).toFixed(2)} s before)` : '; not revoked'),
    });
  };

  // Did the instance say it was ready and fresh just before and just after this probe?
  const claimedFresh = (p: Probe): boolean => {
    const samples = history.samples.get(p.instance) ?? [];
    let before: FreshnessSample | undefined;
    let after: FreshnessSample | undefined;
    for (const s of samples) {
      if (s.t <= p.t0) before = s;
      else if (s.t >= p.t1) {
        after = s;
        break;
      }
    }
    const fresh = (s: FreshnessSample | undefined, t: number) => s !== undefined && Math.abs(s.t - t) < 1500 && s.status === 200 && s.freshness !== null && s.freshness <= FRESHNESS_MAX_SECONDS;
    return fresh(before, p.t0) && fresh(after, p.t1);
  };

  for (const p of history.probes) {
    const token = history.tokens.get(p.jti) as TokenInfo;
    if (token.exp * 1000 <= p.t1) continue;
    const r = revokedAt.get(p.jti);
    const window = history.windowAt(p.t0);
    if (ok(p.status) && r !== undefined) {
      const gen = p.generation;
      if (gen >= 2 && r < startedAt(p.instance, gen) - RESTART_BOUND_MS) {
        probeViolation('RESTARTED_SERVED_REVOKED', p, 'a restarted instance served a token revoked while it was down');
      } else if (p.t0 > r + LATE_BOUND_MS && p.policy !== 'fail-open') {
        probeViolation('LATE', p, `accepted on a ${p.policy} route more than ${LATE_BOUND_MS / 1000} s after revocation`);
      } else if (p.t0 > r + LATE_BOUND_MS && p.phase === 'final') {
        probeViolation('LOST', p, 'revoked token accepted after healing');
      } else if (p.t0 > r + LATE_BOUND_MS && claimedFresh(p)) {
        probeViolation('LOST', p, `revoked token accepted by an instance reporting itself fresh${window === undefined ? '' : ` (during ${window.kind} of ${window.target})`}`);
      }
    }
    const live = r === undefined || r > p.t1 + REFUSAL_SLACK_MS;
    if (live && p.status === 401) probeViolation('LIVE_TOKEN_REFUSED', p, 'a live token was refused');
    else if (live && p.phase === 'final' && !ok(p.status)) probeViolation('LIVE_TOKEN_REFUSED', p, 'a live token was not served after healing');
  }

  // Every acknowledged revocation is on the topic and in the database.
  for (const m of history.mutations.filter((x) => x.acknowledged)) {
    for (const e of m.expects) {
      let onTopic: boolean;
      let inDb: boolean;
      switch (e.type) {
        case 'session.revoked':
          onTopic = truth.hasSession(e.sid);
          inDb = db.sessionRevoked.get(e.sid) === true;
          break;
        case 'user.revoked':
          onTopic = truth.userMaxMinVer(e.sub) >= e.minVer;
          inDb = (db.tokenVersion.get(e.sub) ?? 0) >= e.minVer;
          break;
        case 'token.revoked':
          onTopic = truth.hasToken(e.jti);
          inDb = db.revokedJtis.has(e.jti);
          break;
        case 'key.revoked':
          onTopic = truth.hasKey(e.kid);
          inDb = db.revokedKids.has(e.kid);
          break;
      }
      const what = `${m.kind} #${m.id} via ${m.instance} acknowledged (${m.status}) at ${iso(m.t1)}, expecting ${JSON.stringify(e)}`;
      if (!onTopic) violations.push({ kind: 'ACK_MISSING_FROM_TOPIC', instance: m.instance, at: m.t1, message: `${what}: no such event on the topic` });
      if (!inDb) violations.push({ kind: 'DB_MISMATCH', instance: m.instance, at: m.t1, message: `${what}: the database does not show it` });
    }
  }
  if (db.outboxRows !== 0) violations.push({ kind: 'DB_MISMATCH', message: `${db.outboxRows} outbox rows were never relayed` });
  for (const s of db.revokedSessions) {
    if (!truth.hasSession(s.sid) && !truth.userRevokedAfter(s.sub, s.revokedAt - 2000)) {
      violations.push({ kind: 'ACK_MISSING_FROM_TOPIC', at: s.revokedAt, message: `session ${s.sid} is revoked in PostgreSQL (${s.reason}) at ${iso(s.revokedAt)} but no event covers it on the topic` });
    }
  }

  // Availability per fault window (live tokens only).
  const windows: WindowFigures[] = history.windows.map((w) => ({ window: w, probes: 0, liveProbes: 0, liveServed: 0, failClosedLive: 0, failClosedServed: 0, violations: 0, refusals: {} }));
  const baseline = { liveProbes: 0, liveServed: 0, refusals: {} as Record<string, number> };
  const refused = (into: Record<string, number>, p: Probe) => {
    const key = `${p.status}${p.reason ? ` ${p.reason}` : ''}`;
    into[key] = (into[key] ?? 0) + 1;
  };
  for (const p of history.probes) {
    if (p.phase !== 'workload') continue;
    const r = revokedAt.get(p.jti);
    const live = r === undefined || r > p.t1 + REFUSAL_SLACK_MS;
    const w = history.windowAt(p.t0);
    const f = w === undefined ? undefined : windows[w.index - 1];
    if (f === undefined) {
      if (live) {
        baseline.liveProbes++;
        if (ok(p.status)) baseline.liveServed++;
        else refused(baseline.refusals, p);
      }
      continue;
    }
    f.probes++;
    if (!live) continue;
    f.liveProbes++;
    if (ok(p.status)) f.liveServed++;
    else refused(f.refusals, p);
    if (p.policy === 'fail-closed') {
      f.failClosedLive++;
      if (ok(p.status)) f.failClosedServed++;
    }
  }
  for (const v of violations) {
    const w = v.at === undefined ? undefined : history.windowAt(v.at);
    if (w !== undefined) (windows[w.index - 1] as WindowFigures).violations++;
  }

  const acknowledged = history.mutations.filter((m) => m.acknowledged);
  const checkedTokens = new Set(history.probes.filter((p) => revokedAt.has(p.jti)).map((p) => p.jti));
  return {
    violations,
    figures: {
      probes: history.probes.length,
      workloadProbes: history.probes.filter((p) => p.phase === 'workload').length,
      finalProbes: history.probes.filter((p) => p.phase === 'final').length,
      restartChecks: history.probes.filter((p) => p.phase === 'restart-check').length,
      mutations: history.mutations.length,
      acknowledged: acknowledged.length,
      revokedTokensChecked: checkedTokens.size,
      events: truth.events.length,
      windows,
      baseline,
    },
  };
}
