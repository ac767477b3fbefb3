import pg from 'pg';
import { AuthError } from './errors.ts';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

/** Options for {@link createPool}. */
export interface PoolOptions {
  connectionString: string;
  max: number;
  /** How long a request waits for a connection before answering 503, in ms. */
  connectTimeoutMs: number;
  /** Server-side statement timeout, in ms. */
  statementTimeoutMs: number;
  /** Called for errors of idle clients (they must not crash the process). */
  onIdleError: (error: Error) => void;
  /** Called when the connection of a checked-out client breaks. Default: nothing (the query in flight, or the next one, fails and is answered 503). */
  onCheckedOutError?: (error: Error) => void;
  /** `application_name` of the connections (how operators find them in pg_stat_activity). Default `revocable-auth`. */
  applicationName?: string;
  /**
   * Called once per statement sent on any connection of the pool (BEGIN and COMMIT
   * included), with the statement text (never its parameters). Feeds the
   * `revocable_auth_db_statements_total` metric and the statement-count tests.
   */
  onStatement?: (text: string) => void;
}

// The connection error a checked-out client saw, if any (it is then never returned to the pool).
const brokenClients = new WeakMap<pg.PoolClient, Error>();

/**
 * A pool whose clients have an `error` listener for their whole life. pg-pool listens
 * only while a client is idle and removes its listener at checkout; a connection that
 * breaks while checked out (pg_terminate_backend, failover, a proxy restart) would then
 * emit an unhandled `error` event and end the process. Here every checkout gets a listener
 * until its release; the error is remembered so that {@link withTransaction} destroys the
 * client instead of returning it.
 */
export function createPool(options: PoolOptions): Pool {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max,
    connectionTimeoutMillis: options.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    statement_timeout: options.statementTimeoutMs,
    application_name: options.applicationName ?? 'revocable-auth',
  });
  pool.on('error', options.onIdleError);
  const onStatement = options.onStatement;
  if (onStatement !== undefined) {
    // pool.query goes through a client's query too: counting there counts each statement once.
    pool.on('connect', (client) => {
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
        const first = args[0];
        onStatement(typeof first === 'string' ? first : String((first as { text?: unknown } | null)?.text ?? ''));
        return query(...args);
      };
    });
  }
  const listeners = new WeakMap<pg.PoolClient, (error: Error) => void>();
  pool.on('acquire', (client) => {
    const onError = (error: Error) => {
      if (!brokenClients.has(client)) brokenClients.set(client, error);
      options.onCheckedOutError?.(error);
    };
    listeners.set(client, onError);
    client.on('error', onError);
  });
  pool.on('release', (_error, client) => {
    const onError = listeners.get(client);
    listeners.delete(client);
    // A broken client is destroyed by the pool: keep a listener on it for any late event.
    if (onError !== undefined && (client as unknown as { _queryable?: boolean })._queryable !== false) client.removeListener('error', onError);
  });
  return pool;
}

/** The connection error `client` saw while checked out from a {@link createPool} pool, if any. */
export function connectionError(client: PoolClient): Error | undefined {
  return brokenClients.get(client);
}

// SQLSTATE classes/codes meaning "the database is not there right now", not "your input is bad".
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '53400', '57014', '3D000', '40001', '40P01']);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE', 'EAI_AGAIN']);

/** True when `error` says PostgreSQL is unreachable or overloaded (answer 503, retry later). */
export function isDbUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (code.startsWith('08') || UNAVAILABLE_SQLSTATES.has(code) || NETWORK_CODES.has(code)) return true;
  }
  const message = error.message;
  return (
    message.includes('timeout exceeded when trying to connect') ||
    message.includes('Connection terminated') ||
    message.includes('connection timeout') ||
    message.includes('Client has encountered a connection error') ||
    message.includes('Cannot use a pool after calling end')
  );
}

function toAuthError(error: unknown): unknown {
  if (error instanceof AuthError) return error;
  if (isDbUnavailable(error)) {
    return new AuthError('ERR_AUTH_DB_UNAVAILABLE', 'the service is temporarily unavailable, retry later', {
      cause: error,
      retryAfterSeconds: 1,
    });
  }
  return error;
}

/**
 * Runs `fn` in one transaction on one checked-out client: COMMIT on success, ROLLBACK on
 * any error (so nothing is half-written), and the client is always released. A client
 * whose connection broke is destroyed rather than returned to the pool.
 */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  let client: PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw toAuthError(error);
  }
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    try {
      await client.query('ROLLBACK');
    } catch (rollbackError) {
      broken = rollbackError instanceof Error ? rollbackError : new Error('rollback failed');
    }
    if (isDbUnavailable(error)) broken ??= error as Error;
    throw toAuthError(error);
  } finally {
    client.release(broken ?? connectionError(client));
  }
}
