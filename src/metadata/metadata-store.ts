/**
 * The metadata contract: nodes, accounts, buckets, uploads, objects, segments and pieces, in SQL.
 * Implementations: SQLite (embedded default) and PostgreSQL, over one kysely schema and one set of
 * migrations; both must pass test/metadata/conformance.ts.
 *
 * Visibility rule: an object is visible only once `commitObject` has run, which makes every segment of
 * its upload visible at once, in one transaction. Segments of uncommitted uploads are never returned by
 * object reads.
 *
 * Sizes are JavaScript numbers (safe up to 2^53 bytes); stored as 64-bit integers.
 */

export interface NodeRecord {
  readonly id: string
  /** ed25519 public key, SPKI DER, base64. */
  readonly publicKey: string
  readonly url: string
  readonly provider: string
  readonly region: string
  readonly operator: string
  readonly subnet: string
  readonly country: string
  readonly capacityBytes: number
  readonly usedBytes: number
  readonly freeBytes: number
  /** Milliseconds since the epoch. */
  readonly firstSeen: number
  readonly lastSeen: number
}

export interface AccountRecord {
  readonly id: string
  readonly name: string
  /** The owner's secret, sealed with the coordinator's master key (never stored in the clear). */
  readonly sealedSecret: Uint8Array
  readonly createdAt: number
}

/** An S3 access key of an account. The secret is sealed with the coordinator's master key. */
export interface AccessKeyRecord {
  readonly accessKeyId: string
  readonly accountId: string
  readonly sealedSecret: Uint8Array
  readonly createdAt: number
}

export interface BucketRecord {
  readonly name: string
  readonly ownerId: string
  readonly createdAt: number
  /** JSON text of the bucket's settings (placement policy, redundancy, under-placement behaviour). */
  readonly settings: string
}

export type UploadState = 'pending' | 'committed' | 'aborted'

export interface UploadRecord {
  readonly id: string
  readonly bucket: string
  readonly key: string
  readonly createdAt: number
  readonly state: UploadState
}

export interface PieceRecord {
  readonly pieceIndex: number
  readonly nodeId: string
  readonly pieceId: string
  readonly size: number
  /** Merkle root of the piece's blocks, hex. */
  readonly hash: string
}

export interface SegmentRecord {
  readonly index: number
  /** Plaintext bytes in this segment. */
  readonly plainSize: number
  /** Ciphertext bytes (plaintext + auth tag) before padding into shards. */
  readonly encryptedSize: number
  readonly shardSize: number
  readonly k: number
  readonly m: number
  /** True when the segment was written under a weaker placement than its policy asks. */
  readonly underPlaced: boolean
  /** Why it is under-placed (empty otherwise). */
  readonly placementNote: string
  readonly pieces: readonly PieceRecord[]
  /**
   * Set on a segment moved in from another upload (an S3 multipart part, see assembleObject): the salt
   * its key derives from and the index its nonce derives from, which stay those of the upload that
   * sealed it. Absent: the object's own salt and `index`.
   */
  readonly keySalt?: Uint8Array
  readonly sealIndex?: number
  /** Of an assembled object: which of its parts (1-based, in order) the segment belongs to. */
  readonly partNumber?: number
}

export interface ObjectRecord {
  readonly bucket: string
  readonly key: string
  /** The upload that wrote it; its segments belong to this id. */
  readonly uploadId: string
  readonly size: number
  readonly segmentCount: number
  readonly segmentSize: number
  /** Encrypted bytes of a small object stored inline (segmentCount is then 0). */
  readonly inlineData: Uint8Array | null
  /** Salt from which the per-object key is derived. */
  readonly keySalt: Uint8Array
  readonly contentType: string
  readonly etag: string
  /** JSON text of user metadata. */
  readonly userMetadata: string
  readonly createdAt: number
}

/** Conditions of a conditional write (S3 If-None-Match / If-Match on PUT), checked atomically at commit. */
export interface CommitCondition {
  /** Only if no visible object has this key. */
  readonly ifNoneMatch?: boolean
  /** Only if the visible object has this ETag (unquoted hex). */
  readonly ifMatch?: string
}

/** A part of an assembled object: a visible object whose segments move into it (see assembleObject). */
export interface AssemblyPart {
  readonly bucket: string
  readonly key: string
  /** The upload that must still be the part object's visible version. */
  readonly uploadId: string
}

export interface ListObjectsOptions {
  readonly prefix?: string
  /** Return keys strictly greater than this. */
  readonly startAfter?: string
  /** At most this many rows (default 1000). */
  readonly limit?: number
}

export interface MetadataStats {
  readonly objects: number
  readonly bytes: number
  readonly segments: number
  readonly underPlacedSegments: number
  /** Pieces of committed objects per node id. */
  readonly piecesPerNode: ReadonlyMap<string, { pieces: number, bytes: number }>
}

