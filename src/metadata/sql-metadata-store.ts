/**
 * The MetadataStore over SQL: one implementation for SQLite and PostgreSQL, written against
 * `Kysely<Database>`. The dialects differ only in the spots marked "dialect:" below:
 *
 * - write transactions: SQLite uses `BEGIN IMMEDIATE` (take the write lock up front, so a transaction
 *   that reads then writes never fails with SQLITE_BUSY half-way when another process writes;
 *   busy_timeout makes it wait instead); PostgreSQL uses READ COMMITTED plus explicit row locks;
 * - row locks (`FOR UPDATE` / `FOR SHARE`) exist only on PostgreSQL: SQLite has one writer at a time;
 * - per-key serialization of commits: a transaction-scoped advisory lock on PostgreSQL;
 * - 64-bit integers come back as strings from pg, converted by `toSafeNumber` (the one place).
 *
 * Concurrency on PostgreSQL (several coordinators over one database):
 * - commitObject locks the upload row (so two commits of one upload serialize and the second sees
 *   'committed'), then an advisory lock on bucket/key (so two commits of different uploads to one key
 *   serialize: the second deletes the first's row and returns it, instead of hitting the primary key),
 *   then the bucket row FOR SHARE (so deleteBucket, which takes it FOR UPDATE, cannot interleave).
 *   Lock order is always upload → key → bucket, so these never deadlock each other.
 * - addSegment holds the upload row FOR SHARE, so a segment can't slip into an upload that a
 *   concurrent commit or abort is finishing.
 */

import { sql } from 'kysely'
import type { Kysely, Selectable } from 'kysely'
import {
  AlreadyExistsError, BucketNotEmptyError, ConflictError, InvalidArgumentError, NotFoundError, PreconditionFailedError, StoreClosedError,
  UploadStateError
} from './errors.js'
import type {
  AccessKeyRecord, AccountRecord, AssemblyPart, BucketRecord, CommitCondition, ExitState, ListObjectsOptions, MetadataStats, MetadataStore, NodePieceRecord,
  NodeRecord, NodeStanding, ObjectRecord, PieceRecord, PieceReplacement, ReputationRecord, SegmentRecord, StoredSegmentRecord, UploadRecord,
  UploadState
} from './metadata-store.js'
import { migrateToLatest } from './migrations.js'
import type {
  AccessKeysTable, AccountsTable, BucketsTable, Database, NodeReputationTable, NodesTable, ObjectsTable, SegmentsTable, SqlDialectName, UploadsTable
} from './schema.js'

/** listObjects' page size when the caller gives none (S3's default max-keys). */
export const DEFAULT_LIST_LIMIT = 1000

/**
 * Pieces inserted per statement. SQLite allows 32766 bound parameters per statement and PostgreSQL
 * 65535; 500 rows × 7 columns stays far below both while keeping one round trip for any real segment
 * (k + m is at most 256 for Reed-Solomon over GF(2^8)).
 */
const PIECE_INSERT_BATCH = 500

/**
 * First key of PostgreSQL's two-int advisory lock space used for "commit to bucket/key"; the second is
 * hashtext(bucket/key). A fixed class keeps Shoal's locks apart from anyone else's in the database.
 * A hash collision only makes two unrelated commits wait for each other.
 */
const OBJECT_KEY_LOCK_CLASS = 0x53484f4c // 'SHOL'

/** Settings of a SqlMetadataStore. */
export interface SqlMetadataStoreInit {
  /** Which SQL dialect `db` speaks. */
  readonly dialect: SqlDialectName
  /**
   * PostgreSQL only: the schema the tables live in (search_path must point at it). Default: the
   * connection's `current_schema()`.
   */
  readonly schema?: string
}

/**
 * Converts a 64-bit integer as a driver returns it (number from better-sqlite3, decimal string from pg
 * for int8, count() and sum()) to a number. Throws RangeError when it is not a safe integer, which
 * would mean a value no Shoal code wrote (sizes are below 2^53 by contract).
 */
export function toSafeNumber (value: number | string | bigint | null | undefined): number {
  if (value === null || value === undefined) return 0
  const n = typeof value === 'number' ? value : Number(value)
  if (!Number.isSafeInteger(n)) {
    throw new RangeError(`Stored integer ${String(value)} is not a safe JavaScript integer; the metadata database holds a value Shoal did not write.`)
  }
  return n
}

/**
 * The smallest string greater than every string that starts with `prefix`, in code point order
 * (= UTF-8 byte order), or undefined when there is none (prefix is all U+10FFFF). Lets a prefix
 * match be an index range `key >= prefix AND key < successor` instead of LIKE, which would need
 * escaping for keys containing % and _ and is not a range scan under every collation.
 */
export function prefixSuccessor (prefix: string): string | undefined {
  const points = Array.from(prefix, (c) => c.codePointAt(0) ?? 0)
  while (points.length > 0) {
    const last = points.pop() as number
    if (last < 0x10ffff) {
      // Skip the surrogate block: those code points cannot appear in UTF-8 text.
      points.push(last === 0xd7ff ? 0xe000 : last + 1)
      return String.fromCodePoint(...points)
    }
  }
  return undefined
}

function toBuffer (bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** A private copy as a plain Uint8Array (driver Buffers may be views of a shared pool). */
function fromBlob (blob: Buffer | Uint8Array): Uint8Array {
  return new Uint8Array(blob)
}

function requireInteger (value: number, what: string, min = 0): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new InvalidArgumentError(`${what} must be an integer ≥ ${min} below 2^53, got ${String(value)}.`)
  }
}

function nodeFromRow (row: Selectable<NodesTable>): NodeRecord {
  return {
    id: row.id,
    publicKey: row.public_key,
    url: row.url,
    provider: row.provider,
    region: row.region,
    operator: row.operator,
    subnet: row.subnet,
    country: row.country,
    capacityBytes: toSafeNumber(row.capacity_bytes),
    usedBytes: toSafeNumber(row.used_bytes),
    freeBytes: toSafeNumber(row.free_bytes),
    firstSeen: toSafeNumber(row.first_seen),
    lastSeen: toSafeNumber(row.last_seen)
  }
}

function accountFromRow (row: Selectable<AccountsTable>): AccountRecord {
  return {
    id: row.id,
    name: row.name,
    sealedSecret: fromBlob(row.sealed_secret),
    createdAt: toSafeNumber(row.created_at)
  }
}

