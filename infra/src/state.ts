/**
 * What `up` started, recorded in the run directory the moment each process is spawned:
 * `<runDir>/<name>.json` with its pid, port and a digest of its settings. `status`, `down`
 * and the next `up` read these records; a record whose pid is gone, or now runs another
 * program, is dropped.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './kafka-broker.ts';
import { commandLine } from './ports.ts';

/** The processes `up` manages, in start order. */
export const COMPONENTS = ['kafka', 'auth', 'orders', 'profile'] as const;
export type Component = (typeof COMPONENTS)[number];

/** Run directory of this checkout: `REVOCABLE_RUN_DIR`, default `infra/.run` (git-ignored). */
export function runDir(env: NodeJS.ProcessEnv = process.env): string {
  return env['REVOCABLE_RUN_DIR'] || join(REPO_ROOT, 'infra/.run');
}

/** A started process as recorded on disk. */
export interface ProcessRecord {
  pid: number;
  /** The port it serves (the client port for Kafka). */
  port: number;
  /** Every port it holds. */
  ports: number[];
  /** Setting name → 12-hex-digit digest of its value (values, secrets included, are never written). */
  settings: Record<string, string>;
  /** A fragment of its command line, to recognise the pid. */
  marker: string;
  startedAt: string;
}

/** Digest of each setting, so a changed value is noticed without storing it. */
export function digestSettings(settings: Record<string, string | number>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(settings)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => [k, createHash('sha256').update(String(v)).digest('hex').slice(0, 12)]),
  );
}

/** Names of the settings whose digest differs (added and removed ones included). */
export function changedSettings(before: Record<string, string>, after: Record<string, string>): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((k) => before[k] !== after[k]).sort();
}

function recordFile(dir: string, name: Component): string {
  return join(dir, `${name}.json`);
}

/** Records a process (call right after the spawn). */
export function writeRecord(dir: string, name: Component, record: ProcessRecord): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(recordFile(dir, name), `${JSON.stringify(record, null, 2)}\n`);
}

export function removeRecord(dir: string, name: Component): void {
  rmSync(recordFile(dir, name), { force: true });
}

/** Whether `pid` is a live process (zombies count as gone). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** The record of `name` if its process still runs the recorded program; stale records are removed. */
export function liveRecord(dir: string, name: Component): ProcessRecord | null {
  const file = recordFile(dir, name);
  if (!existsSync(file)) return null;
  let record: ProcessRecord;
  try {
    record = JSON.parse(readFileSync(file, 'utf8')) as ProcessRecord;
  } catch {
    rmSync(file, { force: true });
    return null;
  }
  const cmd = commandLine(record.pid, 100_000);
  if (!alive(record.pid) || (cmd !== '' && !cmd.includes(record.marker))) {
    rmSync(file, { force: true });
    return null;
  }
  return record;
}

/** SIGTERM, then SIGKILL after `deadlineMs`; resolves once the pid is gone. */
export async function stopPid(pid: number, deadlineMs = 30_000): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + deadlineMs;
  while (alive(pid)) {
    if (Date.now() > deadline) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        return;
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Stops every recorded process, services first and the broker last; returns what was stopped. */
export async function stopRecorded(dir: string, log: (line: string) => void, only?: readonly Component[]): Promise<Component[]> {
  const stopped: Component[] = [];
  for (const name of [...COMPONENTS].reverse()) {
    if (only && !only.includes(name)) continue;
    const record = liveRecord(dir, name);
    if (!record) {
      removeRecord(dir, name);
      continue;
    }
    await stopPid(record.pid);
    removeRecord(dir, name);
    stopped.push(name);
    log(`stopped ${name} (pid ${record.pid})`);
  }
  return stopped;
}