/** Where a node stands: see src/coordinator/reputation.ts for the rules that move it. */
export type NodeStanding = 'vetting' | 'active' | 'suspended' | 'disqualified'
/** Graceful exit: 'exiting' while its pieces are moved away, 'exited' once none is left. */
export type ExitState = 'none' | 'exiting' | 'exited'

export interface ReputationRecord {
  readonly nodeId: string
  readonly standing: NodeStanding
  /** Why the node has its standing (empty for vetting/active). */
  readonly standingReason: string
  /** When the standing last changed, ms since the epoch. */
  readonly standingSince: number
  readonly exitState: ExitState
  readonly audits: number
  readonly auditSuccesses: number
  /** Audits the node answered with wrong bytes or without the piece. */
  readonly auditFailures: number
  /** Audits the node was online for but did not answer properly (errors, timeouts). */
  readonly auditUnknown: number
  /** Audits skipped because the node was offline (counted against uptime only). */
  readonly auditOffline: number
  /** Beta-reputation parameters of the audit and unknown-audit scores (score = alpha / (alpha + beta)). */
  readonly auditAlpha: number
  readonly auditBeta: number
  readonly unknownAlpha: number
  readonly unknownBeta: number
  /** Exponentially weighted fraction of audit attempts that found the node online (0..1). */
  readonly uptimeScore: number
  /** Exponentially weighted audit round trip, ms. */
  readonly latencyMs: number
  readonly updatedAt: number
}

/** A piece as audits and garbage collection see it: where it sits in which segment. */
export interface NodePieceRecord {
  readonly uploadId: string
  readonly segmentIndex: number
  readonly pieceIndex: number
  readonly pieceId: string
  readonly size: number
  readonly hash: string
}

/** A segment of a visible object, with the object it belongs to (for the repair checker). */
export interface StoredSegmentRecord extends SegmentRecord {
  readonly uploadId: string
  readonly bucket: string
  readonly key: string
}

/** One piece of a segment swapped for a rebuilt copy on another node (repair, node exit). */
export interface PieceReplacement {
  readonly pieceIndex: number
  /** The piece id the row must still have (undefined: there must be no row for this index). */
  readonly expectedPieceId?: string
  /** The new piece, or null to remove the row (a piece on a node that is leaving, no longer needed). */
  readonly piece: PieceRecord | null
}

export interface MetadataStore {
  /** Creates or upgrades the schema; safe to call on every start. */
  migrate(): Promise<void>
  /** Closes connections; safe to call twice. */
  close(): Promise<void>

  /** Inserts the node, or updates every field but firstSeen (kept from its first registration). */
  upsertNode(node: NodeRecord): Promise<void>
  getNode(id: string): Promise<NodeRecord | undefined>
  /** Every node, sorted by id. */
  listNodes(): Promise<NodeRecord[]>

  /** Throws AlreadyExistsError when the id or the name is taken. */
  createAccount(account: AccountRecord): Promise<void>
  getAccount(id: string): Promise<AccountRecord | undefined>
  getAccountByName(name: string): Promise<AccountRecord | undefined>

  /** Throws AlreadyExistsError when the access key id is taken. */
  createAccessKey(key: AccessKeyRecord): Promise<void>
  getAccessKey(accessKeyId: string): Promise<AccessKeyRecord | undefined>
  /** Every key, or the keys of one account, sorted by creation time. */
  listAccessKeys(accountId?: string): Promise<AccessKeyRecord[]>
  /** Returns whether the key existed. */
  deleteAccessKey(accessKeyId: string): Promise<boolean>
  /** Every account, sorted by name. */
  listAccounts(): Promise<AccountRecord[]>

  /** Throws AlreadyExistsError when the bucket exists. */
  createBucket(bucket: BucketRecord): Promise<void>
  getBucket(name: string): Promise<BucketRecord | undefined>
  /** Sorted by name; only the owner's buckets when ownerId is given. */
  listBuckets(ownerId?: string): Promise<BucketRecord[]>
  /** Throws NotFoundError when missing, BucketNotEmptyError when it holds objects. */
  deleteBucket(name: string): Promise<void>