function accessKeyFromRow (row: Selectable<AccessKeysTable>): AccessKeyRecord {
  return {
    accessKeyId: row.access_key_id,
    accountId: row.account_id,
    sealedSecret: fromBlob(row.sealed_secret),
    createdAt: toSafeNumber(row.created_at)
  }
}

function bucketFromRow (row: Selectable<BucketsTable>): BucketRecord {
  return {
    name: row.name,
    ownerId: row.owner_id,
    createdAt: toSafeNumber(row.created_at),
    settings: row.settings
  }
}

function uploadFromRow (row: Selectable<UploadsTable>): UploadRecord {
  return {
    id: row.id,
    bucket: row.bucket,
    key: row.key,
    createdAt: toSafeNumber(row.created_at),
    state: row.state as UploadState
  }
}

function objectFromRow (row: Selectable<ObjectsTable>): ObjectRecord {
  return {
    bucket: row.bucket,
    key: row.key,
    uploadId: row.upload_id,
    size: toSafeNumber(row.size),
    segmentCount: toSafeNumber(row.segment_count),
    segmentSize: toSafeNumber(row.segment_size),
    inlineData: row.inline_data === null ? null : fromBlob(row.inline_data),
    keySalt: fromBlob(row.key_salt),
    contentType: row.content_type,
    etag: row.etag,
    userMetadata: row.user_metadata,
    createdAt: toSafeNumber(row.created_at)
  }
}

function describeUpload (upload: Selectable<UploadsTable>): string {
  return `Upload ${upload.id} (${upload.bucket}/${upload.key}) is ${upload.state}`
}

/**
 * MetadataStore over a `Kysely<Database>` of either dialect. Construct it through openSqliteStore,
 * openPostgresStore or openMetadataStore, which configure the connection; call `migrate()` before
 * first use. Every method rejects with StoreClosedError after `close()`, and with the driver's own
 * error when the database is unreachable or fails.
 */
export class SqlMetadataStore implements MetadataStore {
  readonly #db: Kysely<Database>
  readonly #dialect: SqlDialectName
  readonly #schema: string | undefined
  #closing: Promise<void> | undefined

  constructor (db: Kysely<Database>, init: SqlMetadataStoreInit) {
    this.#db = db
    this.#dialect = init.dialect
    this.#schema = init.schema
  }

  /** The dialect this store speaks. */
  get dialect (): SqlDialectName {
    return this.#dialect
  }

