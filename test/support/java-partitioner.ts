import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureKafkaJars } from '@revocable/infra';

const SOURCE = `
import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;
import java.nio.charset.StandardCharsets;
public class Partitions {
  public static void main(String[] args) {
    int n = Integer.parseInt(args[0]);
    for (int i = 1; i < args.length; i++) {
      System.out.println(BuiltInPartitioner.partitionForKey(args[i].getBytes(StandardCharsets.UTF_8), n));
    }
  }
}
`;

/**
 * The partition the real Java producer (kafka-clients' `BuiltInPartitioner.partitionForKey`,
 * what `KafkaProducer` uses for keyed records) picks for each key among `partitions`,
 * computed by running Java on the Kafka jars the broker runs from (a single-file program).
 */
export function javaPartitions(keys: readonly string[], partitions: number): number[] {
  const libs = ensureKafkaJars();
  const jars = readdirSync(libs).filter((f) => /^(kafka-clients|slf4j-api)-.*\.jar$/.test(f));
  const dir = mkdtempSync(join(tmpdir(), 'revocable-partitioner-'));
  try {
    writeFileSync(join(dir, 'Partitions.java'), SOURCE);
    const out = execFileSync(
      'java',
      ['-XX:TieredStopAtLevel=1', '-cp', jars.map((j) => join(libs, j)).join(':'), join(dir, 'Partitions.java'), String(partitions), ...keys],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60_000 },
    );
    const result = out.trim().split('\n').map(Number);
    if (result.length !== keys.length || result.some((p) => !Number.isInteger(p))) throw new Error(`unexpected Java output: ${out}`);
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
