/**
 * The PieceStore contract: where a node keeps the pieces it is paid to hold. Pieces are immutable
 * blobs named by a 64-hex piece id; every piece carries its RFC 9162 Merkle root (src/crypto/merkle.ts),
 * computed on write and re-verified on every read, so a node never serves bytes it can't vouch for.
 *
 * Implementations stream in bounded memory and enforce size limits while reading, never after.
 */
import type { BloomFilter } from '../util/bloom.js'

/** Options of PieceStore.write. */
export interface PieceWriteOptions {
  /** The most bytes the piece may have; more → PieceTooLargeError, and nothing is kept. */
  readonly maxBytes: number
  /** Merkle root (hex) the writer claims; a different root → PieceHashMismatchError, nothing kept. */
  readonly expectedHash?: string
  /** Aborting stops the write and removes everything it wrote; the write rejects with the signal's reason. */
  readonly signal?: AbortSignal
}

/** Options of PieceStore.read. */
export interface PieceReadOptions {
  /** Aborting stops the stream (it rejects with the signal's reason) and releases the file. */
  readonly signal?: AbortSignal
}

/** Size and Merkle root of a stored piece. */
export interface PieceInfo {
  /** Bytes of piece data (not counting any on-disk header). */
  readonly size: number
  /** Merkle root of the data (RFC 9162 over MERKLE_BLOCK_SIZE blocks), lowercase hex. */
  readonly hash: string
}

/** A piece being read: its recorded size and root, and its bytes. */
export interface PieceReadResult extends PieceInfo {
  /**
   * The data. The root is recomputed while reading; on a mismatch the iteration throws
   * PieceCorruptedError, and it does so before yielding the final bytes, so a consumer that received
   * the whole piece received verified data. Breaking out of the loop releases the file.
   */
  readonly stream: AsyncIterable<Buffer>
}

/** How much the store holds. */
export interface PieceStoreUsage {
  /** Bytes the stored pieces take on disk, headers included. */
  readonly usedBytes: number
  readonly pieces: number
}

/** Capacity as a node reports it to its coordinator. */
export interface PieceStoreCapacity {
  /** What the operator allotted to this node. */
  readonly capacityBytes: number
  readonly usedBytes: number
  /** min(capacityBytes − usedBytes, free space the file system really has), never negative. */
  readonly freeBytes: number
}

/** What PieceStore.auditBlock answers: a block of the stored bytes and its Merkle inclusion proof. */
export interface PieceAuditBlock {
  /** Data size recorded in the piece's header. */
  readonly size: number
  /** The block's bytes as stored (MERKLE_BLOCK_SIZE, or fewer for the last block). */
  readonly block: Buffer
  /** RFC 9162 inclusion proof of the block in the tree over the stored bytes, the leaf's sibling first. */
  readonly proof: Buffer[]
}

/** What PieceStore.retain did. Pieces deleted concurrently by someone else are in no count. */
export interface PieceRetainResult {
  /** Pieces looked at: deleted + kept. */
  readonly scanned: number
  readonly deleted: number
  /** Bytes the deleted pieces took on disk, headers included (what usage().usedBytes dropped by). */
  readonly deletedBytes: number
  /** Pieces left in place: in the filter, or stored at or after createdBefore. */
  readonly kept: number
}

/**
 * A node's piece storage. Every method validates the piece id first (InvalidPieceIdError) and
 * throws NotStartedError outside start()…stop().
 */
export interface PieceStore {
  /** Prepares the store (recovers from a crash mid-write, counts what is held). Idempotent. */
  start(): Promise<void>
  /** Releases the store; in-flight writes are aborted and leave nothing behind. Idempotent. */
  stop(): Promise<void>
  /**
   * Streams `source` into a new piece and makes it durable before resolving. Throws
   * PieceExistsError, PieceTooLargeError, PieceHashMismatchError, InsufficientCapacityError, the
   * signal's reason, or the source's own error; on any failure nothing of the piece remains.
   */
  write(pieceId: string, source: AsyncIterable<Uint8Array>, options: PieceWriteOptions): Promise<PieceInfo>
  /** Opens a piece for reading; throws PieceNotFoundError, or PieceCorruptedError when its header is damaged. */
  read(pieceId: string, options?: PieceReadOptions): Promise<PieceReadResult>
  /** Size and root of a piece without reading its data; throws PieceNotFoundError or PieceCorruptedError. */
  stat(pieceId: string): Promise<PieceInfo>
  /** Removes a piece; throws PieceNotFoundError when there is none. */
  delete(pieceId: string): Promise<void>
  /**
   * Block `block` (0-based, MERKLE_BLOCK_SIZE each) of a piece as stored, with its inclusion proof in
   * the Merkle tree over all the stored bytes. The bytes are not checked against the recorded root:
   * the auditor does that, and a rotten piece must answer with a proof that fails, not with an error.
   * An empty piece has no leaves; its block 0 is empty, with an empty proof. Reads the piece once in
   * bounded chunks, keeping 32 bytes per block. Throws PieceNotFoundError, PieceCorruptedError (header
   * damaged, or the file's length disagrees with it) or InvalidAuditError (no such block).
   */
  auditBlock(pieceId: string, block: number, options?: PieceReadOptions): Promise<PieceAuditBlock>
  /**
   * Garbage collection: deletes every piece whose id is not in `filter` and that was stored before
   * `createdBefore` (ms since the epoch), keeping usage() right. Writes still in flight are never
   * touched. Aborting stops between pieces (rejects with the signal's reason; what was deleted stays
   * deleted). Throws on file-system errors.
   */
  retain(filter: BloomFilter, createdBefore: number, options?: { readonly signal?: AbortSignal }): Promise<PieceRetainResult>
  /** Every stored piece id, in no particular order (for garbage collection). */
  list(options?: { readonly signal?: AbortSignal }): AsyncIterable<string>
  /** What is stored, counted at start and kept up to date by write/delete. */
  usage(): PieceStoreUsage
  /** Configured capacity against what is used and what the disk really has free. */
  capacity(): Promise<PieceStoreCapacity>
}