  async migrate (): Promise<void> {
    this.#assertOpen()
    let schema: string | undefined
    if (this.#dialect === 'postgres') { // dialect: the migrator's tables need an explicit schema
      schema = this.#schema
      if (schema === undefined) {
        const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(this.#db)
        schema = rows[0]?.schema ?? undefined
        if (schema === undefined) {
          throw new InvalidArgumentError('The PostgreSQL connection has no current schema (search_path names no existing schema); create one or pass `schema`.')
        }
      }
    }
    await migrateToLatest(this.#db, this.#dialect, schema)
  }

  async close (): Promise<void> {
    this.#closing ??= this.#db.destroy()
    await this.#closing
  }

  // ── nodes ────────────────────────────────────────────────────────────────────────────────────

  /** Inserts the node or updates every field but `firstSeen` (kept from the first registration). */
  async upsertNode (node: NodeRecord): Promise<void> {
    this.#assertOpen()
    for (const [what, value] of [['capacityBytes', node.capacityBytes], ['usedBytes', node.usedBytes],
      ['freeBytes', node.freeBytes], ['firstSeen', node.firstSeen], ['lastSeen', node.lastSeen]] as const) {
      requireInteger(value, `Node ${node.id} ${what}`)
    }
    const changes = {
      public_key: node.publicKey,
      url: node.url,
      provider: node.provider,
      region: node.region,
      operator: node.operator,
      subnet: node.subnet,
      country: node.country,
      capacity_bytes: node.capacityBytes,
      used_bytes: node.usedBytes,
      free_bytes: node.freeBytes,
      last_seen: node.lastSeen
    }
    await this.#db.insertInto('nodes')
      .values({ id: node.id, first_seen: node.firstSeen, ...changes })
      .onConflict((oc) => oc.column('id').doUpdateSet(changes))
      .execute()
  }

  async getNode (id: string): Promise<NodeRecord | undefined> {
    this.#assertOpen()
    const row = await this.#db.selectFrom('nodes').selectAll().where('id', '=', id).executeTakeFirst()
    return row === undefined ? undefined : nodeFromRow(row)
  }

  /** Every node, sorted by id. */
  async listNodes (): Promise<NodeRecord[]> {
    this.#assertOpen()
    const rows = await this.#db.selectFrom('nodes').selectAll().orderBy('id').execute()
    return rows.map(nodeFromRow)
  }

  // ── accounts ─────────────────────────────────────────────────────────────────────────────────

  /** Throws AlreadyExistsError when the id or the name is taken. */
  async createAccount (account: AccountRecord): Promise<void> {
    this.#assertOpen()
    const result = await this.#db.insertInto('accounts')
      .values({
        id: account.id,
        name: account.name,
        sealed_secret: toBuffer(account.sealedSecret),
        created_at: account.createdAt
      })
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst()
    if (result.numInsertedOrUpdatedRows === 0n) {
      const byId = await this.getAccount(account.id)
      throw new AlreadyExistsError(byId !== undefined
        ? `An account with id ${account.id} already exists; use another id.`
        : `An account named "${account.name}" already exists; choose another name.`)
    }
  }

  async getAccount (id: string): Promise<AccountRecord | undefined> {
    this.#assertOpen()
    const row = await this.#db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst()
    return row === undefined ? undefined : accountFromRow(row)
  }

  async getAccountByName (name: string): Promise<AccountRecord | undefined> {
    this.#assertOpen()
    const row = await this.#db.selectFrom('accounts').selectAll().where('name', '=', name).executeTakeFirst()
    return row === undefined ? undefined : accountFromRow(row)
  }

  async listAccounts (): Promise<AccountRecord[]> {
    this.#assertOpen()
    const rows = await this.#db.selectFrom('accounts').selectAll().orderBy('name').execute()
    return rows.map(accountFromRow)
  }

  // ── access keys ──────────────────────────────────────────────────────────────────────────────

  /** Throws AlreadyExistsError when the id is taken, NotFoundError when the account is missing. */
  async createAccessKey (key: AccessKeyRecord): Promise<void> {
    this.#assertOpen()
    if (await this.getAccount(key.accountId) === undefined) throw new NotFoundError(`Account ${key.accountId} does not exist; create it first.`)
    const result = await this.#db.insertInto('access_keys')
      .values({
        access_key_id: key.accessKeyId,
        account_id: key.accountId,
        sealed_secret: toBuffer(key.sealedSecret),
        created_at: key.createdAt
      })
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst()
    if (result.numInsertedOrUpdatedRows === 0n) throw new AlreadyExistsError(`Access key ${key.accessKeyId} already exists; generate another.`)
  }

  async getAccessKey (accessKeyId: string): Promise<AccessKeyRecord | undefined> {
    this.#assertOpen()
    const row = await this.#db.selectFrom('access_keys').selectAll().where('access_key_id', '=', accessKeyId).executeTakeFirst()
    return row === undefined ? undefined : accessKeyFromRow(row)
  }

  async listAccessKeys (accountId?: string): Promise<AccessKeyRecord[]> {
    this.#assertOpen()
    let q = this.#db.selectFrom('access_keys').selectAll()
    if (accountId !== undefined) q = q.where('account_id', '=', accountId)
    const rows = await q.orderBy('created_at').orderBy('access_key_id').execute()
    return rows.map(accessKeyFromRow)
  }

  async deleteAccessKey (accessKeyId: string): Promise<boolean> {
    this.#assertOpen()
    const result = await this.#db.deleteFrom('access_keys').where('access_key_id', '=', accessKeyId).executeTakeFirst()
    return result.numDeletedRows > 0n
  }

  // ── buckets ──────────────────────────────────────────────────────────────────────────────────

  async createBucket (bucket: BucketRecord): Promise<void> {
    this.#assertOpen()
    const result = await this.#db.insertInto('buckets')
      .values({
        name: bucket.name,
        owner_id: bucket.ownerId,
        created_at: bucket.createdAt,
        settings: bucket.settings
      })
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst()
    if (result.numInsertedOrUpdatedRows === 0n) {
      throw new AlreadyExistsError(`Bucket "${bucket.name}" already exists; choose another name.`)
    }
  }

  async getBucket (name: string): Promise<BucketRecord | undefined> {
    this.#assertOpen()
    const row = await this.#db.selectFrom('buckets').selectAll().where('name', '=', name).executeTakeFirst()
    return row === undefined ? undefined : bucketFromRow(row)
  }

  async listBuckets (ownerId?: string): Promise<BucketRecord[]> {
    this.#assertOpen()
    const rows = await this.#db.selectFrom('buckets').selectAll()
      .$if(ownerId !== undefined, (qb) => qb.where('owner_id', '=', ownerId as string))
      .orderBy('name')
      .execute()
    return rows.map(bucketFromRow)
  }

  /**
   * Pending uploads into the bucket do not keep it alive: their commit later fails with NotFoundError.
   */
  async deleteBucket (name: string): Promise<void> {
    await this.#write(async (db) => {
      const bucket = await db.selectFrom('buckets').select('name').where('name', '=', name)
        .$if(this.#dialect === 'postgres', (qb) => qb.forUpdate()) // dialect: row lock
        .executeTakeFirst()
      if (bucket === undefined) {
        throw new NotFoundError(`Bucket "${name}" does not exist.`)
      }
      const object = await db.selectFrom('objects').select('key').where('bucket', '=', name).limit(1)
        .executeTakeFirst()
      if (object !== undefined) {
        throw new BucketNotEmptyError(`Bucket "${name}" still holds objects (for example "${object.key}"); delete them first.`)
      }
      await db.deleteFrom('buckets').where('name', '=', name).execute()
    })
  }

  // ── uploads ──────────────────────────────────────────────────────────────────────────────────

  /** Throws NotFoundError when the bucket does not exist, AlreadyExistsError when the id is taken. */
  async beginUpload (upload: Omit<UploadRecord, 'state'>): Promise<void> {
    requireInteger(upload.createdAt, `Upload ${upload.id} createdAt`)
    await this.#write(async (db) => { await insertUpload(db, upload) })
  }

  async putInlineObject (object: ObjectRecord, condition: CommitCondition = {}): Promise<ObjectRecord | undefined> {
    requireObjectIntegers(object)
    if (object.inlineData === null || object.segmentCount !== 0) {
      throw new InvalidArgumentError(`Object ${object.bucket}/${object.key} is not stored inline; store its segments and use commitObject.`)
    }
    return await this.#write(async (db) => {
      await insertUpload(db, { id: object.uploadId, bucket: object.bucket, key: object.key, createdAt: object.createdAt })
      await this.#prepareCommit(db, object, condition)
      return await commitRows(db, object)
    })
  }

  async getUpload (id: string): Promise<UploadRecord | undefined> {
    this.#assertOpen()
    const row = await this.#db.selectFrom('uploads').selectAll().where('id', '=', id).executeTakeFirst()
    return row === undefined ? undefined : uploadFromRow(row)
  }

  /**
   * Throws NotFoundError when the upload does not exist, UploadStateError when it is not pending,
   * AlreadyExistsError when a segment with this index was already added, InvalidArgumentError when
   * indexes or sizes are not non-negative integers or two pieces share an index.
   */
  async addSegment (uploadId: string, segment: SegmentRecord): Promise<void> {
    requireInteger(segment.index, 'Segment index')
    requireInteger(segment.plainSize, `Segment ${segment.index} plainSize`)
    requireInteger(segment.encryptedSize, `Segment ${segment.index} encryptedSize`)
    requireInteger(segment.shardSize, `Segment ${segment.index} shardSize`)
    requireInteger(segment.k, `Segment ${segment.index} k`, 1)
    requireInteger(segment.m, `Segment ${segment.index} m`)
    const seen = new Set<number>()
    for (const piece of segment.pieces) {
      requireInteger(piece.pieceIndex, `Segment ${segment.index} piece index`)
      requireInteger(piece.size, `Segment ${segment.index} piece ${piece.pieceIndex} size`)
      if (seen.has(piece.pieceIndex)) {
        throw new InvalidArgumentError(`Segment ${segment.index} lists piece ${piece.pieceIndex} twice; each piece index must appear once.`)
      }
      seen.add(piece.pieceIndex)
    }

    await this.#write(async (db) => {
      const upload = await db.selectFrom('uploads').selectAll().where('id', '=', uploadId)
        .$if(this.#dialect === 'postgres', (qb) => qb.forShare()) // dialect: row lock
        .executeTakeFirst()
      if (upload === undefined) {
        throw new NotFoundError(`Upload ${uploadId} does not exist; begin the upload first.`)
      }
      if (upload.state !== 'pending') {
        throw new UploadStateError(`${describeUpload(upload)}; segments can only be added to a pending upload. Start a new upload.`)
      }
      const result = await db.insertInto('segments')
        .values({
          upload_id: uploadId,
          idx: segment.index,
          plain_size: segment.plainSize,
          encrypted_size: segment.encryptedSize,
          shard_size: segment.shardSize,
          k: segment.k,
          m: segment.m,
          under_placed: segment.underPlaced ? 1 : 0,
          placement_note: segment.placementNote
        })
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst()
      if (result.numInsertedOrUpdatedRows === 0n) {
        throw new AlreadyExistsError(`Upload ${uploadId} already has segment ${segment.index}; each segment is added once.`)
      }
      for (let i = 0; i < segment.pieces.length; i += PIECE_INSERT_BATCH) {
        await db.insertInto('pieces')
          .values(segment.pieces.slice(i, i + PIECE_INSERT_BATCH).map((piece) => ({
            upload_id: uploadId,
            segment_idx: segment.index,
            piece_idx: piece.pieceIndex,
            node_id: piece.nodeId,
            piece_id: piece.pieceId,
            size: piece.size,
            hash: piece.hash
          })))
          .execute()
      }
    })
  }

  /**
   * Also throws NotFoundError when the upload does not exist; UploadStateError when the upload is not
   * pending or its stored segments are not exactly 0 … segmentCount-1 (an incomplete upload must not
   * become visible); InvalidArgumentError when the object's bucket/key differ from the upload's.
   */
  async commitObject (object: ObjectRecord, condition: CommitCondition = {}): Promise<ObjectRecord | undefined> {
    requireObjectIntegers(object)
    return await this.#write(async (db) => {
      await this.#prepareCommit(db, object, condition)
      await requireSegments(db, object.uploadId, object.segmentCount)
      return await commitRows(db, object)
    })
  }

  /**
   * Moves the parts' segments and pieces with INSERT … (new rows), UPDATE pieces, DELETE (old rows),
   * so that the pieces' foreign key to their segment holds after every statement on both dialects.
   */
  async assembleObject (object: ObjectRecord, parts: readonly AssemblyPart[], condition: CommitCondition = {}): Promise<{ object: ObjectRecord, replaced: ObjectRecord | undefined }> {
    requireObjectIntegers(object)
    return await this.#write(async (db) => {
      await this.#prepareCommit(db, object, condition)
      await requireSegments(db, object.uploadId, 0)
      let base = 0
      for (const [i, part] of parts.entries()) {
        await this.#lockObjectKey(db, part.bucket, part.key)
        const visible = await db.selectFrom('objects').select(['upload_id', 'key_salt', 'inline_data'])
          .where('bucket', '=', part.bucket).where('key', '=', part.key).executeTakeFirst()
        if (visible?.upload_id !== part.uploadId) {
          throw new ConflictError(`Part ${part.bucket}/${part.key} is no longer upload ${part.uploadId} (it was replaced or deleted); nothing was assembled.`)
        }
        if (visible.inline_data !== null) {
          throw new InvalidArgumentError(`Part ${part.bucket}/${part.key} is stored inline; only parts stored as segments can be assembled.`)
        }
        const rows = await db.selectFrom('segments').selectAll().where('upload_id', '=', part.uploadId).orderBy('idx').execute()
        for (let j = 0; j < rows.length; j += PIECE_INSERT_BATCH) {
          await db.insertInto('segments').values(rows.slice(j, j + PIECE_INSERT_BATCH).map((row) => ({
            ...row,
            plain_size: toSafeNumber(row.plain_size),
            encrypted_size: toSafeNumber(row.encrypted_size),
            shard_size: toSafeNumber(row.shard_size),
            under_placed: row.under_placed === 0 ? 0 : 1,
            upload_id: object.uploadId,
            idx: base + row.idx,
            key_salt: row.key_salt ?? visible.key_salt,
            seal_index: row.seal_index ?? row.idx,
            part_number: i + 1
          }))).execute()
        }
        await db.updateTable('pieces')
          .set((eb) => ({ upload_id: object.uploadId, segment_idx: eb('segment_idx', '+', base) }))
          .where('upload_id', '=', part.uploadId)
          .execute()
        await db.deleteFrom('segments').where('upload_id', '=', part.uploadId).execute()
        await db.deleteFrom('objects').where('bucket', '=', part.bucket).where('key', '=', part.key).execute()
        await db.deleteFrom('uploads').where('id', '=', part.uploadId).execute()
        base += rows.length
      }
      const assembled = { ...object, segmentCount: base }
      return { object: assembled, replaced: await commitRows(db, assembled) }
    })
  }

  /**
   * The checks every commit makes inside its transaction: the upload is pending and was begun for this
   * key, the key is locked, the bucket exists, and the write's condition holds.
   */
  async #prepareCommit (db: Kysely<Database>, object: ObjectRecord, condition: CommitCondition): Promise<void> {
    const upload = await db.selectFrom('uploads').selectAll().where('id', '=', object.uploadId)
      .$if(this.#dialect === 'postgres', (qb) => qb.forUpdate()) // dialect: row lock
      .executeTakeFirst()
    if (upload === undefined) {
      throw new NotFoundError(`Upload ${object.uploadId} does not exist; begin the upload before committing it.`)
    }
    if (upload.state !== 'pending') {
      throw new UploadStateError(`${describeUpload(upload)}; only a pending upload can be committed. Start a new upload.`)
    }
    if (upload.bucket !== object.bucket || upload.key !== object.key) {
      throw new InvalidArgumentError(`Upload ${upload.id} was begun for ${upload.bucket}/${upload.key}, not ${object.bucket}/${object.key}; commit it under the key it was begun for.`)
    }

    await this.#lockObjectKey(db, object.bucket, object.key)

    const bucket = await db.selectFrom('buckets').select('name').where('name', '=', object.bucket)
      .$if(this.#dialect === 'postgres', (qb) => qb.forShare()) // dialect: row lock
      .executeTakeFirst()
    if (bucket === undefined) {
      throw new NotFoundError(`Bucket "${object.bucket}" no longer exists; the upload cannot be committed.`)
    }

    // Conditional writes are decided here, under the key lock, so two racing writers can't both pass.
    if (condition.ifNoneMatch === true || condition.ifMatch !== undefined) {
      const current = await db.selectFrom('objects').select('etag')
        .where('bucket', '=', object.bucket).where('key', '=', object.key).executeTakeFirst()
      if (condition.ifNoneMatch === true && current !== undefined) {
        throw new PreconditionFailedError(`${object.bucket}/${object.key} already exists and the write asked for If-None-Match: *.`)
      }
      if (condition.ifMatch !== undefined && current?.etag !== condition.ifMatch) {
        throw new PreconditionFailedError(current === undefined
          ? `${object.bucket}/${object.key} does not exist, so it can't match ETag ${condition.ifMatch}.`
          : `${object.bucket}/${object.key} has ETag ${current.etag}, not ${condition.ifMatch}.`)
      }
    }
  }

  /** Throws NotFoundError when the upload does not exist, UploadStateError when it is not pending. */
  async abortUpload (id: string): Promise<SegmentRecord[]> {
    return await this.#write(async (db) => {
      const upload = await db.selectFrom('uploads').selectAll().where('id', '=', id)
        .$if(this.#dialect === 'postgres', (qb) => qb.forUpdate()) // dialect: row lock
        .executeTakeFirst()
      if (upload === undefined) {
        throw new NotFoundError(`Upload ${id} does not exist.`)
      }
      if (upload.state !== 'pending') {
        throw new UploadStateError(`${describeUpload(upload)}; only a pending upload can be aborted.`)
      }
      await db.updateTable('uploads').set({ state: 'aborted' }).where('id', '=', id).execute()
      return await loadSegments(db, id)
    })
  }

  /**
   * Forgets an upload that is no longer visible — aborted, or committed and since replaced or
   * deleted — with its segments and pieces. Garbage collection calls it once the pieces are gone from
   * the nodes; until then the rows are the record of which pieces to delete. Throws NotFoundError when
   * the upload does not exist, UploadStateError when it is pending or is the visible version of an
   * object.
   */
  async purgeUpload (id: string): Promise<void> {
    await this.#write(async (db) => {
      const upload = await db.selectFrom('uploads').selectAll().where('id', '=', id)
        .$if(this.#dialect === 'postgres', (qb) => qb.forUpdate()) // dialect: row lock
        .executeTakeFirst()
      if (upload === undefined) {
        throw new NotFoundError(`Upload ${id} does not exist.`)
      }
      if (upload.state === 'pending') {
        throw new UploadStateError(`${describeUpload(upload)}; abort it before purging it.`)
      }
      const visible = await db.selectFrom('objects').select('key').where('upload_id', '=', id).executeTakeFirst()
      if (visible !== undefined) {
        throw new UploadStateError(`${describeUpload(upload)} and is the visible version of ${upload.bucket}/${upload.key}; delete or replace the object first.`)
      }
      await db.deleteFrom('pieces').where('upload_id', '=', id).execute()
      await db.deleteFrom('segments').where('upload_id', '=', id).execute()
      await db.deleteFrom('uploads').where('id', '=', id).execute()
    })
  }

  // ── objects ──────────────────────────────────────────────────────────────────────────────────

  async getObject (bucket: string, key: string): Promise<ObjectRecord | undefined> {
    this.#assertOpen()
    const row = await this.#db.selectFrom('objects').selectAll()
      .where('bucket', '=', bucket).where('key', '=', key)
      .executeTakeFirst()
    return row === undefined ? undefined : objectFromRow(row)
  }

  /**
   * Empty for an upload that is pending, aborted or unknown. Still answers for a committed upload
   * whose object has since been replaced or deleted (until purgeUpload), so that a read in flight can
   * finish and garbage collection can find the old pieces.
   */
  async getSegments (uploadId: string): Promise<SegmentRecord[]> {
    return await this.#read(async (db) => {
      const upload = await db.selectFrom('uploads').select('state').where('id', '=', uploadId).executeTakeFirst()
      if (upload?.state !== 'committed') return []
      return await loadSegments(db, uploadId)
    })
  }

  /**
   * Throws InvalidArgumentError when `limit` is not a non-negative integer. A prefix is matched as the
   * key range [prefix, successor(prefix)), so % and _ in keys are ordinary characters.
   */
  async listObjects (bucket: string, options: ListObjectsOptions = {}): Promise<ObjectRecord[]> {
    this.#assertOpen()
    const limit = options.limit ?? DEFAULT_LIST_LIMIT
    requireInteger(limit, 'listObjects limit')
    if (limit === 0) return []
    const { prefix, startAfter } = options
    const end = prefix === undefined || prefix === '' ? undefined : prefixSuccessor(prefix)
    const rows = await this.#db.selectFrom('objects').selectAll()
      .where('bucket', '=', bucket)
      .$if(startAfter !== undefined, (qb) => qb.where('key', '>', startAfter as string))
      .$if(prefix !== undefined && prefix !== '', (qb) => qb.where('key', '>=', prefix as string))
      .$if(end !== undefined, (qb) => qb.where('key', '<', end as string))
      .orderBy('key')
      .limit(limit)
      .execute()
    return rows.map(objectFromRow)
  }

  async deleteObject (bucket: string, key: string): Promise<ObjectRecord | undefined> {
    return await this.#write(async (db) => {
      await this.#lockObjectKey(db, bucket, key)
      const row = await db.deleteFrom('objects')
        .where('bucket', '=', bucket).where('key', '=', key)
        .returningAll()
        .executeTakeFirst()
      return row === undefined ? undefined : objectFromRow(row)
    })
  }

  /** Read from one snapshot, so the figures agree with each other. */
  async stats (): Promise<MetadataStats> {
    return await this.#read(async (db) => {
      const objects = await db.selectFrom('objects')
        .select((eb) => [eb.fn.countAll().as('objects'), eb.fn.sum<number | string | null>('size').as('bytes')])
        .executeTakeFirstOrThrow()
      const segments = await db.selectFrom('segments')
        .innerJoin('objects', 'objects.upload_id', 'segments.upload_id')
        .select((eb) => [
          eb.fn.countAll().as('segments'),
          eb.fn.sum<number | string | null>('segments.under_placed').as('under_placed')
        ])
        .executeTakeFirstOrThrow()
      const perNode = await db.selectFrom('pieces')
        .innerJoin('objects', 'objects.upload_id', 'pieces.upload_id')
        .select((eb) => [
          'pieces.node_id',
          eb.fn.countAll().as('pieces'),
          eb.fn.sum<number | string | null>('pieces.size').as('bytes')
        ])
        .groupBy('pieces.node_id')
        .orderBy('pieces.node_id')
        .execute()
      const piecesPerNode = new Map<string, { pieces: number, bytes: number }>()
      for (const row of perNode) {
        piecesPerNode.set(row.node_id, { pieces: toSafeNumber(row.pieces), bytes: toSafeNumber(row.bytes) })
      }
      return {
        objects: toSafeNumber(objects.objects),
        bytes: toSafeNumber(objects.bytes),
        segments: toSafeNumber(segments.segments),
        underPlacedSegments: toSafeNumber(segments.under_placed),
        piecesPerNode
      }
    })
  }

  // ── durability ───────────────────────────────────────────────────────────────────────────────

  async listReputations (): Promise<ReputationRecord[]> {
    this.#assertOpen()
    const rows = await this.#db.selectFrom('node_reputation').selectAll().orderBy('node_id').execute()
    return rows.map(reputationFromRow)
  }

  async putReputation (r: ReputationRecord): Promise<void> {
    const row = {
      node_id: r.nodeId,
      standing: r.standing,
      standing_reason: r.standingReason,
      standing_since: r.standingSince,
      exit_state: r.exitState,
      audits: r.audits,
      audit_successes: r.auditSuccesses,
      audit_failures: r.auditFailures,
      audit_unknown: r.auditUnknown,
      audit_offline: r.auditOffline,
      audit_alpha: r.auditAlpha,
      audit_beta: r.auditBeta,
      unknown_alpha: r.unknownAlpha,
      unknown_beta: r.unknownBeta,
      uptime_score: r.uptimeScore,
      latency_ms: r.latencyMs,
      updated_at: r.updatedAt
    }
    await this.#write(async (db) => {
      const { node_id: _id, ...rest } = row
      await db.insertInto('node_reputation').values(row)
        .onConflict((oc) => oc.column('node_id').doUpdateSet(rest))
        .execute()
    })
  }

  async piecesOfNode (nodeId: string, afterPieceId: string, limit: number): Promise<NodePieceRecord[]> {
    this.#assertOpen()
    requireInteger(limit, 'piecesOfNode limit')
    const rows = await this.#db.selectFrom('pieces')
      .innerJoin('objects', 'objects.upload_id', 'pieces.upload_id')
      .select(['pieces.upload_id', 'pieces.segment_idx', 'pieces.piece_idx', 'pieces.piece_id', 'pieces.size', 'pieces.hash'])
      .where('pieces.node_id', '=', nodeId)
      .where('pieces.piece_id', '>', afterPieceId)
      .orderBy('pieces.piece_id')
      .limit(limit)
      .execute()
    return rows.map((row) => ({
      uploadId: row.upload_id,
      segmentIndex: row.segment_idx,
      pieceIndex: row.piece_idx,
      pieceId: row.piece_id,
      size: toSafeNumber(row.size),
      hash: row.hash
    }))
  }

  async pieceIdsOfNode (nodeId: string, afterPieceId: string, limit: number): Promise<string[]> {
    this.#assertOpen()
    requireInteger(limit, 'pieceIdsOfNode limit')
    const rows = await this.#db.selectFrom('pieces').select('piece_id')
      .where('node_id', '=', nodeId)
      .where('piece_id', '>', afterPieceId)
      .orderBy('piece_id')
      .limit(limit)
      .execute()
    return rows.map((row) => row.piece_id)
  }

  async listSegments (after: { uploadId: string, index: number } | undefined, limit: number): Promise<StoredSegmentRecord[]> {
    requireInteger(limit, 'listSegments limit')
    return await this.#read(async (db) => {
      const rows = await db.selectFrom('segments')
        .innerJoin('objects', 'objects.upload_id', 'segments.upload_id')
        .select(['segments.upload_id', 'segments.idx', 'objects.bucket', 'objects.key'])
        .$if(after !== undefined, (qb) => qb.where((eb) => eb.or([
          eb('segments.upload_id', '>', after!.uploadId),
          eb.and([eb('segments.upload_id', '=', after!.uploadId), eb('segments.idx', '>', after!.index)])
        ])))
        .orderBy('segments.upload_id').orderBy('segments.idx')
        .limit(limit)
        .execute()
      const out: StoredSegmentRecord[] = []
      let i = 0
      while (i < rows.length) {
        const uploadId = rows[i].upload_id
        const indexes = new Set<number>()
        const { bucket, key } = rows[i]
        while (i < rows.length && rows[i].upload_id === uploadId) indexes.add(rows[i++].idx)
        for (const segment of await loadSegments(db, uploadId)) {
          if (indexes.has(segment.index)) out.push({ ...segment, uploadId, bucket, key })
        }
      }
      return out
    })
  }

  async replacePieces (uploadId: string, segmentIndex: number, replacements: readonly PieceReplacement[],
    placement: { underPlaced: boolean, placementNote: string }): Promise<boolean> {
    return await this.#write(async (db) => {
      const visible = await db.selectFrom('objects').select(['bucket', 'key']).where('upload_id', '=', uploadId)
        .$if(this.#dialect === 'postgres', (qb) => qb.forShare()) // dialect: row lock
        .executeTakeFirst()
      if (visible === undefined) return false
      const segment = await db.selectFrom('segments').select('idx')
        .where('upload_id', '=', uploadId).where('idx', '=', segmentIndex)
        .$if(this.#dialect === 'postgres', (qb) => qb.forUpdate()) // dialect: serialize repairs of a segment
        .executeTakeFirst()
      if (segment === undefined) return false
      for (const r of replacements) {
        const row = await db.selectFrom('pieces').select('piece_id')
          .where('upload_id', '=', uploadId).where('segment_idx', '=', segmentIndex).where('piece_idx', '=', r.pieceIndex)
          .executeTakeFirst()
        if (row?.piece_id !== r.expectedPieceId) throw new ReplaceConflict()
        if (r.piece !== null && r.piece.pieceIndex !== r.pieceIndex) throw new InvalidArgumentError(`replacement for piece ${r.pieceIndex} carries piece index ${r.piece.pieceIndex}`)
        await db.deleteFrom('pieces')
          .where('upload_id', '=', uploadId).where('segment_idx', '=', segmentIndex).where('piece_idx', '=', r.pieceIndex)
          .execute()
        if (r.piece === null) continue
        await db.insertInto('pieces').values({
          upload_id: uploadId,
          segment_idx: segmentIndex,
          piece_idx: r.pieceIndex,
          node_id: r.piece.nodeId,
          piece_id: r.piece.pieceId,
          size: r.piece.size,
          hash: r.piece.hash
        }).execute()
      }
      await db.updateTable('segments')
        .set({ under_placed: placement.underPlaced ? 1 : 0, placement_note: placement.placementNote })
        .where('upload_id', '=', uploadId).where('idx', '=', segmentIndex)
        .execute()
      return true
    }).catch((err: unknown) => {
      if (err instanceof ReplaceConflict) return false
      throw err
    })
  }

  async removePiece (uploadId: string, segmentIndex: number, pieceIndex: number, pieceId: string): Promise<boolean> {
    return await this.#write(async (db) => {
      const result = await db.deleteFrom('pieces')
        .where('upload_id', '=', uploadId).where('segment_idx', '=', segmentIndex)
        .where('piece_idx', '=', pieceIndex).where('piece_id', '=', pieceId)
        .executeTakeFirst()
      return Number(result.numDeletedRows) > 0
    })
  }

  async garbageUploads (createdBefore: number, limit: number): Promise<string[]> {
    this.#assertOpen()
    requireInteger(limit, 'garbageUploads limit')
    const rows = await this.#db.selectFrom('uploads')
      .leftJoin('objects', 'objects.upload_id', 'uploads.id')
      .select('uploads.id')
      .where('uploads.created_at', '<', createdBefore)
      .where((eb) => eb.or([
        eb('uploads.state', '=', 'aborted'),
        eb.and([eb('uploads.state', '=', 'committed'), eb('objects.upload_id', 'is', null)])
      ]))
      .orderBy('uploads.created_at').orderBy('uploads.id')
      .limit(limit)
      .execute()
    return rows.map((row) => row.id)
  }

  async abortStaleUploads (createdBefore: number): Promise<number> {
    return await this.#write(async (db) => {
      const result = await db.updateTable('uploads').set({ state: 'aborted' })
        .where('state', '=', 'pending').where('created_at', '<', createdBefore)
        .executeTakeFirst()
      return Number(result.numUpdatedRows)
    })
  }

  // ── transactions and locks ───────────────────────────────────────────────────────────────────

  #assertOpen (): void {
    if (this.#closing !== undefined) {
      throw new StoreClosedError()
    }
  }

  /**
   * Runs `fn` in a write transaction, committed when it resolves and rolled back when it throws. On
   * SQLite, writes that arrive while a commit is running are grouped (see #flushWrites); on PostgreSQL
   * each is its own transaction.
   */
  async #write<T> (fn: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    this.#assertOpen()
    if (this.#dialect === 'postgres') {
      return await this.#db.transaction().execute(fn)
    }
    return await new Promise<T>((resolve, reject) => {
      this.#writes.push({ fn, resolve: resolve as (value: unknown) => void, reject })
      if (this.#writes.length === 1 && !this.#flushing) void this.#flushWrites()
    })
  }

  /** SQLite writes waiting for the next group commit. */
  #writes: PendingWrite[] = []
  #flushing = false

  /**
   * Group commit (dialect: SQLite). The writes queued so far run in one BEGIN IMMEDIATE transaction,
   * each inside its own savepoint, so one write's failure rolls back only that write; then one COMMIT,
   * one fsync, and only then is every write answered, so nothing is acknowledged before it is durable.
   * With synchronous=FULL the fsync is most of a small write's cost: concurrent small PUTs share it.
   * If the COMMIT itself fails, every write of the group fails with its error.
   */
  async #flushWrites (): Promise<void> {
    this.#flushing = true
    try {
      while (this.#writes.length > 0) {
        const group = this.#writes.splice(0, MAX_WRITE_GROUP)
        const outcomes: Array<{ ok: true, value: unknown } | { ok: false, error: unknown }> = []
        try {
          await this.#db.connection().execute(async (conn) => {
            await sql`begin immediate`.execute(conn)
            try {
              for (const write of group) {
                await sql`savepoint shoal_write`.execute(conn)
                try {
                  outcomes.push({ ok: true, value: await write.fn(conn) })
                  await sql`release shoal_write`.execute(conn)
                } catch (error) {
                  outcomes.push({ ok: false, error })
                  await sql`rollback to shoal_write`.execute(conn)
                  await sql`release shoal_write`.execute(conn)
                }
              }
              await sql`commit`.execute(conn)
            } catch (err) {
              await rollbackQuietly(conn)
              throw err
            }
          })
        } catch (error) {
          for (const write of group) write.reject(error)
          continue
        }
        for (const [i, write] of group.entries()) {
          const outcome = outcomes[i]
          if (outcome.ok) write.resolve(outcome.value)
          else write.reject(outcome.error)
        }
      }
    } finally {
      this.#flushing = false
    }
  }

  /** Runs `fn` in a read-only transaction that sees one snapshot. */
  async #read<T> (fn: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    this.#assertOpen()
    if (this.#dialect === 'postgres') {
      return await this.#db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute(fn)
    }
    // dialect: a deferred SQLite transaction reads one WAL snapshot and never blocks writers.
    return await this.#db.connection().execute(async (conn) => {
      await sql`begin`.execute(conn)
      try {
        return await fn(conn)
      } finally {
        await rollbackQuietly(conn)
      }
    })
  }

  /** Serializes writers of one bucket/key until the transaction ends (PostgreSQL; SQLite has one writer). */
  async #lockObjectKey (db: Kysely<Database>, bucket: string, key: string): Promise<void> {
    if (this.#dialect !== 'postgres') return // dialect
    // Length-prefixed so that no two (bucket, key) pairs map to the same text.
    const name = `${bucket.length}:${bucket}/${key}`
    await sql`select pg_advisory_xact_lock(${sql.lit(OBJECT_KEY_LOCK_CLASS)}, hashtext(${name}))`.execute(db)
  }
}

