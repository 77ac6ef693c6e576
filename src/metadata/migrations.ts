/**
 * Schema migrations as code, for kysely's Migrator: an in-memory MigrationProvider (no migration
 * files to find at run time, so a bundled or installed `shoal` migrates the same way as a checkout).
 *
 * Rules for adding a migration: never edit a released one; append `000N_what` to `buildMigrations`;
 * write it with `Kysely<any>` (a migration describes the schema of its own time, not today's types);
 * keep it idempotent (`ifNotExists`) because SQLite DDL is not wrapped in a transaction by kysely.
 *
 * Dialect differences live here and only here for DDL:
 * - keys and names are `text COLLATE "C"` on PostgreSQL so that they compare and sort by bytes
 *   (the database default is usually a linguistic collation); SQLite's default BINARY collation
 *   already compares UTF-8 bytes;
 * - binary columns are `bytea` on PostgreSQL and `blob` on SQLite;
 * - 64-bit integers are `bigint` on both (SQLite gives any type containing "INT" integer affinity).
 */

import { Migrator, sql } from 'kysely'
import type { Kysely, Migration, MigrationProvider } from 'kysely'
import { MigrationError } from './errors.js'
import type { SqlDialectName } from './schema.js'

/**
 * Table names of the migrator's bookkeeping. Not kysely's defaults (`kysely_migration`) so that
 * other subsystems migrating their own tables in the same database (the ledger, say) never collide.
 */
export const MIGRATION_TABLE = 'shoal_metadata_migration'
export const MIGRATION_LOCK_TABLE = 'shoal_metadata_migration_lock'

/** The column types that differ by dialect. */
interface DialectTypes {
  /** A text column that compares and sorts by UTF-8 bytes. */
  readonly keyText: ReturnType<typeof sql.raw> | 'text'
  /** A binary column. */
  readonly blob: 'bytea' | 'blob'
}

function dialectTypes (dialect: SqlDialectName): DialectTypes {
  return dialect === 'postgres'
    ? { keyText: sql.raw('text collate "C"'), blob: 'bytea' }
    : { keyText: 'text', blob: 'blob' }
}

/** Runs `fn` in a transaction unless the migrator already opened one (PostgreSQL's transactional DDL). */
async function inTransaction (db: Kysely<any>, fn: (db: Kysely<any>) => Promise<void>): Promise<void> {
  if (db.isTransaction) {
    await fn(db)
    return
  }
  await db.transaction().execute(fn)
}

