import { describe, expect, it } from 'vitest';
import { boolFromEnv, configErrorOf, corsOriginsFromEnv, httpUrlFromEnv, intFromEnv, kafkaBrokersFromEnv, kafkaClientFromEnv, listFromEnv, logLevelFromEnv, topicFromEnv } from './index.ts';

const failure = configErrorOf;

describe('environment readers', () => {
  it('take the default when unset or blank', () => {
    expect(intFromEnv({ N: ' ' }, 'N', 7, 0, 10)).toBe(7);
    expect(boolFromEnv({}, 'B', true)).toBe(true);
    expect(listFromEnv({ L: 'a, ,b ' }, 'L', '')).toEqual(['a', 'b']);
    expect(logLevelFromEnv({})).toBe('info');
    expect(kafkaBrokersFromEnv({})).toEqual(['127.0.0.1:9092']);
    expect(topicFromEnv({})).toBe('revocable.revocations');
    expect(kafkaClientFromEnv({})).toBe('platformatic');
    expect(kafkaClientFromEnv({ KAFKA_CLIENT: 'kafkajs' })).toBe('kafkajs');
    expect(httpUrlFromEnv({ U: 'https://auth.example.com///' }, 'U', '')).toBe('https://auth.example.com');
    expect(corsOriginsFromEnv({})).toEqual([]);
  });

  it('reads CORS_ORIGINS as canonical exact origins', () => {
    expect(corsOriginsFromEnv({ CORS_ORIGINS: 'https://App.Example.com:443, http://localhost:5173,https://app.example.com' })).toEqual([
      'https://app.example.com',
      'http://localhost:5173',
    ]);
  });

  it.each([
    ['N', () => intFromEnv({ N: '1.5' }, 'N', 1, 0, 10)],
    ['N', () => intFromEnv({ N: '11' }, 'N', 1, 0, 10)],
    ['B', () => boolFromEnv({ B: 'maybe' }, 'B', true)],
    ['LOG_LEVEL', () => logLevelFromEnv({ LOG_LEVEL: 'verbose' })],
    ['KAFKA_BROKERS', () => kafkaBrokersFromEnv({ KAFKA_BROKERS: 'localhost' })],
    ['REVOCATION_TOPIC', () => topicFromEnv({ REVOCATION_TOPIC: 'bad topic!' })],
    ['KAFKA_CLIENT', () => kafkaClientFromEnv({ KAFKA_CLIENT: 'rdkafka' })],
    ['U', () => httpUrlFromEnv({ U: 'ftp://x' }, 'U', '')],
    ['U', () => httpUrlFromEnv({ U: 'http://x/?a=1' }, 'U', '')],
    ['CORS_ORIGINS', () => corsOriginsFromEnv({ CORS_ORIGINS: '*' })],
    ['CORS_ORIGINS', () => corsOriginsFromEnv({ CORS_ORIGINS: 'https://*.example.com' })],
    ['CORS_ORIGINS', () => corsOriginsFromEnv({ CORS_ORIGINS: 'https://app.example.com/' })],
    ['CORS_ORIGINS', () => corsOriginsFromEnv({ CORS_ORIGINS: 'https://app.example.com/login' })],
    ['CORS_ORIGINS', () => corsOriginsFromEnv({ CORS_ORIGINS: 'app.example.com' })],
    ['CORS_ORIGINS', () => corsOriginsFromEnv({ CORS_ORIGINS: 'file:///tmp/x' })],
    ['CORS_ORIGINS', () => corsOriginsFromEnv({ CORS_ORIGINS: 'null' })],
  ])('refuses a bad %s with one line naming it', (variable, read) => {
    const error = failure(read);
    expect(error.code).toBe('ERR_CONFIG');
    expect(error.variable).toBe(variable);
    expect(error.message.startsWith(`${variable}: `)).toBe(true);
    expect(error.message).not.toContain('\n');
  });
});
