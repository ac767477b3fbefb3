import { describe, expect, it } from 'vitest';
import { ConfigError, boolFromEnv, httpUrlFromEnv, intFromEnv, kafkaBrokersFromEnv, listFromEnv, logLevelFromEnv, topicFromEnv } from './index.ts';

function failure(read: () => unknown): ConfigError {
  try {
    read();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('environment readers', () => {
  it('take the default when unset or blank', () => {
    expect(intFromEnv({ N: ' ' }, 'N', 7, 0, 10)).toBe(7);
    expect(boolFromEnv({}, 'B', true)).toBe(true);
    expect(listFromEnv({ L: 'a, ,b ' }, 'L', '')).toEqual(['a', 'b']);
    expect(logLevelFromEnv({})).toBe('info');
    expect(kafkaBrokersFromEnv({})).toEqual(['127.0.0.1:9092']);
    expect(topicFromEnv({})).toBe('revocable.revocations');
    expect(httpUrlFromEnv({ U: 'https://auth.example.com///' }, 'U', '')).toBe('https://auth.example.com');
  });

  it.each([
    ['N', () => intFromEnv({ N: '1.5' }, 'N', 1, 0, 10)],
    ['N', () => intFromEnv({ N: '11' }, 'N', 1, 0, 10)],
    ['B', () => boolFromEnv({ B: 'maybe' }, 'B', true)],
    ['LOG_LEVEL', () => logLevelFromEnv({ LOG_LEVEL: 'verbose' })],
    ['KAFKA_BROKERS', () => kafkaBrokersFromEnv({ KAFKA_BROKERS: 'localhost' })],
    ['REVOCATION_TOPIC', () => topicFromEnv({ REVOCATION_TOPIC: 'bad topic!' })],
    ['U', () => httpUrlFromEnv({ U: 'ftp://x' }, 'U', '')],
    ['U', () => httpUrlFromEnv({ U: 'http://x/?a=1' }, 'U', '')],
  ])('refuses a bad %s with one line naming it', (variable, read) => {
    const error = failure(read);
    expect(error.code).toBe('ERR_CONFIG');
    expect(error.variable).toBe(variable);
    expect(error.message.startsWith(`${variable}: `)).toBe(true);
    expect(error.message).not.toContain('\n');
  });
});