/** A write waiting for the SQLite group commit. */
interface PendingWrite {
  readonly fn: (db: Kysely<Database>) => Promise<unknown>
  readonly resolve: (value: unknown) => void
  readonly reject: (error: unknown) => void
}

/** Writes in one SQLite group commit at most: bounds how long the first of them waits for its answer. */
const MAX_WRITE_GROUP = 64

/** Thrown inside replacePieces' transaction to roll it back when a row changed under it. */
class ReplaceConflict extends Error {}

function reputationFromRow (row: Selectable<NodeReputationTable>): ReputationRecord {
  return {
    nodeId: row.node_id,
    standing: row.standing as NodeStanding,
    standingReason: row.standing_reason,
    standingSince: toSafeNumber(row.standing_since),
    exitState: row.exit_state as ExitState,
    audits: toSafeNumber(row.audits),
    auditSuccesses: toSafeNumber(row.audit_successes),
    auditFailures: toSafeNumber(row.audit_failures),
    auditUnknown: toSafeNumber(row.audit_unknown),
    auditOffline: toSafeNumber(row.audit_offline),
    auditAlpha: Number(row.audit_alpha),
    auditBeta: Number(row.audit_beta),
    unknownAlpha: Number(row.unknown_alpha),
    unknownBeta: Number(row.unknown_beta),
    uptimeScore: Number(row.uptime_score),
    latencyMs: Number(row.latency_ms),
    updatedAt: toSafeNumber(row.updated_at)
  }
}

