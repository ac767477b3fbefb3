import type pg from 'pg';

/**
 * What a query function runs on: the pool (one statement, its own transaction) or a
 * client checked out by `withTransaction` (part of the caller's transaction).
 */
export interface Db {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}
