import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configErrorOf } from '@revocable/config';
import { describe, expect, it } from 'vitest';
import { kafkaSecurityFromEnv } from './kafka-security.ts';

const dir = mkdtempSync(join(tmpdir(), 'kit-kafka-security-'));
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('kafkaSecurityFromEnv', () => {
  it('no variables: plaintext, with the one warning line', () => {
    const security = kafkaSecurityFromEnv({});
    expect(security.sasl).toBeUndefined();
    expect(security.ssl).toBeUndefined();
    expect(security.warning).toMatch(/^warning: Kafka without authentication/);
    expect(security.warning).not.toContain('\n');
  });

  it('SCRAM-SHA-512 with a password, or a password file (trailing newline dropped); no warning', () => {
    expect(kafkaSecurityFromEnv({ KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_USERNAME: 'orders', KAFKA_PASSWORD: 'pw' })).toEqual({
      sasl: { mechanism: 'SCRAM-SHA-512', username: 'orders', password: 'pw' },
      ssl: undefined,
      warning: undefined,
    });
    const path = file('password', 's3cret\n');
    expect(kafkaSecurityFromEnv({ KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', KAFKA_USERNAME: 'orders', KAFKA_PASSWORD_FILE: path }).sasl?.password).toBe('s3cret');
  });

  it('TLS: implied by a CA file, with the client certificate and the server name', () => {
    const ca = file('ca.pem', 'CA');
    const security = kafkaSecurityFromEnv({
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      KAFKA_USERNAME: 'auth',
      KAFKA_PASSWORD: 'pw',
      KAFKA_SSL_CA_FILE: ca,
      KAFKA_SSL_CERT_FILE: file('cert.pem', 'CERT'),
      KAFKA_SSL_KEY_FILE: file('key.pem', 'KEY'),
      KAFKA_SSL_SERVERNAME: 'kafka.internal',
    });
    expect(security.ssl).toEqual({ rejectUnauthorized: true, ca: 'CA', cert: 'CERT', key: 'KEY', servername: 'kafka.internal' });
    expect(kafkaSecurityFromEnv({ KAFKA_SSL: 'true' }).ssl).toEqual({ rejectUnauthorized: true });
    // A client certificate authenticates too: no warning.
    expect(kafkaSecurityFromEnv({ KAFKA_SSL_CERT_FILE: file('c2.pem', 'C'), KAFKA_SSL_KEY_FILE: file('k2.pem', 'K') }).warning).toBeUndefined();
  });

  it.each([
    ['KAFKA_SASL_MECHANISM', { KAFKA_SASL_MECHANISM: 'GSSAPI', KAFKA_USERNAME: 'u', KAFKA_PASSWORD: 'p' }],
    ['KAFKA_SASL_MECHANISM', { KAFKA_USERNAME: 'orders' }],
    ['KAFKA_SASL_MECHANISM', { KAFKA_PASSWORD: 'p' }],
    ['KAFKA_SASL_MECHANISM', { KAFKA_SASL_MECHANISM: 'PLAIN', KAFKA_USERNAME: 'u', KAFKA_PASSWORD: 'p' }],
    ['KAFKA_USERNAME', { KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', KAFKA_PASSWORD: 'p' }],
    ['KAFKA_PASSWORD', { KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', KAFKA_USERNAME: 'u' }],
    ['KAFKA_PASSWORD_FILE', { KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', KAFKA_USERNAME: 'u', KAFKA_PASSWORD: 'p', KAFKA_PASSWORD_FILE: '/x' }],
    ['KAFKA_PASSWORD_FILE', { KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', KAFKA_USERNAME: 'u', KAFKA_PASSWORD_FILE: join(dir, 'missing') }],
    ['KAFKA_SSL', { KAFKA_SSL: 'false', KAFKA_SSL_CA_FILE: '/ca.pem' }],
    ['KAFKA_SSL', { KAFKA_SSL: 'maybe' }],
    ['KAFKA_SSL_CA_FILE', { KAFKA_SSL_CA_FILE: join(dir, 'missing.pem') }],
    ['KAFKA_SSL_KEY_FILE', { KAFKA_SSL: 'true', KAFKA_SSL_CERT_FILE: '/cert.pem' }],
    ['KAFKA_SSL_REJECT_UNAUTHORIZED', { KAFKA_SSL_REJECT_UNAUTHORIZED: 'false' }],
  ] as Array<[string, Record<string, string>]>)('%s: one-line error for %j', (variable, env) => {
    const error = configErrorOf(() => kafkaSecurityFromEnv(env));
    expect(error.variable).toBe(variable);
    expect(error.message).not.toContain('\n');
    expect(error.message).not.toContain('"p"');
  });
});
