/**
 * The PieceStore contract: where a node keeps the pieces it is paid to hold. Pieces are immutable
 * blobs named by a 64-hex piece id; every piece carries its RFC 9162 Merkle root (src/crypto/merkle.ts),
 * computed on write and re-verified on every read, so a node never serves bytes it can't vouch for.
 *
 * Implementations stream in bounded memory and enforce size limits while reading, never after.
 */

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
  /** Every stored piece id, in no particular order (for garbage collection). */
  list(options?: { readonly signal?: AbortSignal }): AsyncIterable<string>
  /** What is stored, counted at start and kept up to date by write/delete. */
  usage(): PieceStoreUsage
  /** Configured capacity against what is used and what the disk really has free. */
  capacity(): Promise<PieceStoreCapacity>
}
