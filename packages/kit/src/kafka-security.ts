import { readFileSync } from 'node:fs';
import { boolFromEnv, ConfigError, stringFromEnv as str, type Env } from '@revocable/config';
import type { KafkaSaslOptions, KafkaSslOptions } from '@revocable/events';

/** How a service authenticates to the brokers, parsed once by {@link kafkaSecurityFromEnv}. */
export interface KafkaSecurity {
  /** KAFKA_SASL_MECHANISM + KAFKA_USERNAME + KAFKA_PASSWORD (or KAFKA_PASSWORD_FILE). Undefined: no SASL. */
  sasl: KafkaSaslOptions | undefined;
  /** KAFKA_SSL and KAFKA_SSL_* (CA, client certificate and key, server name). Undefined: no TLS. */
  ssl: KafkaSslOptions | undefined;
  /**
   * The one warning line a service prints at start when it talks to the brokers
   * unauthenticated (no SASL, no client certificate); undefined otherwise.
   */
  warning: string | undefined;
}

const MECHANISMS = ['SCRAM-SHA-512', 'SCRAM-SHA-256', 'PLAIN'] as const;

function readSecretFile(name: string, path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(name, `cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'read error'}); point it at the ${what}`);
  }
}

/**
 * Parses the Kafka client security settings (one-line {@link ConfigError} naming the variable):
 * - `KAFKA_SASL_MECHANISM`: `SCRAM-SHA-512` (what Revocable's brokers use), `SCRAM-SHA-256`, or
 *   `PLAIN` (only with TLS). Unset: no SASL, and a warning line at start.
 * - `KAFKA_USERNAME`, `KAFKA_PASSWORD` or `KAFKA_PASSWORD_FILE` (one of the two; a trailing
 *   newline of the file is dropped): required with a mechanism, refused without one.
 * - `KAFKA_SSL` (default false; implied by any `KAFKA_SSL_*` file), `KAFKA_SSL_CA_FILE` (PEM,
 *   default: the system trust store), `KAFKA_SSL_CERT_FILE` + `KAFKA_SSL_KEY_FILE` (client
 *   certificate, both or neither), `KAFKA_SSL_SERVERNAME`, `KAFKA_SSL_REJECT_UNAUTHORIZED`
 *   (default true).
 *
 * @example
 * kafkaSecurityFromEnv({ KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', KAFKA_USERNAME: 'orders', KAFKA_PASSWORD: 's3cret' }).sasl;
 * // { mechanism: 'SCRAM-SHA-512', username: 'orders', password: 's3cret' }
 */
export function kafkaSecurityFromEnv(env: Env): KafkaSecurity {
  const mechanism = str(env, 'KAFKA_SASL_MECHANISM', '').toUpperCase();
  const username = str(env, 'KAFKA_USERNAME', '');
  const inline = env['KAFKA_PASSWORD'] ?? '';
  const passwordFile = str(env, 'KAFKA_PASSWORD_FILE', '');

  let sasl: KafkaSaslOptions | undefined;
  if (mechanism === '') {
    for (const name of ['KAFKA_USERNAME', 'KAFKA_PASSWORD', 'KAFKA_PASSWORD_FILE']) {
      if (str(env, name, '') !== '') throw new ConfigError('KAFKA_SASL_MECHANISM', `${name} is set but no mechanism: set KAFKA_SASL_MECHANISM=SCRAM-SHA-512 (or unset ${name})`);
    }
  } else {
    if (!(MECHANISMS as readonly string[]).includes(mechanism)) throw new ConfigError('KAFKA_SASL_MECHANISM', `must be one of ${MECHANISMS.join(', ')}, got "${mechanism}"`);
    if (username === '') throw new ConfigError('KAFKA_USERNAME', `required with KAFKA_SASL_MECHANISM=${mechanism}: the SASL user of this service`);
    if (inline !== '' && passwordFile !== '') throw new ConfigError('KAFKA_PASSWORD_FILE', 'set KAFKA_PASSWORD or KAFKA_PASSWORD_FILE, not both');
    const password = passwordFile !== '' ? readSecretFile('KAFKA_PASSWORD_FILE', passwordFile, 'file holding the SASL password').replace(/\r?\n$/, '') : inline;
    if (password === '') throw new ConfigError(passwordFile !== '' ? 'KAFKA_PASSWORD_FILE' : 'KAFKA_PASSWORD', `required with KAFKA_SASL_MECHANISM=${mechanism}: the SASL password (or KAFKA_PASSWORD_FILE)`);
    sasl = { mechanism: mechanism as KafkaSaslOptions['mechanism'], username, password };
  }

  const caFile = str(env, 'KAFKA_SSL_CA_FILE', '');
  const certFile = str(env, 'KAFKA_SSL_CERT_FILE', '');
  const keyFile = str(env, 'KAFKA_SSL_KEY_FILE', '');
  const servername = str(env, 'KAFKA_SSL_SERVERNAME', '');
  const anyFile = [['KAFKA_SSL_CA_FILE', caFile], ['KAFKA_SSL_CERT_FILE', certFile], ['KAFKA_SSL_KEY_FILE', keyFile], ['KAFKA_SSL_SERVERNAME', servername]].find(([, v]) => v !== '');
  const sslOn = boolFromEnv(env, 'KAFKA_SSL', anyFile !== undefined);
  if (!sslOn && anyFile !== undefined) throw new ConfigError('KAFKA_SSL', `is false but ${anyFile[0]} is set: set KAFKA_SSL=true (or unset ${anyFile[0]})`);
  if ((certFile === '') !== (keyFile === '')) {
    throw new ConfigError(certFile === '' ? 'KAFKA_SSL_CERT_FILE' : 'KAFKA_SSL_KEY_FILE', 'set both KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE (the client certificate and its key), or neither');
  }
  const rejectUnauthorized = boolFromEnv(env, 'KAFKA_SSL_REJECT_UNAUTHORIZED', true);
  let ssl: KafkaSslOptions | undefined;
  if (sslOn) {
    const options: Exclude<KafkaSslOptions, true> = { rejectUnauthorized };
    if (caFile !== '') options.ca = readSecretFile('KAFKA_SSL_CA_FILE', caFile, 'PEM file of the CA that signed the brokers\' certificates');
    if (certFile !== '') options.cert = readSecretFile('KAFKA_SSL_CERT_FILE', certFile, 'PEM client certificate');
    if (keyFile !== '') options.key = readSecretFile('KAFKA_SSL_KEY_FILE', keyFile, 'PEM key of the client certificate');
    if (servername !== '') options.servername = servername;
    ssl = options;
  } else if (env['KAFKA_SSL_REJECT_UNAUTHORIZED'] !== undefined && env['KAFKA_SSL_REJECT_UNAUTHORIZED'].trim() !== '') {
    throw new ConfigError('KAFKA_SSL_REJECT_UNAUTHORIZED', 'only applies with KAFKA_SSL=true');
  }
  if (sasl?.mechanism === 'PLAIN' && ssl === undefined) throw new ConfigError('KAFKA_SASL_MECHANISM', 'PLAIN sends the password in clear: use it only with KAFKA_SSL=true, or use SCRAM-SHA-512');

  const authenticated = sasl !== undefined || certFile !== '';
  const warning = authenticated
    ? undefined
    : 'warning: Kafka without authentication (KAFKA_SASL_MECHANISM unset): anyone who can reach the brokers can read and forge revocations; see the README, Security model';
  return { sasl, ssl, warning };
}
