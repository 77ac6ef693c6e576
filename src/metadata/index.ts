/**
 * The metadata subsystem's entry point: the contract, its errors, both dialects, and
 * `openMetadataStore(url)`, which picks a dialect from a URL (the coordinator's `--metadata` setting).
 */

import { InvalidArgumentError } from './errors.js'
import { openPostgresStore } from './postgres.js'
import type { SqlMetadataStore } from './sql-metadata-store.js'
import { openSqliteStore } from './sqlite.js'

export * from './errors.js'
export type * from './metadata-store.js'
export { openPostgresStore, DEFAULT_POSTGRES_MAX_CONNECTIONS, DEFAULT_POSTGRES_CONNECT_TIMEOUT_MS } from './postgres.js'
export type { PostgresStoreInit } from './postgres.js'
export { openSqliteStore, DEFAULT_SQLITE_BUSY_TIMEOUT_MS } from './sqlite.js'
export type { SqliteStoreInit } from './sqlite.js'
export { SqlMetadataStore, DEFAULT_LIST_LIMIT } from './sql-metadata-store.js'
export type { SqlDialectName } from './schema.js'

/** Matches a URL scheme; one letter is a Windows drive (C:\…), which is a path. */
const URL_SCHEME = /^([A-Za-z][A-Za-z0-9+.-]+):/

/**
 * Opens the metadata store a URL names:
 * - `sqlite:PATH` (`sqlite:///abs/path.db` also works, `sqlite::memory:` for an in-memory database)
 *   or a plain file path → SQLite;
 * - `postgres://…` or `postgresql://…` → PostgreSQL; an optional `schema=NAME` query parameter picks
 *   the schema (created if missing) and is removed before the URL reaches the driver.
 * Call `migrate()` on the result before first use. Throws InvalidArgumentError for an empty URL,
 * an empty SQLite path or any other scheme; otherwise fails as openSqliteStore / openPostgresStore do.
 */
export async function openMetadataStore (url: string): Promise<SqlMetadataStore> {
  if (url.trim() === '') {
    throw new InvalidArgumentError('The metadata URL is empty; use sqlite:PATH, a file path, or postgres://user@host/db.')
  }
  const scheme = URL_SCHEME.exec(url)?.[1]?.toLowerCase()
  if (scheme === undefined) {
    return await openSqliteStore({ path: url })
  }
  if (scheme === 'sqlite') {
    let path = url.slice('sqlite:'.length)
    if (path.startsWith('//')) path = path.slice(2)
    if (path === '') {
      throw new InvalidArgumentError(`Metadata URL "${url}" names no file; use sqlite:PATH, e.g. sqlite:./.shoal/metadata.db.`)
    }
    return await openSqliteStore({ path })
  }
  if (scheme === 'postgres' || scheme === 'postgresql') {
    let parsed: URL
    try {
      parsed = new URL(url)
    } catch (err) {
      throw new InvalidArgumentError('The PostgreSQL metadata URL is malformed; expected postgres://user[:password]@host[:port]/database.', { cause: err })
    }
    const schema = parsed.searchParams.get('schema') ?? undefined
    parsed.searchParams.delete('schema')
    return await openPostgresStore({ connectionString: parsed.toString(), ...(schema !== undefined ? { schema } : {}) })
  }
  throw new InvalidArgumentError(`Unsupported metadata URL scheme "${scheme}:"; use sqlite:PATH, a file path, or postgres://user@host/db.`)
}
