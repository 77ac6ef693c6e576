/**
 * The metadata schema as kysely table types: one interface per table, column names as in SQL
 * (snake_case). src/metadata/migrations.ts creates exactly these tables; keep the two in step.
 *
 * Column types say what the drivers really return, so that every conversion is visible in one place
 * (sql-metadata-store.ts): 64-bit integers come back from pg as strings (int8 does not fit a JS number
 * in general) and from better-sqlite3 as numbers; blobs come back as Buffers from both.
 */

import type { ColumnType } from 'kysely'

/** The SQL dialects the metadata store runs on; the few places where they differ branch on this. */
export type SqlDialectName = 'sqlite' | 'postgres'

/**
 * A 64-bit integer column (SQL `bigint`). Written as a number; read as a number (SQLite) or a decimal
 * string (PostgreSQL int8), converted by `toSafeNumber`.
 */
export type Int64 = ColumnType<number | string, number, number>

/** A binary column (`bytea` on PostgreSQL, `blob` on SQLite). Written and read as Buffers. */
export type Blob = ColumnType<Buffer, Buffer, Buffer>

/** A boolean stored as integer 0/1 on both dialects (better-sqlite3 cannot bind JS booleans). */
export type Flag = ColumnType<number, 0 | 1, 0 | 1>

/** Storage nodes, one row per node id; upserted on every heartbeat. */
export interface NodesTable {
  id: string
  public_key: string
  url: string
  provider: string
  region: string
  operator: string
  subnet: string
  country: string
  capacity_bytes: Int64
  used_bytes: Int64
  free_bytes: Int64
  first_seen: Int64
  last_seen: Int64
}

/** Accounts (bucket owners); `name` is unique. */
export interface AccountsTable {
  id: string
  name: string
  sealed_secret: Blob
  created_at: Int64
}

/** S3 access keys (migration 0002). */
export interface AccessKeysTable {
  access_key_id: string
  account_id: string
  sealed_secret: Blob
  created_at: Int64
}

/** Buckets, keyed by name (byte order). */
export interface BucketsTable {
  name: string
  owner_id: string
  created_at: Int64
  settings: string
}

/** Uploads: one per object write; `state` is 'pending' | 'committed' | 'aborted'. */
export interface UploadsTable {
  id: string
  bucket: string
  key: string
  created_at: Int64
  state: string
}

/** Segments of an upload, primary key (upload_id, idx). */
export interface SegmentsTable {
  upload_id: string
  idx: number
  plain_size: Int64
  encrypted_size: Int64
  shard_size: Int64
  k: number
  m: number
  under_placed: Flag
  placement_note: string
  /** Migration 0004: set only on segments moved in from another upload (see SegmentRecord). */
  key_salt: ColumnType<Buffer | null, Buffer | null | undefined, Buffer | null>
  seal_index: ColumnType<number | null, number | null | undefined, number | null>
  part_number: ColumnType<number | null, number | null | undefined, number | null>
}

/** Pieces of a segment, primary key (upload_id, segment_idx, piece_idx); indexed by node_id. */
export interface PiecesTable {
  upload_id: string
  segment_idx: number
  piece_idx: number
  node_id: string
  piece_id: string
  size: Int64
  hash: string
}

/** Visible objects, primary key (bucket, key) in byte order; `upload_id` is unique. */
export interface ObjectsTable {
  bucket: string
  key: string
  upload_id: string
  size: Int64
  segment_count: number
  segment_size: Int64
  inline_data: ColumnType<Buffer | null, Buffer | null, Buffer | null>
  key_salt: Blob
  content_type: string
  etag: string
  user_metadata: string
  created_at: Int64
}

/** Node reputation (migration 0003), one row per node that was ever audited or asked to exit. */
export interface NodeReputationTable {
  node_id: string
  standing: string
  standing_reason: string
  standing_since: Int64
  exit_state: string
  audits: Int64
  audit_successes: Int64
  audit_failures: Int64
  audit_unknown: Int64
  audit_offline: Int64
  audit_alpha: number
  audit_beta: number
  unknown_alpha: number
  unknown_beta: number
  uptime_score: number
  latency_ms: number
  updated_at: Int64
}

/** The whole metadata database, for `Kysely<Database>`. */
export interface Database {
  node_reputation: NodeReputationTable
  nodes: NodesTable
  accounts: AccountsTable
  access_keys: AccessKeysTable
  buckets: BucketsTable
  uploads: UploadsTable
  segments: SegmentsTable
  pieces: PiecesTable
  objects: ObjectsTable
}