/** 0001: every table and index of the first schema. */
function initialSchema (dialect: SqlDialectName): Migration {
  const { keyText, blob } = dialectTypes(dialect)
  return {
    async up (root: Kysely<any>): Promise<void> {
      await inTransaction(root, async (db) => {
        await db.schema.createTable('nodes').ifNotExists()
          .addColumn('id', keyText, (c) => c.primaryKey())
          .addColumn('public_key', 'text', (c) => c.notNull())
          .addColumn('url', 'text', (c) => c.notNull())
          .addColumn('provider', 'text', (c) => c.notNull())
          .addColumn('region', 'text', (c) => c.notNull())
          .addColumn('operator', 'text', (c) => c.notNull())
          .addColumn('subnet', 'text', (c) => c.notNull())
          .addColumn('country', 'text', (c) => c.notNull())
          .addColumn('capacity_bytes', 'bigint', (c) => c.notNull())
          .addColumn('used_bytes', 'bigint', (c) => c.notNull())
          .addColumn('free_bytes', 'bigint', (c) => c.notNull())
          .addColumn('first_seen', 'bigint', (c) => c.notNull())
          .addColumn('last_seen', 'bigint', (c) => c.notNull())
          .execute()

        await db.schema.createTable('accounts').ifNotExists()
          .addColumn('id', keyText, (c) => c.primaryKey())
          .addColumn('name', keyText, (c) => c.notNull())
          .addColumn('sealed_secret', blob, (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addUniqueConstraint('accounts_name_unique', ['name'])
          .execute()

        await db.schema.createTable('buckets').ifNotExists()
          .addColumn('name', keyText, (c) => c.primaryKey())
          // No foreign key to accounts: the coordinator may create service buckets owned by ids
          // that are not accounts, and deleting an account is a decision about its buckets.
          .addColumn('owner_id', keyText, (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('settings', 'text', (c) => c.notNull())
          .execute()
        // listBuckets(ownerId): equality on owner, ordered by name.
        await db.schema.createIndex('buckets_owner_name').ifNotExists()
          .on('buckets').columns(['owner_id', 'name']).execute()

        await db.schema.createTable('uploads').ifNotExists()
          .addColumn('id', keyText, (c) => c.primaryKey())
          // No foreign key to buckets: a bucket may be deleted while uploads into it are pending;
          // their commit then fails with NotFoundError and their pieces stay findable for GC.
          .addColumn('bucket', keyText, (c) => c.notNull())
          .addColumn('key', keyText, (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addCheckConstraint('uploads_state_check', sql`state in ('pending', 'committed', 'aborted')`)
          .execute()
        await db.schema.createIndex('uploads_bucket_key').ifNotExists()
          .on('uploads').columns(['bucket', 'key']).execute()

        await db.schema.createTable('segments').ifNotExists()
          .addColumn('upload_id', keyText, (c) => c.notNull())
          .addColumn('idx', 'integer', (c) => c.notNull())
          .addColumn('plain_size', 'bigint', (c) => c.notNull())
          .addColumn('encrypted_size', 'bigint', (c) => c.notNull())
          .addColumn('shard_size', 'bigint', (c) => c.notNull())
          .addColumn('k', 'integer', (c) => c.notNull())
          .addColumn('m', 'integer', (c) => c.notNull())
          .addColumn('under_placed', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('placement_note', 'text', (c) => c.notNull().defaultTo(''))
          .addPrimaryKeyConstraint('segments_pk', ['upload_id', 'idx'])
          .addForeignKeyConstraint('segments_upload_fk', ['upload_id'], 'uploads', ['id'],
            (fk) => fk.onDelete('cascade'))
          .addCheckConstraint('segments_idx_check', sql`idx >= 0`)
          .addCheckConstraint('segments_under_placed_check', sql`under_placed in (0, 1)`)
          .execute()

        await db.schema.createTable('pieces').ifNotExists()
          .addColumn('upload_id', keyText, (c) => c.notNull())
          .addColumn('segment_idx', 'integer', (c) => c.notNull())
          .addColumn('piece_idx', 'integer', (c) => c.notNull())
          // No foreign key to nodes: a piece outlives the node's registration (that is what repair
          // is for), and nodes are never deleted while pieces point at them anyway.
          .addColumn('node_id', keyText, (c) => c.notNull())
          .addColumn('piece_id', 'text', (c) => c.notNull())
          .addColumn('size', 'bigint', (c) => c.notNull())
          .addColumn('hash', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('pieces_pk', ['upload_id', 'segment_idx', 'piece_idx'])
          .addForeignKeyConstraint('pieces_segment_fk', ['upload_id', 'segment_idx'], 'segments',
            ['upload_id', 'idx'], (fk) => fk.onDelete('cascade'))
          .execute()
        // Audits, repair and stats ask "which pieces does node N hold".
        await db.schema.createIndex('pieces_node_id').ifNotExists()
          .on('pieces').column('node_id').execute()

        await db.schema.createTable('objects').ifNotExists()
          // The primary key (bucket, key) is the listing index: listObjects is an equality on bucket
          // and a range on key (startAfter, prefix as [prefix, successor)), read in key order.
          .addColumn('bucket', keyText, (c) => c.notNull())
          .addColumn('key', keyText, (c) => c.notNull())
          .addColumn('upload_id', keyText, (c) => c.notNull())
          .addColumn('size', 'bigint', (c) => c.notNull())
          .addColumn('segment_count', 'integer', (c) => c.notNull())
          .addColumn('segment_size', 'bigint', (c) => c.notNull())
          .addColumn('inline_data', blob)
          .addColumn('key_salt', blob, (c) => c.notNull())
          .addColumn('content_type', 'text', (c) => c.notNull())
          .addColumn('etag', 'text', (c) => c.notNull())
          .addColumn('user_metadata', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('objects_pk', ['bucket', 'key'])
          // One visible object per upload; also the index for "is this upload visible".
          .addUniqueConstraint('objects_upload_unique', ['upload_id'])
          // Restrict (not cascade): a bucket with objects must not disappear under them.
          .addForeignKeyConstraint('objects_bucket_fk', ['bucket'], 'buckets', ['name'])
          .addForeignKeyConstraint('objects_upload_fk', ['upload_id'], 'uploads', ['id'])
          .execute()
      })
    },
    async down (root: Kysely<any>): Promise<void> {
      await inTransaction(root, async (db) => {
        for (const table of ['objects', 'pieces', 'segments', 'uploads', 'buckets', 'accounts', 'nodes']) {
          await db.schema.dropTable(table).ifExists().execute()
        }
      })
    }
  }
}

/** 0002: S3 access keys, each belonging to an account. */
function accessKeys (dialect: SqlDialectName): Migration {
  const { keyText, blob } = dialectTypes(dialect)
  return {
    async up (root: Kysely<any>): Promise<void> {
      await inTransaction(root, async (db) => {
        await db.schema.createTable('access_keys').ifNotExists()
          .addColumn('access_key_id', keyText, (c) => c.primaryKey())
          .addColumn('account_id', keyText, (c) => c.notNull().references('accounts.id'))
          .addColumn('sealed_secret', blob, (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute()
        await db.schema.createIndex('access_keys_account').ifNotExists().on('access_keys').column('account_id').execute()
      })
    },
    async down (db: Kysely<any>): Promise<void> {
      await db.schema.dropTable('access_keys').ifExists().execute()
    }
  }
}

/**
 * 0003: durability. Node reputation (audits, standing, graceful exit), and the index audits and
 * garbage collection page through: a node's pieces in piece-id order.
 */
function durability (dialect: SqlDialectName): Migration {
  const { keyText } = dialectTypes(dialect)
  return {
    async up (root: Kysely<any>): Promise<void> {
      await inTransaction(root, async (db) => {
        await db.schema.createTable('node_reputation').ifNotExists()
          .addColumn('node_id', keyText, (c) => c.primaryKey())
          .addColumn('standing', 'text', (c) => c.notNull())
          .addColumn('standing_reason', 'text', (c) => c.notNull().defaultTo(''))
          .addColumn('standing_since', 'bigint', (c) => c.notNull())
          .addColumn('exit_state', 'text', (c) => c.notNull().defaultTo('none'))
          .addColumn('audits', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('audit_successes', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('audit_failures', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('audit_unknown', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('audit_offline', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('audit_alpha', 'double precision', (c) => c.notNull())
          .addColumn('audit_beta', 'double precision', (c) => c.notNull())
          .addColumn('unknown_alpha', 'double precision', (c) => c.notNull())
          .addColumn('unknown_beta', 'double precision', (c) => c.notNull())
          .addColumn('uptime_score', 'double precision', (c) => c.notNull())
          .addColumn('latency_ms', 'double precision', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .addCheckConstraint('node_reputation_standing_check', sql`standing in ('vetting', 'active', 'suspended', 'disqualified')`)
          .addCheckConstraint('node_reputation_exit_check', sql`exit_state in ('none', 'exiting', 'exited')`)
          .execute()
        await db.schema.createIndex('pieces_node_piece').ifNotExists()
          .on('pieces').columns(['node_id', 'piece_id']).execute()
      })
    },
    async down (root: Kysely<any>): Promise<void> {
      await inTransaction(root, async (db) => {
        await db.schema.dropIndex('pieces_node_piece').ifExists().execute()
        await db.schema.dropTable('node_reputation').ifExists().execute()
      })
    }
  }
}

/**
 * 0004: segments assembled from other uploads (S3 CompleteMultipartUpload without moving data). A
 * segment moved from a part keeps the salt its key was derived from and the index its nonce was
 * derived from; `part_number` is its part's place in the assembled object (1-based). All three are
 * null for segments written as part of their own object.
 */
function assembledSegments (dialect: SqlDialectName): Migration {
  const { blob } = dialectTypes(dialect)
  return {
    async up (root: Kysely<any>): Promise<void> {
      await inTransaction(root, async (db) => {
        await db.schema.alterTable('segments').addColumn('key_salt', blob).execute()
        await db.schema.alterTable('segments').addColumn('seal_index', 'integer').execute()
        await db.schema.alterTable('segments').addColumn('part_number', 'integer').execute()
      })
    },
    async down (root: Kysely<any>): Promise<void> {
      await inTransaction(root, async (db) => {
        for (const column of ['part_number', 'seal_index', 'key_salt']) {
          await db.schema.alterTable('segments').dropColumn(column).execute()
        }
      })
    }
  }
}

/** Every migration, by name; names sort in the order they must run. */
export function buildMigrations (dialect: SqlDialectName): Record<string, Migration> {
  return {
    '0001_initial': initialSchema(dialect),
    '0002_access_keys': accessKeys(dialect),
    '0003_durability': durability(dialect),
    '0004_assembled_segments': assembledSegments(dialect)
  }
}

/** A MigrationProvider over `buildMigrations`, for kysely's Migrator. Never fails. */
export class InMemoryMigrationProvider implements MigrationProvider {
  readonly #dialect: SqlDialectName

  constructor (dialect: SqlDialectName) {
    this.#dialect = dialect
  }

  async getMigrations (): Promise<Record<string, Migration>> {
    return buildMigrations(this.#dialect)
  }
}

/**
 * Brings the schema to the latest migration; does nothing when it is already there. On PostgreSQL the
 * migrator serializes concurrent callers with an advisory lock, so several coordinators may start at
 * once. `schema` (PostgreSQL only) is where the bookkeeping tables go, normally `current_schema()`.
 * Rejects with MigrationError (cause: the database's error) when a migration fails.
 */
export async function migrateToLatest (db: Kysely<any>, dialect: SqlDialectName, schema?: string): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: new InMemoryMigrationProvider(dialect),
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
    // Without a schema kysely looks for its table in every schema of the database and would find
    // another test's or another tenant's copy; name ours explicitly.
    ...(schema !== undefined ? { migrationTableSchema: schema } : {})
  })
  const { error, results } = await migrator.migrateToLatest()
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown'
    throw new MigrationError(
      `Metadata schema migration ${failed} failed: ${error instanceof Error ? error.message : String(error)}. ` +
      'Check that the database is reachable and writable, then start again.', { cause: error })
  }
}