/** Rolls back, ignoring a failure: SQLite may already have rolled back on its own (SQLITE_FULL, I/O errors). */
async function rollbackQuietly (conn: Kysely<Database>): Promise<void> {
  try {
    await sql`rollback`.execute(conn)
  } catch {
    // The transaction is gone either way; the caller's error is the one worth reporting.
  }
}

/** Segments of one upload with their pieces, in index order. */
async function loadSegments (db: Kysely<Database>, uploadId: string): Promise<SegmentRecord[]> {
  const segmentRows = await db.selectFrom('segments').selectAll().where('upload_id', '=', uploadId)
    .orderBy('idx').execute()
  const pieceRows = await db.selectFrom('pieces').selectAll().where('upload_id', '=', uploadId)
    .orderBy('segment_idx').orderBy('piece_idx').execute()
  const piecesBySegment = new Map<number, PieceRecord[]>()
  for (const row of pieceRows) {
    let list = piecesBySegment.get(row.segment_idx)
    if (list === undefined) {
      list = []
      piecesBySegment.set(row.segment_idx, list)
    }
    list.push({
      pieceIndex: row.piece_idx,
      nodeId: row.node_id,
      pieceId: row.piece_id,
      size: toSafeNumber(row.size),
      hash: row.hash
    })
  }
  return segmentRows.map((row) => segmentFromRow(row, piecesBySegment.get(row.idx) ?? []))
}