  /** Records a pending upload. Throws NotFoundError when the bucket does not exist, AlreadyExistsError when the id is taken. */
  beginUpload(upload: Omit<UploadRecord, 'state'>): Promise<void>
  getUpload(id: string): Promise<UploadRecord | undefined>
  /** Stores one finished segment of a pending upload (invisible until commit). Throws NotFoundError / UploadStateError. */
  addSegment(uploadId: string, segment: SegmentRecord): Promise<void>
  /**
   * In one transaction: checks that the upload is pending, marks it committed and makes `object` the
   * visible version of bucket/key (replacing any previous one, which is returned so its pieces can be
   * collected). Throws UploadStateError when the upload is not pending, NotFoundError when the bucket is gone,
   * PreconditionFailedError when `condition` does not hold (then nothing changes and the upload stays pending).
   */
  commitObject(object: ObjectRecord, condition?: CommitCondition): Promise<ObjectRecord | undefined>
  /**
   * Records a new upload and commits `object`, stored inline (no segments), in one transaction: what
   * beginUpload + commitObject do, with one commit instead of two. Throws commitObject's errors, and
   * InvalidArgumentError when the object is not inline.
   */
  putInlineObject(object: ObjectRecord, condition?: CommitCondition): Promise<ObjectRecord | undefined>
  /**
   * Commits an object assembled from other objects without moving data (S3 CompleteMultipartUpload):
   * in one transaction, the segments and pieces of each part's upload move, in order, into the pending
   * upload `object.uploadId` (which must have no segments of its own), each keeping the salt and nonce
   * index it was sealed with and numbered with its part (1-based); the part objects and their uploads
   * disappear; then `object` is committed as by commitObject, with `segmentCount` set to the segments
   * moved. Returns the committed object and the object it replaced. Throws ConflictError when a part is
   * no longer visible with that upload (a concurrent write replaced it; nothing changes),
   * InvalidArgumentError when a part is stored inline, and commitObject's errors.
   */
  assembleObject(object: ObjectRecord, parts: readonly AssemblyPart[], condition?: CommitCondition): Promise<{ object: ObjectRecord, replaced: ObjectRecord | undefined }>
  /**
   * Marks a pending upload aborted and returns its segments (their pieces are garbage).
   * Throws NotFoundError when the upload does not exist, UploadStateError when it is not pending.
   */
  abortUpload(id: string): Promise<SegmentRecord[]>
  /**
   * Forgets an upload that is no longer visible (aborted, or committed and since replaced or deleted)
   * together with its segments and pieces; garbage collection calls it once those pieces are deleted
   * from the nodes. Throws NotFoundError when the upload does not exist, UploadStateError when it is
   * pending or is still the visible version of its object.
   */
  purgeUpload(id: string): Promise<void>

  getObject(bucket: string, key: string): Promise<ObjectRecord | undefined>
  /**
   * Segments of a committed upload, in index order, each with its pieces in piece order. Empty for a
   * pending, aborted or unknown upload. A committed upload whose object was since replaced or deleted
   * still answers (until purgeUpload), so reads in flight finish and GC can find the old pieces.
   */
  getSegments(uploadId: string): Promise<SegmentRecord[]>
  /**
   * Keys in byte order (binary collation on both dialects). A prefix is a plain string (% and _ are not
   * wildcards). Throws InvalidArgumentError when limit is not a non-negative integer.
   */
  listObjects(bucket: string, options?: ListObjectsOptions): Promise<ObjectRecord[]>
  /** Removes the visible object and returns it (undefined when there was none). */
  deleteObject(bucket: string, key: string): Promise<ObjectRecord | undefined>

  stats(): Promise<MetadataStats>

  // ── durability (audits, repair, garbage collection) ──

  /** Every node's reputation row, sorted by node id. */
  listReputations(): Promise<ReputationRecord[]>
  /** Inserts or replaces the node's reputation row. */
  putReputation(record: ReputationRecord): Promise<void>
  /**
   * Pieces of visible objects held by `nodeId`, in piece-id order after `afterPieceId` (audits walk a
   * node's pieces with this cursor). At most `limit` rows.
   */
  piecesOfNode(nodeId: string, afterPieceId: string, limit: number): Promise<NodePieceRecord[]>
  /**
   * Ids of every piece any upload still records on `nodeId` (pending, committed, aborted-not-yet-purged),
   * in order after `afterPieceId`: the retain set garbage collection sends to the node.
   */
  pieceIdsOfNode(nodeId: string, afterPieceId: string, limit: number): Promise<string[]>
  /**
   * Segments of visible objects in (uploadId, index) order after `after`, each with its pieces: the
   * repair checker pages through them. At most `limit` segments.
   */
  listSegments(after: { uploadId: string, index: number } | undefined, limit: number): Promise<StoredSegmentRecord[]>
  /**
   * Atomically swaps pieces of one segment of a visible object and records its new placement state.
   * Returns false, changing nothing, when the object is no longer visible or any piece row is not
   * what `expectedPieceId` says (a concurrent repair, delete or audit got there first).
   */
  replacePieces(uploadId: string, segmentIndex: number, replacements: readonly PieceReplacement[],
    placement: { underPlaced: boolean, placementNote: string }): Promise<boolean>
  /** Forgets one piece row (a piece an audit proved lost or corrupt); false when the row had changed. */
  removePiece(uploadId: string, segmentIndex: number, pieceIndex: number, pieceId: string): Promise<boolean>
  /**
   * Garbage uploads created before `createdBefore`: aborted ones and committed ones no longer
   * visible. At most `limit`, oldest first.
   */
  garbageUploads(createdBefore: number, limit: number): Promise<string[]>
  /** Marks pending uploads created before `createdBefore` aborted (their writer is gone); returns how many. */
  abortStaleUploads(createdBefore: number): Promise<number>
}
