/**
 * A PieceStore on the local file system. A piece lives at pieces/ab/cd/<id> (derived from the id only,
 * after the id is checked against PIECE_ID_PATTERN), as a 64-byte header followed by the data:
 *
 *   0..8    magic "SHOALPC\0"          24..56  Merkle root of the data (32 bytes)
 *   8..12   format version (u32 BE)    56..64  first 8 bytes of SHA-256 over bytes 0..56
 *   16..24  data size (u64 BE)         12..16  reserved (zero)
 *
 * A write streams into tmp/<id>.<random>.tmp on the same file system, enforcing maxBytes and hashing as
 * the bytes arrive, fsyncs, links the file into place (link fails atomically when the piece exists,
 * where rename would silently replace it), and fsyncs the directory, so a crash leaves either the whole
 * piece or nothing but a temp file, which start() removes.
 *
 * Garbage collection (retain) deletes pieces by age: a piece's age is the later of its file's mtime (its
 * last write) and ctime (set by the link that put it in place, and by nothing after, as pieces are
 * immutable), so a piece linked after the cut-off counts as new however long its upload took.
 */
import { createHash, randomBytes } from 'node:crypto'
import { type FileHandle, link, mkdir, open, readdir, rm, stat, statfs, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { PIECE_ID_PATTERN } from '../crypto/order-limit.js'
import { MERKLE_BLOCK_SIZE, MerkleHasher, inclusionProof, leafCount, leafHash } from '../crypto/merkle.js'
import type { BloomFilter } from '../util/bloom.js'
import type { Logger } from '../util/logger.js'
import {
  InsufficientCapacityError, InvalidAuditError, InvalidPieceHashError, InvalidPieceIdError, NotStartedError,
  PieceCorruptedError, PieceExistsError, PieceHashMismatchError, PieceNotFoundError, PieceTooLargeError
} from './errors.js'
import type {
  PieceAuditBlock, PieceInfo, PieceReadOptions, PieceReadResult, PieceRetainResult, PieceStore, PieceStoreCapacity,
  PieceStoreUsage, PieceWriteOptions
} from './piece-store.js'

/** Bytes of the on-disk header in front of every piece's data. */
export const PIECE_HEADER_BYTES = 64
/** Identifies a Shoal piece file; a file without it is not ours (or its header is torn). */
const PIECE_MAGIC = Buffer.from('SHOALPC\0', 'latin1')
/** Version of the header layout above; a reader refuses versions it does not know. */
const PIECE_FORMAT_VERSION = 1
/** Bytes of SHA-256 kept in the header to detect a damaged header before trusting its size and root. */
const HEADER_CHECKSUM_BYTES = 8
/**
 * Read size when serving a piece: 64 KiB (eight Merkle blocks) is what node's own file streams use and
 * keeps a read's memory bounded however large the piece is.
 */
export const READ_CHUNK_BYTES = 1024 * 1024
/**
 * Read size of an audit, which hashes every block of the piece: READ_CHUNK_BYTES, a whole number of
 * Merkle blocks, so chunk boundaries are block boundaries.
 */
const AUDIT_READ_BYTES = READ_CHUNK_BYTES - READ_CHUNK_BYTES % MERKLE_BLOCK_SIZE
/** Sub-directories of pieces/ and tmp/. */
const PIECES_DIR = 'pieces'
const TMP_DIR = 'tmp'
const HASH_PATTERN = /^[0-9a-f]{64}$/

/** Settings of a FilePieceStore. */
export interface FilePieceStoreInit {
  /** Directory that holds pieces/ and tmp/ (created when missing). */
  readonly dir: string
  /** Bytes the operator allots to pieces (headers included); writes beyond it are refused. */
  readonly capacityBytes: number
}

/** Collaborators of a FilePieceStore. */
export interface FilePieceStoreComponents {
  readonly logger: Logger
}

/** Throws InvalidPieceIdError unless `pieceId` is 64 lowercase hex characters. */
export function assertPieceId (pieceId: unknown): asserts pieceId is string {
  if (typeof pieceId !== 'string' || !PIECE_ID_PATTERN.test(pieceId)) {
    throw new InvalidPieceIdError('piece id must be 64 lowercase hex characters')
  }
}

/** Throws InvalidPieceHashError unless `hash` is a 64-hex Merkle root. */
export function assertPieceHash (hash: unknown): asserts hash is string {
  if (typeof hash !== 'string' || !HASH_PATTERN.test(hash)) {
    throw new InvalidPieceHashError('piece hash must be a Merkle root as 64 lowercase hex characters')
  }
}

function encodeHeader (size: number, root: Buffer): Buffer {
  const header = Buffer.alloc(PIECE_HEADER_BYTES)
  PIECE_MAGIC.copy(header, 0)
  header.writeUInt32BE(PIECE_FORMAT_VERSION, 8)
  header.writeBigUInt64BE(BigInt(size), 16)
  root.copy(header, 24)
  createHash('sha256').update(header.subarray(0, 56)).digest().copy(header, 56, 0, HEADER_CHECKSUM_BYTES)
  return header
}

function decodeHeader (header: Buffer, pieceId: string): PieceInfo {
  if (header.length < PIECE_HEADER_BYTES || !header.subarray(0, 8).equals(PIECE_MAGIC)) {
    throw new PieceCorruptedError(`piece ${pieceId} has no valid header`)
  }
  const checksum = createHash('sha256').update(header.subarray(0, 56)).digest().subarray(0, HEADER_CHECKSUM_BYTES)
  if (!checksum.equals(header.subarray(56, 64))) throw new PieceCorruptedError(`piece ${pieceId} has a damaged header`)
  const version = header.readUInt32BE(8)
  if (version !== PIECE_FORMAT_VERSION) throw new PieceCorruptedError(`piece ${pieceId} has unknown format version ${version}`)
  const size = header.readBigUInt64BE(16)
  if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw new PieceCorruptedError(`piece ${pieceId} header claims an impossible size`)
  return { size: Number(size), hash: header.subarray(24, 56).toString('hex') }
}

/** Bytes gathered from the socket before one writev to the piece file. */
const WRITE_BATCH_BYTES = 1024 * 1024

async function fsyncDir (dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

/** Rejects with the signal's reason as soon as it aborts; otherwise settles like `promise`. */
async function raceAbort<T> (promise: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted()
  let onAbort: (() => void) | undefined
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => { reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([promise, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort!)
  }
}

function isCode (err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code
}

/** The file-system PieceStore. See the module comment for the layout and crash-safety argument. */
export class FilePieceStore implements PieceStore {
  readonly #piecesDir: string
  readonly #tmpDir: string
  readonly #capacityBytes: number
  readonly #log: Logger
  #started = false
  #usedBytes = 0
  #pieces = 0
  /** Bytes written by unfinished writes: counted against capacity so parallel uploads can't overcommit. */
  #inflightBytes = 0
  #stopController = new AbortController()
  readonly #writes = new Set<Promise<unknown>>()

  /** Throws RangeError when capacityBytes is not a non-negative safe integer. Touches no files. */
  constructor (init: FilePieceStoreInit, components: FilePieceStoreComponents) {
    if (!Number.isSafeInteger(init.capacityBytes) || init.capacityBytes < 0) {
      throw new RangeError('capacityBytes must be a non-negative integer')
    }
    this.#piecesDir = join(init.dir, PIECES_DIR)
    this.#tmpDir = join(init.dir, TMP_DIR)
    this.#capacityBytes = init.capacityBytes
    this.#log = components.logger
  }

  /**
   * Creates the directories, removes temp files left by a crash mid-write and counts the stored
   * pieces. Idempotent; throws on file-system errors.
   */
  async start (): Promise<void> {
    if (this.#started) return
    await mkdir(this.#piecesDir, { recursive: true })
    await mkdir(this.#tmpDir, { recursive: true })
    const leftovers = await readdir(this.#tmpDir)
    for (const name of leftovers) await rm(join(this.#tmpDir, name), { force: true, recursive: true })
    if (leftovers.length > 0) this.#log.info('removed temp files left by an interrupted write', { count: leftovers.length })
    let used = 0
    let pieces = 0
    for await (const { path } of this.#walk()) {
      used += (await stat(path)).size
      pieces++
    }
    this.#usedBytes = used
    this.#pieces = pieces
    this.#inflightBytes = 0
    this.#stopController = new AbortController()
    this.#started = true
    this.#log.debug('piece store started', { pieces, usedBytes: used })
  }

  /** Aborts in-flight writes (their temp files are removed) and waits for them. Idempotent. */
  async stop (): Promise<void> {
    if (!this.#started) return
    this.#started = false
    this.#stopController.abort(new NotStartedError('piece store is stopping'))
    await Promise.allSettled([...this.#writes])
  }

  /** See PieceStore.write. */
  async write (pieceId: string, source: AsyncIterable<Uint8Array>, options: PieceWriteOptions): Promise<PieceInfo> {
    assertPieceId(pieceId)
    this.#assertStarted()
    if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes < 0) throw new RangeError('maxBytes must be a non-negative integer')
    if (options.expectedHash !== undefined) assertPieceHash(options.expectedHash)
    const promise = this.#write(pieceId, source, options)
    this.#writes.add(promise)
    try {
      return await promise
    } finally {
      this.#writes.delete(promise)
    }
  }

  async #write (pieceId: string, source: AsyncIterable<Uint8Array>, options: PieceWriteOptions): Promise<PieceInfo> {
    const signal = options.signal === undefined
      ? this.#stopController.signal
      : AbortSignal.any([options.signal, this.#stopController.signal])
    signal.throwIfAborted()
    const final = this.#pathOf(pieceId)
    if (await exists(final)) throw new PieceExistsError(`piece ${pieceId} is already stored`)
    const tmp = join(this.#tmpDir, `${pieceId}.${randomBytes(8).toString('hex')}.tmp`)
    let fh: FileHandle | undefined = await open(tmp, 'wx', 0o600)
    let reserved = 0
    const iterator = source[Symbol.asyncIterator]()
    let iteratorDone = false
    try {
      // Room for the header, written last once size and root are known.
      await fh.write(Buffer.alloc(PIECE_HEADER_BYTES), 0, PIECE_HEADER_BYTES, 0)
      const hasher = new MerkleHasher()
      let size = 0
      // Socket chunks are ~64 KiB; gathering them into one writev per WRITE_BATCH_BYTES cuts the
      // thread-pool round trips 16-fold without copying.
      let batch: Uint8Array[] = []
      let batchBytes = 0
      let written = 0
      const flush = async (): Promise<void> => {
        if (batchBytes === 0) return
        const chunks = batch
        batch = []
        batchBytes = 0
        const { bytesWritten } = await raceAbort(fh!.writev(chunks, PIECE_HEADER_BYTES + written), signal)
        const expected = chunks.reduce((a, c) => a + c.length, 0)
        if (bytesWritten !== expected) throw new Error(`short write: ${bytesWritten} of ${expected} bytes`)
        written += bytesWritten
      }
      for (;;) {
        const next = await raceAbort(iterator.next(), signal)
        if (next.done === true) {
          iteratorDone = true
          break
        }
        const chunk = next.value
        size += chunk.length
        if (size > options.maxBytes) {
          throw new PieceTooLargeError(`piece ${pieceId} exceeds the allowed ${options.maxBytes} bytes`)
        }
        this.#reserve(chunk.length, pieceId)
        reserved += chunk.length
        hasher.update(chunk)
        batch.push(chunk)
        batchBytes += chunk.length
        if (batchBytes >= WRITE_BATCH_BYTES) await flush()
      }
      await flush()
      const root = hasher.root()
      const hash = root.toString('hex')
      if (options.expectedHash !== undefined && options.expectedHash !== hash) {
        throw new PieceHashMismatchError(`piece ${pieceId} hashes to ${hash}, not the announced ${options.expectedHash}`)
      }
      await fh.write(encodeHeader(size, root), 0, PIECE_HEADER_BYTES, 0)
      await fh.sync()
      await fh.close()
      fh = undefined
      signal.throwIfAborted()
      const created = await mkdir(dirname(final), { recursive: true })
      try {
        await link(tmp, final)
      } catch (err) {
        if (isCode(err, 'EEXIST')) throw new PieceExistsError(`piece ${pieceId} is already stored`, { cause: err })
        throw err
      }
      await unlink(tmp)
      // The link is durable only once its directory is; a new directory also needs its parent synced.
      await fsyncDir(dirname(final))
      if (created !== undefined) {
        for (let dir = dirname(dirname(final)); dir.length >= this.#piecesDir.length; dir = dirname(dir)) await fsyncDir(dir)
      }
      this.#usedBytes += PIECE_HEADER_BYTES + size
      this.#pieces++
      return { size, hash }
    } catch (err) {
      if (isCode(err, 'ENOSPC')) throw new InsufficientCapacityError('the disk is full', { cause: err })
      throw err
    } finally {
      this.#inflightBytes -= reserved
      // Not awaited: an async generator stuck awaiting its own input (a stalled client) only settles
      // return() once it resumes, which may be never.
      if (!iteratorDone) Promise.resolve(iterator.return?.()).catch(() => {})
      if (fh !== undefined) await fh.close().catch(() => {})
      await rm(tmp, { force: true }).catch((err: unknown) => { this.#log.warn('could not remove temp file', { tmp, err }) })
    }
  }

  #reserve (bytes: number, pieceId: string): void {
    if (this.#usedBytes + this.#inflightBytes + bytes + PIECE_HEADER_BYTES > this.#capacityBytes) {
      throw new InsufficientCapacityError(`storing piece ${pieceId} would exceed this node's capacity of ${this.#capacityBytes} bytes`)
    }
    this.#inflightBytes += bytes
  }

  /** See PieceStore.read. */
  async read (pieceId: string, options: PieceReadOptions = {}): Promise<PieceReadResult> {
    const info = await this.stat(pieceId)
    const path = this.#pathOf(pieceId)
    const signal = options.signal
    const log = this.#log
    // The file is opened when iteration starts, so a stream nobody iterates holds no descriptor.
    async function * stream (): AsyncGenerator<Buffer> {
      signal?.throwIfAborted()
      let fh: FileHandle
      try {
        fh = await open(path, 'r')
      } catch (err) {
        if (isCode(err, 'ENOENT')) throw new PieceNotFoundError(`piece ${pieceId} was deleted while being read`, { cause: err })
        throw err
      }
      try {
        const hasher = new MerkleHasher()
        let position = PIECE_HEADER_BYTES
        let remaining = info.size
        // The last chunk is held back until the root checks out, so corrupt data never completes.
        let pending: Buffer | undefined
        while (remaining > 0) {
          signal?.throwIfAborted()
          const buf = Buffer.allocUnsafe(Math.min(READ_CHUNK_BYTES, remaining))
          const { bytesRead } = await fh.read(buf, 0, buf.length, position)
          if (bytesRead === 0) throw new PieceCorruptedError(`piece ${pieceId} is shorter than its header says (truncated)`)
          const chunk = buf.subarray(0, bytesRead)
          hasher.update(chunk)
          position += bytesRead
          remaining -= bytesRead
          if (pending !== undefined) yield pending
          pending = chunk
        }
        const actual = hasher.digest()
        if (actual !== info.hash) {
          log.error('piece is corrupted: its data no longer matches its Merkle root', { pieceId, expected: info.hash, actual })
          throw new PieceCorruptedError(`piece ${pieceId} is corrupted: its data hashes to ${actual}, not ${info.hash}`)
        }
        if (pending !== undefined) yield pending
      } finally {
        await fh.close()
      }
    }
    return { ...info, stream: stream() }
  }

  /** See PieceStore.stat. */
  async stat (pieceId: string): Promise<PieceInfo> {
    assertPieceId(pieceId)
    this.#assertStarted()
    const { fh, info } = await this.#openPiece(pieceId)
    await fh.close()
    return info
  }

  /** See PieceStore.auditBlock. */
  async auditBlock (pieceId: string, block: number, options: PieceReadOptions = {}): Promise<PieceAuditBlock> {
    assertPieceId(pieceId)
    this.#assertStarted()
    if (!Number.isSafeInteger(block) || block < 0) throw new InvalidAuditError('audit block must be a non-negative integer')
    const signal = options.signal
    signal?.throwIfAborted()
    const { fh, info } = await this.#openPiece(pieceId)
    try {
      const leaves = leafCount(info.size)
      if (block >= Math.max(1, leaves)) {
        throw new InvalidAuditError(`piece ${pieceId} has ${leaves} blocks of ${MERKLE_BLOCK_SIZE} bytes; there is no block ${block}`)
      }
      if (leaves === 0) return { size: 0, block: Buffer.alloc(0), proof: [] }
      const hashes: Buffer[] = new Array<Buffer>(leaves)
      let wanted: Buffer | undefined
      const buf = Buffer.allocUnsafe(Math.min(AUDIT_READ_BYTES, info.size))
      for (let position = 0; position < info.size;) {
        signal?.throwIfAborted()
        const length = Math.min(buf.length, info.size - position)
        for (let filled = 0; filled < length;) {
          const { bytesRead } = await fh.read(buf, filled, length - filled, PIECE_HEADER_BYTES + position + filled)
          if (bytesRead === 0) throw new PieceCorruptedError(`piece ${pieceId} is shorter than its header says (truncated)`)
          filled += bytesRead
        }
        // Chunks start at multiples of AUDIT_READ_BYTES, a multiple of the block size: blocks never straddle two.
        for (let off = 0; off < length; off += MERKLE_BLOCK_SIZE) {
          const leaf = (position + off) / MERKLE_BLOCK_SIZE
          const bytes = buf.subarray(off, Math.min(off + MERKLE_BLOCK_SIZE, length))
          hashes[leaf] = leafHash(bytes)
          if (leaf === block) wanted = Buffer.from(bytes)
        }
        position += length
      }
      return { size: info.size, block: wanted!, proof: inclusionProof(hashes, block) }
    } finally {
      await fh.close()
    }
  }

  /** See PieceStore.retain. Throws RangeError unless createdBefore is a finite number. */
  async retain (filter: BloomFilter, createdBefore: number, options: { readonly signal?: AbortSignal } = {}): Promise<PieceRetainResult> {
    this.#assertStarted()
    if (!Number.isFinite(createdBefore)) throw new RangeError('createdBefore must be a time in ms since the epoch')
    const signal = options.signal === undefined
      ? this.#stopController.signal
      : AbortSignal.any([options.signal, this.#stopController.signal])
    let deleted = 0
    let deletedBytes = 0
    let kept = 0
    const touched = new Set<string>()
    try {
      // #walk sees pieces/ only: temp files of writes in flight live in tmp/ and are never looked at.
      for await (const { id, path } of this.#walk()) {
        signal.throwIfAborted()
        if (filter.has(id)) {
          kept++
          continue
        }
        let st
        try {
          st = await stat(path)
        } catch (err) {
          if (isCode(err, 'ENOENT')) continue // deleted meanwhile by someone else
          throw err
        }
        if (Math.max(st.mtimeMs, st.ctimeMs) >= createdBefore) {
          kept++
          continue
        }
        try {
          await unlink(path)
        } catch (err) {
          if (isCode(err, 'ENOENT')) continue
          throw err
        }
        this.#usedBytes -= st.size
        this.#pieces--
        deleted++
        deletedBytes += st.size
        touched.add(dirname(path))
      }
    } finally {
      // Deletions become durable with their directories, synced once each, also when stopped midway.
      for (const dir of touched) await fsyncDir(dir).catch((err: unknown) => { this.#log.warn('could not sync a piece directory', { dir, err }) })
    }
    return { scanned: deleted + kept, deleted, deletedBytes, kept }
  }

  /**
   * Opens a piece and checks its header and length (not its data); the caller closes the handle.
   * Throws PieceNotFoundError or PieceCorruptedError.
   */
  async #openPiece (pieceId: string): Promise<{ fh: FileHandle, info: PieceInfo }> {
    let fh: FileHandle
    try {
      fh = await open(this.#pathOf(pieceId), 'r')
    } catch (err) {
      if (isCode(err, 'ENOENT')) throw new PieceNotFoundError(`piece ${pieceId} is not stored on this node`, { cause: err })
      throw err
    }
    try {
      const header = Buffer.alloc(PIECE_HEADER_BYTES)
      const { bytesRead } = await fh.read(header, 0, PIECE_HEADER_BYTES, 0)
      const info = decodeHeader(header.subarray(0, bytesRead), pieceId)
      const { size } = await fh.stat()
      if (size !== PIECE_HEADER_BYTES + info.size) {
        throw new PieceCorruptedError(`piece ${pieceId} has ${size - PIECE_HEADER_BYTES} data bytes, its header says ${info.size}`)
      }
      return { fh, info }
    } catch (err) {
      await fh.close()
      throw err
    }
  }

  /** See PieceStore.delete. */
  async delete (pieceId: string): Promise<void> {
    assertPieceId(pieceId)
    this.#assertStarted()
    const path = this.#pathOf(pieceId)
    try {
      const { size } = await stat(path)
      await unlink(path)
      this.#usedBytes -= size
      this.#pieces--
    } catch (err) {
      if (isCode(err, 'ENOENT')) throw new PieceNotFoundError(`piece ${pieceId} is not stored on this node`, { cause: err })
      throw err
    }
    await fsyncDir(dirname(path))
  }

  /** See PieceStore.list. */
  async * list (options: { readonly signal?: AbortSignal } = {}): AsyncIterable<string> {
    this.#assertStarted()
    for await (const { id } of this.#walk()) {
      options.signal?.throwIfAborted()
      yield id
    }
  }

  /** See PieceStore.usage. */
  usage (): PieceStoreUsage {
    return { usedBytes: this.#usedBytes, pieces: this.#pieces }
  }

  /** See PieceStore.capacity; throws when the file system can't be queried. */
  async capacity (): Promise<PieceStoreCapacity> {
    this.#assertStarted()
    const fs = await statfs(this.#piecesDir)
    const diskFree = fs.bavail * fs.bsize
    const allotted = this.#capacityBytes - this.#usedBytes - this.#inflightBytes
    return {
      capacityBytes: this.#capacityBytes,
      usedBytes: this.#usedBytes,
      freeBytes: Math.max(0, Math.min(allotted, diskFree))
    }
  }

  /** pieces/ab/cd/<id>: two levels of 256 keep directories small up to ~10^8 pieces. */
  #pathOf (pieceId: string): string {
    return join(this.#piecesDir, pieceId.slice(0, 2), pieceId.slice(2, 4), pieceId)
  }

  #assertStarted (): void {
    if (!this.#started) throw new NotStartedError('piece store is not started')
  }

  async * #walk (): AsyncGenerator<{ id: string, path: string }> {
    const fanout = /^[0-9a-f]{2}$/
    for (const a of await readdirOrEmpty(this.#piecesDir)) {
      if (!fanout.test(a)) continue
      for (const b of await readdirOrEmpty(join(this.#piecesDir, a))) {
        if (!fanout.test(b)) continue
        for (const id of await readdirOrEmpty(join(this.#piecesDir, a, b))) {
          if (!PIECE_ID_PATTERN.test(id) || id.slice(0, 2) !== a || id.slice(2, 4) !== b) {
            this.#log.warn('ignoring a file that is not a piece', { path: join(this.#piecesDir, a, b, id) })
            continue
          }
          yield { id, path: join(this.#piecesDir, a, b, id) }
        }
      }
    }
  }
}

async function readdirOrEmpty (dir: string): Promise<string[]> {
  try {
    return await readdir(dir)
  } catch (err) {
    if (isCode(err, 'ENOENT') || isCode(err, 'ENOTDIR')) return []
    throw err
  }
}

async function exists (path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch (err) {
    if (isCode(err, 'ENOENT')) return false
    throw err
  }
}