function segmentFromRow (row: Selectable<SegmentsTable>, pieces: PieceRecord[]): SegmentRecord {
  return {
    index: row.idx,
    plainSize: toSafeNumber(row.plain_size),
    encryptedSize: toSafeNumber(row.encrypted_size),
    shardSize: toSafeNumber(row.shard_size),
    k: row.k,
    m: row.m,
    underPlaced: row.under_placed !== 0,
    placementNote: row.placement_note,
    pieces,
    ...(row.key_salt === null ? {} : { keySalt: fromBlob(row.key_salt) }),
    ...(row.seal_index === null ? {} : { sealIndex: row.seal_index }),
    ...(row.part_number === null ? {} : { partNumber: row.part_number })
  }
}

/** Records a pending upload; NotFoundError when the bucket is missing, AlreadyExistsError when the id is taken. */
async function insertUpload (db: Kysely<Database>, upload: Omit<UploadRecord, 'state'>): Promise<void> {
  const bucket = await db.selectFrom('buckets').select('name').where('name', '=', upload.bucket)
    .executeTakeFirst()
  if (bucket === undefined) {
    throw new NotFoundError(`Bucket "${upload.bucket}" does not exist; create it before uploading to it.`)
  }
  const result = await db.insertInto('uploads')
    .values({
      id: upload.id,
      bucket: upload.bucket,
      key: upload.key,
      created_at: upload.createdAt,
      state: 'pending'
    })
    .onConflict((oc) => oc.doNothing())
    .executeTakeFirst()
  if (result.numInsertedOrUpdatedRows === 0n) {
    throw new AlreadyExistsError(`An upload with id ${upload.id} already exists; upload ids must be unique.`)
  }
}

