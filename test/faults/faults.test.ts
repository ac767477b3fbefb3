/**
 * The fault suite: a private Kafka broker, PostgreSQL, two auth instances and three
 * verifiers as separate processes; ~30 users probing, every kind of revocation, and one
 * fault at a time (broker kill -9 and pause, auth kill mid-burst, verifier kill during
 * revocations, pg_terminate_backend on the auth database, a verifier cut off from the
 * broker). The checker reads the truth back from PostgreSQL and the topic; see
 * test/faults/README.md. FAULT_SEED replays a run's schedule.
 */
import { describe, expect, it } from 'vitest';
import { databaseUrl } from '../support/env.ts';
import { seedFromEnv } from './rng.ts';
import { formatReport, runFaults } from './run.ts';

describe('fault injection', () => {
  it('loses no revocation, serves no revoked token late, and recovers by itself from every fault', async () => {
    const seed = seedFromEnv();
    console.log(`[faults] FAULT_SEED=${seed}`);
    const report = await runFaults({ seed, adminDatabaseUrl: databaseUrl(), log: (line) => console.log(`[faults] ${line}`) });
    console.log(formatReport(report));
    expect(report.result.figures.windows).toHaveLength(6);
    expect(report.result.figures.acknowledged).toBeGreaterThan(20);
    expect(report.result.figures.revokedTokensChecked).toBeGreaterThan(20);
    // The report above has the details (jti, instance, times, log tails); one line each here.
    expect(report.result.violations.map((v) => `${v.kind}: ${v.message.split('\n')[0]}`)).toEqual([]);
  }, 900_000);
});
