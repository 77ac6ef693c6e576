/**
 * The embedded SQLite metadata store (the coordinator's default): one file, opened with
 * better-sqlite3 and driven through kysely's SqliteDialect.
 *
 * Settings chosen here, and why:
 * - journal_mode=WAL: readers never block the writer and vice versa, so S3 GETs and LISTs keep going
 *   while uploads commit; and a commit appends to one file instead of rewriting pages twice.
 * - synchronous=FULL: the WAL is fsynced at every commit. With NORMAL a power cut can roll back the
 *   last commits — an S3 PUT the client was told succeeded would vanish, which for a storage system is
 *   data loss. One fsync per commit is small next to uploading the pieces of the object to its nodes.
 * - busy_timeout: another process (a second coordinator on the same file, `shoal` CLI maintenance)
 *   holding the write lock makes a writer wait instead of failing at once.
 * - foreign_keys=ON: SQLite enforces declared foreign keys only when asked, per connection.
 */

import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { Kysely, SqliteDialect, type SqliteDatabase } from 'kysely'
import { InvalidArgumentError } from './errors.js'
import type { Database } from './schema.js'
import { SqlMetadataStore } from './sql-metadata-store.js'

/**
 * How long a writer waits for another process's write lock before failing with SQLITE_BUSY. Commits
 * are a handful of small statements (milliseconds); 5 s rides out a long checkpoint or a bulk repair.
 */
export const DEFAULT_SQLITE_BUSY_TIMEOUT_MS = 5_000

/** Settings of openSqliteStore. */
export interface SqliteStoreInit {
  /** The database file, created (with its folder) when missing; `:memory:` for a private in-memory database. */
  readonly path: string
  /** See DEFAULT_SQLITE_BUSY_TIMEOUT_MS (default 5000). */
  readonly busyTimeoutMs?: number
}

/**
 * Opens (creating if needed) the SQLite metadata database at `init.path`. Call `migrate()` before
 * first use and `close()` when done. Throws InvalidArgumentError for an empty path or a bad timeout;
 * rejects with better-sqlite3's SqliteError when the file cannot be opened or is not a database.
 */
export async function openSqliteStore (init: SqliteStoreInit): Promise<SqlMetadataStore> {
  const busyTimeoutMs = init.busyTimeoutMs ?? DEFAULT_SQLITE_BUSY_TIMEOUT_MS
  if (init.path === '') {
    throw new InvalidArgumentError('SQLite metadata path is empty; give a file path or ":memory:".')
  }
  if (!Number.isSafeInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw new InvalidArgumentError(`busyTimeoutMs must be a non-negative integer, got ${String(busyTimeoutMs)}.`)
  }
  if (init.path !== ':memory:') {
    mkdirSync(dirname(init.path), { recursive: true })
  }
  const database = new BetterSqlite3(init.path)
  try {
    database.pragma(`busy_timeout = ${busyTimeoutMs}`)
    database.pragma('journal_mode = WAL')
    database.pragma('synchronous = FULL')
    database.pragma('foreign_keys = ON')
  } catch (err) {
    database.close()
    throw err
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(database) }) })
  return new SqlMetadataStore(db, { dialect: 'sqlite' })
}

/** Prepared statements kept by withStatementCache: more than the store's distinct queries, so none is re-prepared in steady state. */
export const STATEMENT_CACHE_SIZE = 512

/**
 * The database as kysely sees it, with prepared statements kept by SQL text (least recently used out).
 * Kysely prepares every query anew; on a small S3 PUT preparing cost about a fifth of the coordinator's
 * time in SQLite. A statement still being iterated is never handed out twice (a fresh one is prepared).
 */
function withStatementCache (database: BetterSqlite3.Database, size = STATEMENT_CACHE_SIZE): SqliteDatabase {
  const cache = new Map<string, BetterSqlite3.Statement>()
  return {
    close: () => { cache.clear(); database.close() },
    prepare (text: string) {
      const hit = cache.get(text)
      if (hit !== undefined && !hit.busy) {
        cache.delete(text)
        cache.set(text, hit)
        return hit
      }
      const statement = database.prepare(text)
      if (hit === undefined) {
        cache.set(text, statement)
        if (cache.size > size) cache.delete(cache.keys().next().value!)
      }
      return statement
    }
  }
}