function requireObjectIntegers (object: ObjectRecord): void {
  requireInteger(object.size, `Object ${object.key} size`)
  requireInteger(object.segmentCount, `Object ${object.key} segmentCount`)
  requireInteger(object.segmentSize, `Object ${object.key} segmentSize`)
  requireInteger(object.createdAt, `Object ${object.key} createdAt`)
}

/** Throws UploadStateError unless the upload's stored segments are exactly 0 … count-1 (an incomplete upload must not become visible). */
async function requireSegments (db: Kysely<Database>, uploadId: string, count: number): Promise<void> {
  const stored = await db.selectFrom('segments')
    .select((eb) => [eb.fn.countAll().as('count'), eb.fn.max('idx').as('max')])
    .where('upload_id', '=', uploadId)
    .executeTakeFirstOrThrow()
  const have = toSafeNumber(stored.count)
  const max = stored.max === null ? -1 : toSafeNumber(stored.max)
  if (have !== count || max !== have - 1) {
    throw new UploadStateError(`Upload ${uploadId} has ${have} segment(s) stored (highest index ${max}) but the object has segmentCount ${count}; add the missing segments (indexes 0 … ${count - 1}) before committing.`)
  }
}

/** Marks the upload committed and makes `object` the visible version of its key; returns the one it replaced. */
async function commitRows (db: Kysely<Database>, object: ObjectRecord): Promise<ObjectRecord | undefined> {
  await db.updateTable('uploads').set({ state: 'committed' })
    .where('id', '=', object.uploadId).where('state', '=', 'pending')
    .execute()
  const previous = await db.deleteFrom('objects')
    .where('bucket', '=', object.bucket).where('key', '=', object.key)
    .returningAll()
    .executeTakeFirst()
  await db.insertInto('objects')
    .values({
      bucket: object.bucket,
      key: object.key,
      upload_id: object.uploadId,
      size: object.size,
      segment_count: object.segmentCount,
      segment_size: object.segmentSize,
      inline_data: object.inlineData === null ? null : toBuffer(object.inlineData),
      key_salt: toBuffer(object.keySalt),
      content_type: object.contentType,
      etag: object.etag,
      user_metadata: object.userMetadata,
      created_at: object.createdAt
    })
    .execute()
  return previous === undefined ? undefined : objectFromRow(previous)
}
