/**
 * The PostgreSQL metadata store, for several stateless coordinators over one database: a pg Pool
 * driven through kysely's PostgresDialect.
 *
 * int8 columns come back from pg as decimal strings (pg's default, left untouched: changing pg's
 * global type parsers would affect every other pg user in the process); sql-metadata-store.ts
 * converts them in one place.
 */

import pg from 'pg'
import { CompiledQuery, Kysely, PostgresDialect } from 'kysely'
import { InvalidArgumentError } from './errors.js'
import type { Database } from './schema.js'
import { SqlMetadataStore } from './sql-metadata-store.js'

/**
 * Connections per process. A commit holds one connection for a few round trips; 10 (pg's default)
 * keeps a coordinator well inside PostgreSQL's default max_connections=100 with several coordinators.
 */
export const DEFAULT_POSTGRES_MAX_CONNECTIONS = 10

/** How long to wait for a connection (new or from the pool) before failing, instead of hanging. */
export const DEFAULT_POSTGRES_CONNECT_TIMEOUT_MS = 10_000

/** A schema name we accept: a plain lower/upper-case SQL identifier within PostgreSQL's 63 bytes. */
const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/

/** Settings of openPostgresStore. */
export interface PostgresStoreInit {
  /** A libpq-style URL, e.g. postgres://user@host:5432/db. */
  readonly connectionString: string
  /**
   * Schema to keep the tables in; created if missing and set as the search_path of every connection.
   * Default: none (the connection's default search_path, normally `public`).
   */
  readonly schema?: string
  /** See DEFAULT_POSTGRES_MAX_CONNECTIONS (default 10). */
  readonly maxConnections?: number
  /** See DEFAULT_POSTGRES_CONNECT_TIMEOUT_MS (default 10000). */
  readonly connectTimeoutMs?: number
  /**
   * Told about errors of idle pooled connections (the server restarted, the network dropped); the
   * pool discards such a connection and the next query opens a new one. Default: ignore them.
   */
  readonly onIdleError?: (err: Error) => void
}

/**
 * Opens a pool on `init.connectionString` (and creates `init.schema` if given and missing). Call
 * `migrate()` before first use and `close()` when done. Throws InvalidArgumentError for a schema
 * name that is not a plain identifier; rejects with pg's error when the server cannot be reached or
 * refuses the login (when `schema` is given; otherwise the first query reports it).
 */
export async function openPostgresStore (init: PostgresStoreInit): Promise<SqlMetadataStore> {
  const { schema } = init
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new InvalidArgumentError(`PostgreSQL schema name "${schema}" must be letters, digits and _ (not starting with a digit), at most 63 characters.`)
  }
  const pool = new pg.Pool({
    connectionString: init.connectionString,
    max: init.maxConnections ?? DEFAULT_POSTGRES_MAX_CONNECTIONS,
    connectionTimeoutMillis: init.connectTimeoutMs ?? DEFAULT_POSTGRES_CONNECT_TIMEOUT_MS
  })
  // Without a listener an idle connection's error would be an uncaught 'error' event and end the process.
  pool.on('error', (err) => { init.onIdleError?.(err) })

  if (schema !== undefined) {
    try {
      await createSchemaIfMissing(pool, schema)
    } catch (err) {
      await pool.end()
      throw err
    }
  }
  const setSearchPath = schema === undefined
    ? undefined
    : CompiledQuery.raw(`set search_path to "${schema}"`)
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({
      pool,
      ...(setSearchPath !== undefined
        ? { onCreateConnection: async (connection) => { await connection.executeQuery(setSearchPath) } }
        : {})
    })
  })
  return new SqlMetadataStore(db, { dialect: 'postgres', ...(schema !== undefined ? { schema } : {}) })
}

/** CREATE SCHEMA IF NOT EXISTS still fails when two processes race; a schema that exists afterwards is success. */
async function createSchemaIfMissing (pool: pg.Pool, schema: string): Promise<void> {
  try {
    await pool.query(`create schema if not exists "${schema}"`)
  } catch (err) {
    const { rowCount } = await pool.query('select 1 from pg_namespace where nspname = $1', [schema])
    if (rowCount !== 1) throw err
  }
}
