import { randomUUID } from 'node:crypto';
import { parseEvent, type RevocationEvent } from '@revocable/events';
import { Kafka, logLevel, type SASLOptions } from 'kafkajs';
import pg from 'pg';
import type { TokenInfo } from './history.ts';

/** Every revocation event on the topic, from the beginning to the high watermarks. */
export async function readTopic(bootstrap: string, sasl: SASLOptions, topic: string, timeoutMs: number): Promise<RevocationEvent[]> {
  const kafka = new Kafka({ clientId: 'faults-checker', brokers: [bootstrap], sasl, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const remaining = new Map(offsets.filter((o) => BigInt(o.high) > BigInt(o.low)).map((o) => [o.partition, BigInt(o.high)]));
  const events: RevocationEvent[] = [];
  if (remaining.size === 0) return events;
  const consumer = kafka.consumer({ groupId: `faults-checker-${randomUUID()}`, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const parsed = parseEvent(message.value);
      if (parsed.ok && parsed.event.type !== 'heartbeat') events.push(parsed.event);
      const high = remaining.get(partition);
      if (high !== undefined && BigInt(message.offset) + 1n >= high) {
        remaining.delete(partition);
        if (remaining.size === 0) done();
      }
    },
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      finished,
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`reading the topic back took over ${timeoutMs} ms; partitions left: ${[...remaining.keys()].join(',')}`)), timeoutMs))),
    ]);
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
  return events;
}

/** When each token became revoked according to the topic (epoch ms of the earliest event that covers it). */
export class RevocationTruth {
  readonly events: RevocationEvent[];
  readonly #sessions = new Map<string, RevocationEvent>();
  readonly #users = new Map<string, Array<{ minVer: number; event: RevocationEvent }>>();
  readonly #tokens = new Map<string, RevocationEvent>();
  readonly #keys = new Map<string, RevocationEvent>();

  constructor(events: RevocationEvent[]) {
    this.events = events;
    const earliest = (map: Map<string, RevocationEvent>, key: string, event: RevocationEvent) => {
      const seen = map.get(key);
      if (seen === undefined || event.at < seen.at) map.set(key, event);
    };
    for (const e of events) {
      if (e.type === 'session.revoked') earliest(this.#sessions, e.sid, e);
      else if (e.type === 'token.revoked') earliest(this.#tokens, e.jti, e);
      else if (e.type === 'key.revoked') earliest(this.#keys, e.kid, e);
      else if (e.type === 'user.revoked') {
        const list = this.#users.get(e.sub) ?? [];
        list.push({ minVer: e.minVer, event: e });
        this.#users.set(e.sub, list);
      }
    }
  }

  /** The earliest event revoking `token`, or undefined while it is live. */
  revocationOf(token: TokenInfo): RevocationEvent | undefined {
    const candidates: RevocationEvent[] = [];
    const s = this.#sessions.get(token.sid);
    if (s) candidates.push(s);
    const t = this.#tokens.get(token.jti);
    if (t) candidates.push(t);
    const k = this.#keys.get(token.kid);
    if (k) candidates.push(k);
    for (const u of this.#users.get(token.sub) ?? []) if (u.minVer > token.ver) candidates.push(u.event);
    return candidates.sort((a, b) => a.at - b.at)[0];
  }

  hasSession(sid: string): boolean {
    return this.#sessions.has(sid);
  }
  hasToken(jti: string): boolean {
    return this.#tokens.has(jti);
  }
  hasKey(kid: string): boolean {
    return this.#keys.has(kid);
  }
  userMaxMinVer(sub: string): number {
    return Math.max(0, ...(this.#users.get(sub) ?? []).map((u) => u.minVer));
  }
  userRevokedAfter(sub: string, at: number): boolean {
    return (this.#users.get(sub) ?? []).some((u) => u.event.at >= at);
  }
}

/** The auth service's state, read back from its own database. */
export interface DatabaseTruth {
  outboxRows: number;
  revokedSessions: Array<{ sid: string; sub: string; revokedAt: number; reason: string | null }>;
  sessionRevoked: Map<string, boolean>;
  tokenVersion: Map<string, number>;
  revokedJtis: Set<string>;
  revokedKids: Set<string>;
}

export async function countOutbox(databaseUrl: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM outbox');
    return Number(rows[0]?.n);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function readDatabase(databaseUrl: string): Promise<DatabaseTruth> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const outbox = await client.query<{ n: string }>('SELECT count(*) AS n FROM outbox');
    const sessions = await client.query<{ id: string; user_id: string; revoked_at: Date | null; revoke_reason: string | null }>('SELECT id, user_id, revoked_at, revoke_reason FROM sessions');
    const users = await client.query<{ id: string; token_version: number }>('SELECT id, token_version FROM users');
    const jtis = await client.query<{ jti: string }>('SELECT jti FROM revoked_access_tokens');
    const kids = await client.query<{ kid: string }>(`SELECT kid FROM signing_keys WHERE status = 'revoked'`);
    return {
      outboxRows: Number(outbox.rows[0]?.n),
      revokedSessions: sessions.rows.filter((r) => r.revoked_at !== null).map((r) => ({ sid: r.id, sub: r.user_id, revokedAt: (r.revoked_at as Date).getTime(), reason: r.revoke_reason })),
      sessionRevoked: new Map(sessions.rows.map((r) => [r.id, r.revoked_at !== null])),
      tokenVersion: new Map(users.rows.map((r) => [r.id, r.token_version])),
      revokedJtis: new Set(jtis.rows.map((r) => r.jti)),
      revokedKids: new Set(kids.rows.map((r) => r.kid)),
    };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Terminates every backend connected to `database` except this one (what a failover or a
 * proxy restart does to the auth service). Only that database: other databases on the
 * server are not touched. Returns how many were terminated.
 */
export async function terminateBackends(adminUrl: string, database: string): Promise<number> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    const { rows } = await client.query<{ ok: boolean }>(
      'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [database],
    );
    return rows.filter((r) => r.ok).length;
  } finally {
    await client.end().catch(() => undefined);
  }
}
