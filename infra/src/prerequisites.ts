/**
 * Prerequisite checks that turn a missing tool into one line with the fix, before anything
 * starts (instead of `Unhandled 'error' event … spawn java ENOENT` half way through).
 */
import { spawnSync } from 'node:child_process';
import { InfraError } from './errors.ts';

/** Minimum Java feature release the Kafka 3.9 broker runs on. */
export const MIN_JAVA = 17;

/** Throws `ERR_JAVA_MISSING` unless `java` on PATH is Java 17 or newer. */
export function requireJava(env: NodeJS.ProcessEnv = process.env): void {
  const fix = 'install Java 17+ (e.g. apt-get install -y openjdk-17-jre-headless) or set KAFKA_BROKERS to a running broker';
  const run = spawnSync('java', ['-version'], { encoding: 'utf8', env });
  if (run.error || run.status !== 0) {
    throw new InfraError('ERR_JAVA_MISSING', `java not found on PATH (the Kafka broker needs it): ${fix}`);
  }
  const match = /version "(\d+)(?:\.(\d+))?/.exec(`${run.stderr}${run.stdout}`);
  const major = match ? (match[1] === '1' ? Number(match[2]) : Number(match[1])) : NaN;
  if (Number.isFinite(major) && major < MIN_JAVA) {
    throw new InfraError('ERR_JAVA_MISSING', `java on PATH is Java ${major}, the Kafka broker needs ${MIN_JAVA}+: ${fix}`);
  }
}

/** Throws `ERR_MAVEN_MISSING` unless `mvn` is on PATH (only needed while the Kafka jars are not cached). */
export function requireMaven(env: NodeJS.ProcessEnv = process.env): void {
  const run = spawnSync('mvn', ['--version'], { stdio: 'ignore', env });
  if (run.error || run.status !== 0) {
    throw new InfraError(
      'ERR_MAVEN_MISSING',
      'mvn not found on PATH (needed once, to fetch the Kafka jars from Maven Central): install Maven (e.g. apt-get install -y maven) or set KAFKA_BROKERS to a running broker',
    );
  }
}
