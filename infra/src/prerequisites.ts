/**
 * Prerequisite checks that turn a missing tool into one line with the fix, before anything
 * starts (instead of `Unhandled 'error' event … spawn java ENOENT` half way through).
 * They look the tools up on PATH without running them where they can: a JVM boot costs
 * seconds on a busy machine, and the broker launcher checks Java on every (re)start.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync, realpathSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { InfraError } from './errors.ts';

/** Minimum Java feature release the Kafka 3.9 broker runs on. */
export const MIN_JAVA = 17;

/** The executable `name` on `PATH`, or null. */
export function onPath(name: string, env: NodeJS.ProcessEnv = process.env): string | null {
  for (const dir of (env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** Java feature release of a `java` binary: from its JDK's `release` file, else by running `java -version`. */
function javaMajor(java: string, env: NodeJS.ProcessEnv): number {
  try {
    const release = readFileSync(join(dirname(dirname(realpathSync(java))), 'release'), 'utf8');
    const version = /^JAVA_VERSION="(\d+)(?:\.(\d+))?/m.exec(release);
    if (version) return version[1] === '1' ? Number(version[2]) : Number(version[1]);
  } catch {
    // no release file: ask the binary
  }
  const run = spawnSync(java, ['-version'], { encoding: 'utf8', env });
  const match = /version "(\d+)(?:\.(\d+))?/.exec(`${run.stderr}${run.stdout}`);
  return match ? (match[1] === '1' ? Number(match[2]) : Number(match[1])) : NaN;
}

/** Throws `ERR_JAVA_MISSING` unless `java` on PATH is Java 17 or newer. */
export function requireJava(env: NodeJS.ProcessEnv = process.env): void {
  const fix = 'install Java 17+ (e.g. apt-get install -y openjdk-17-jre-headless) or set KAFKA_BROKERS to a running broker';
  const java = onPath('java', env);
  if (!java) throw new InfraError('ERR_JAVA_MISSING', `java not found on PATH (the Kafka broker needs it): ${fix}`);
  const major = javaMajor(java, env);
  if (Number.isFinite(major) && major < MIN_JAVA) {
    throw new InfraError('ERR_JAVA_MISSING', `java on PATH is Java ${major}, the Kafka broker needs ${MIN_JAVA}+: ${fix}`);
  }
}

/** Throws `ERR_MAVEN_MISSING` unless `mvn` is on PATH (only needed while the Kafka jars are not cached). */
export function requireMaven(env: NodeJS.ProcessEnv = process.env): void {
  if (!onPath('mvn', env)) {
    throw new InfraError(
      'ERR_MAVEN_MISSING',
      'mvn not found on PATH (needed once, to fetch the Kafka jars from Maven Central): install Maven (e.g. apt-get install -y maven) or set KAFKA_BROKERS to a running broker',
    );
  }
}
