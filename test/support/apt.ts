/**
 * Debian packages the tests and benchmarks need (nginx, wrk): installed with apt-get when
 * missing, once per machine, quietly. Concurrent test files wait for one another on a lock
 * directory, and apt-get itself waits for dpkg's lock held by anyone else.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';

const LOCK = '/tmp/revocable-apt.lock';
const POLICY = '/usr/sbin/policy-rc.d';

/** Thrown when a package cannot be installed; the message carries apt-get's output. */
export class AptInstallError extends Error {
  readonly code = 'ERR_APT_INSTALL';
  constructor(message: string) {
    super(message);
    this.name = 'AptInstallError';
  }
}

/** Absolute path of `binary` if it is on the usual system paths. */
export function findBinary(binary: string): string | undefined {
  for (const dir of ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin', '/sbin', '/bin']) {
    if (existsSync(`${dir}/${binary}`)) return `${dir}/${binary}`;
  }
  return undefined;
}

/**
 * Returns the path of `binary`, installing Debian package `pkg` first when it is missing
 * (`apt-get update && apt-get install -y <pkg>`). The package's service is not started
 * (a temporary policy-rc.d refuses it): tests run their own instance.
 */
export async function ensureDebianPackage(pkg: string, binary: string = pkg): Promise<string> {
  const found = findBinary(binary);
  if (found !== undefined) return found;
  await withLock(() => {
    if (findBinary(binary) !== undefined) return;
    const ownPolicy = !existsSync(POLICY);
    if (ownPolicy) writeFileSync(POLICY, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
    try {
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      // Another process's apt-get (the browser test installs chromium) is waited for, not failed on.
      const lock = ['-o', 'DPkg::Lock::Timeout=600'];
      for (const args of [['update', '-qq', ...lock], ['install', '-y', '-qq', '--no-install-recommends', ...lock, pkg]]) {
        try {
          execFileSync('apt-get', args, { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
        } catch (error) {
          const e = error as { stderr?: Buffer; stdout?: Buffer; message: string };
          throw new AptInstallError(`apt-get ${args.join(' ')} failed: ${(e.stderr?.toString() || e.stdout?.toString() || e.message).trim().split('\n').slice(-5).join(' | ')}`);
        }
      }
    } finally {
      if (ownPolicy) rmSync(POLICY, { force: true });
    }
  });
  const installed = findBinary(binary);
  if (installed === undefined) throw new AptInstallError(`installed ${pkg} but found no ${binary} binary`);
  return installed;
}

async function withLock(fn: () => void): Promise<void> {
  const deadline = Date.now() + 600_000;
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // A lock left by a killed run is older than any install takes.
      if (Date.now() - statSync(LOCK, { throwIfNoEntry: false })!.mtimeMs > 600_000) rmSync(LOCK, { recursive: true, force: true });
      if (Date.now() > deadline) throw new AptInstallError(`waited 10 minutes for ${LOCK}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  try {
    fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}
