/**
 * The data path: object writes and reads over segments, with bounded memory for any object size.
 * Write: chunk the body into segments (reading segment i+1 while segment i goes out), store each
 * through writeSegment, then commit the object in one metadata transaction. Read: fetch segments in
 * order (segment i+1 is fetched while segment i is streamed out), slicing to the requested range.
 * Objects up to INLINE_THRESHOLD bytes are sealed and kept inline in the metadata.
 */
import { createHash, randomBytes } from 'node:crypto'
import { deriveObjectKey, newSalt, openSegment, sealSegment } from '../crypto/seal.js'
import type { ErasureCodec } from '../erasure/index.js'
import type { BucketRecord, CommitCondition, MetadataStore, ObjectRecord, SegmentRecord } from '../metadata/metadata-store.js'
import { PreconditionFailedError } from '../metadata/errors.js'
import type { Logger } from '../util/logger.js'
import { parseBucketSettings } from './bucket-settings.js'
import type { PieceBroker, PieceTransport } from './broker.js'
import { IncompleteBodyError, InvalidRangeError, NoSuchObjectError, ObjectUnavailableError } from './errors.js'
import { writeSegment, type Segment } from './segment-writer.js'
import { readSegment, segmentRegionSize } from './segment-reader.js'

/** Default segment size (DESIGN.md): large enough for throughput, small enough to bound memory to a few segments. */
export const DEFAULT_SEGMENT_SIZE = 64 * 1024 * 1024
/**
 * Segments of one upload stored at once (the next one is always being read meanwhile). Two would let one
 * segment's encryption and coding overlap another's transfers, but on the 2-core dev machine the whole
 * network is CPU-bound and 2 measured no faster than 1 (97 vs 99 MB/s), for 2.75 more segments of memory.
 */
export const WRITE_WINDOW = 1
/** Objects up to this size are stored inline in metadata (encrypted): a piece fan-out would cost more than it protects. */
export const INLINE_THRESHOLD = 4 * 1024

export interface GatewayInit {
  segmentSize?: number
  /** Segments of one upload stored concurrently (default WRITE_WINDOW). */
  writeWindow?: number
  inlineThreshold?: number
}

export interface GatewayComponents {
  readonly metadata: MetadataStore
  readonly broker: PieceBroker
  readonly pieces: PieceTransport
  readonly codec: (k: number, m: number) => ErasureCodec
  /** The bucket owner's secret, from which object keys are derived. */
  readonly ownerSecret: (ownerId: string) => Promise<Buffer>
  readonly logger: Logger
}

export interface PutRequest {
  readonly bucket: BucketRecord
  readonly key: string
  readonly body: AsyncIterable<Uint8Array>
  /** When known (Content-Length), a body of another length fails the write. */
  readonly expectedSize?: number
  readonly contentType?: string
  readonly userMetadata?: Record<string, string>
  /** A conditional write: checked before any data moves, and again atomically at commit. */
  readonly condition?: CommitCondition
  /** The ETag to record instead of the MD5 of the body. */
  readonly etag?: string
  /** False: store even a small body as a segment, never inline (S3 multipart parts, which assembleObject moves). */
  readonly inline?: boolean
  readonly signal?: AbortSignal
}

/** An object made of other objects' segments, moved without copying data (S3 CompleteMultipartUpload). */
export interface AssembleRequest {
  readonly bucket: BucketRecord
  readonly key: string
  /** The part objects, in order; each must still be visible with the upload it has here. */
  readonly parts: readonly ObjectRecord[]
  readonly contentType?: string
  readonly userMetadata?: Record<string, string>
  readonly condition?: CommitCondition
  /** S3 multipart: MD5 of the parts' MD5s, "-N". */
  readonly etag: string
}

export interface PutResult {
  readonly object: ObjectRecord
  readonly underPlacedSegments: number
  readonly replaced: ObjectRecord | undefined
}

export interface ByteRange {
  /** First byte, inclusive. */
  readonly start: number
  /** Last byte, exclusive. */
  readonly end: number
}

export interface GetOptions {
  /** Only these bytes of the object. */
  readonly range?: ByteRange
  readonly signal?: AbortSignal
  /** The object's record, when the caller already looked it up. */
  readonly object?: ObjectRecord
  /**
   * Reuse two segment buffers for the whole body instead of allocating per segment (bounded, steady
   * memory for large downloads). Each chunk is then valid only until the body is asked for the next
   * one: for consumers that write every chunk out before reading on (streamBody), never for ones
   * that keep chunks (a put of the body).
   */
  readonly reuseBuffers?: boolean
}

export interface GetResult {
  readonly object: ObjectRecord
  readonly range: ByteRange
  readonly body: AsyncIterable<Buffer>
}

export class Gateway {
  readonly #segmentSize: number
  readonly #inlineThreshold: number
  readonly #writeWindow: number
  readonly #components: GatewayComponents

  constructor (init: GatewayInit, components: GatewayComponents) {
    this.#segmentSize = init.segmentSize ?? DEFAULT_SEGMENT_SIZE
    this.#inlineThreshold = init.inlineThreshold ?? INLINE_THRESHOLD
    this.#writeWindow = init.writeWindow ?? WRITE_WINDOW
    if (!Number.isSafeInteger(this.#segmentSize) || this.#segmentSize < 1024) throw new RangeError('segmentSize must be an integer ≥ 1024')
    if (this.#inlineThreshold >= this.#segmentSize) throw new RangeError('inlineThreshold must be smaller than segmentSize')
    this.#components = components
  }

  /**
   * Stores an object. Nothing is visible until every segment is stored and the commit transaction
   * ran; on failure the pending upload is aborted. Throws PlacementError, UploadFailedError,
   * IncompleteBodyError, or the metadata store's errors.
   */
  async putObject (req: PutRequest): Promise<PutResult> {
    const { metadata, logger } = this.#components
    const settings = parseBucketSettings(req.bucket.settings)
    if (req.condition !== undefined) await this.#precheck(req.bucket.name, req.key, req.condition)
    const uploadId = randomBytes(16).toString('hex')
    const salt = newSalt()
    const objectKey = deriveObjectKey(await this.#components.ownerSecret(req.bucket.ownerId), salt)
    const md5 = createHash('md5')
    let size = 0
    const body = req.body
    const counted = (async function * (): AsyncGenerator<Uint8Array> {
      for await (const chunk of body) {
        size += chunk.length
        md5.update(chunk)
        yield chunk
      }
    })()
    const cancel = new AbortController()
    const signal = req.signal === undefined ? cancel.signal : AbortSignal.any([req.signal, cancel.signal])
    // The upload is recorded before its first segment is stored; an inline object skips that commit.
    let begun: Promise<void> | undefined
    const begin = async (): Promise<void> => { await (begun ??= metadata.beginUpload({ id: uploadId, bucket: req.bucket.name, key: req.key, createdAt: Date.now() })) }
    const segments: SegmentRecord[] = []
    let inline: Buffer | null = null
    try {
      const it = segmentsOf(counted, this.#segmentSize)[Symbol.asyncIterator]()
      let cur = await it.next()
      let index = 0
      const inflight = new Set<Promise<void>>()
      const store = async (i: number, plaintext: Segment): Promise<void> => {
        await begin()
        const segment = await writeSegment(this.#components, settings, objectKey, i, plaintext, signal)
        await metadata.addSegment(uploadId, segment)
        segments.push(segment)
      }
      try {
        while (cur.done !== true) {
          const plaintext = cur.value
          if (index === 0 && plaintext.length <= this.#inlineThreshold && req.inline !== false) {
            inline = sealSegment(objectKey, 0, Buffer.concat(plaintext.parts))
            cur = await it.next()
            break
          }
          // Store up to WRITE_WINDOW segments at once while the next one is read: the coordinator's
          // CPU work on one segment overlaps the network and disk time of another.
          const p = store(index++, plaintext)
          inflight.add(p)
          p.then(() => { inflight.delete(p) }, () => {})
          if (inflight.size >= this.#writeWindow) await Promise.race(inflight)
          cur = await it.next()
        }
        await Promise.all(inflight)
      } catch (err) {
        cancel.abort(err)
        await Promise.allSettled(inflight)
        throw err
      }
      segments.sort((a, b) => a.index - b.index)
      if (req.expectedSize !== undefined && size !== req.expectedSize) {
        throw new IncompleteBodyError(`body had ${size} bytes but ${req.expectedSize} were declared`)
      }
      const object: ObjectRecord = {
        bucket: req.bucket.name,
        key: req.key,
        uploadId,
        size,
        segmentCount: segments.length,
        segmentSize: this.#segmentSize,
        inlineData: inline,
        keySalt: salt,
        contentType: req.contentType ?? 'application/octet-stream',
        etag: req.etag ?? md5.digest('hex'),
        userMetadata: JSON.stringify(req.userMetadata ?? {}),
        createdAt: Date.now()
      }
      const replaced = inline !== null ? await metadata.putInlineObject(object, req.condition) : await metadata.commitObject(object, req.condition)
      if (replaced !== undefined) this.#discard(replaced)
      const underPlacedSegments = segments.filter((s) => s.underPlaced).length
      logger.info('stored object', { bucket: object.bucket, key: object.key, size, segments: segments.length, underPlacedSegments })
      return { object, underPlacedSegments, replaced }
    } catch (err) {
      if (begun !== undefined) {
        const orphans = await metadata.abortUpload(uploadId).catch(() => segments)
        this.#deletePieces(orphans)
      }
      throw err
    }
  }

  /**
   * Commits an object whose bytes are the parts' bytes in order, by moving the parts' segments in
   * metadata (one transaction; no piece is read or written). The parts disappear. Throws the metadata
   * store's ConflictError when a part was replaced meanwhile, PreconditionFailedError when the
   * condition does not hold.
   */
  async assembleObject (req: AssembleRequest): Promise<PutResult> {
    const { metadata, logger } = this.#components
    if (req.condition !== undefined) await this.#precheck(req.bucket.name, req.key, req.condition)
    const uploadId = randomBytes(16).toString('hex')
    await metadata.beginUpload({ id: uploadId, bucket: req.bucket.name, key: req.key, createdAt: Date.now() })
    try {
      const { object, replaced } = await metadata.assembleObject({
        bucket: req.bucket.name,
        key: req.key,
        uploadId,
        size: req.parts.reduce((a, p) => a + p.size, 0),
        segmentCount: 0,
        segmentSize: this.#segmentSize,
        inlineData: null,
        keySalt: newSalt(),
        contentType: req.contentType ?? 'application/octet-stream',
        etag: req.etag,
        userMetadata: JSON.stringify(req.userMetadata ?? {}),
        createdAt: Date.now()
      }, req.parts.map((p) => ({ bucket: p.bucket, key: p.key, uploadId: p.uploadId })), req.condition)
      if (replaced !== undefined) this.#discard(replaced)
      logger.info('assembled object', { bucket: object.bucket, key: object.key, size: object.size, parts: req.parts.length, segments: object.segmentCount })
      return { object, underPlacedSegments: 0, replaced }
    } catch (err) {
      await metadata.abortUpload(uploadId).catch(() => [])
      throw err
    }
  }

  /** Fails fast (before data moves) when a conditional write's condition already doesn't hold. */
  async #precheck (bucket: string, key: string, condition: CommitCondition): Promise<void> {
    const current = await this.#components.metadata.getObject(bucket, key)
    if (condition.ifNoneMatch === true && current !== undefined) throw new PreconditionFailedError(`${bucket}/${key} already exists`)
    if (condition.ifMatch !== undefined && current?.etag !== condition.ifMatch) throw new PreconditionFailedError(`${bucket}/${key} does not have ETag ${condition.ifMatch}`)
  }

  /** Looks up an object's metadata; throws NoSuchObjectError. */
  async headObject (bucket: string, key: string): Promise<ObjectRecord> {
    const object = await this.#components.metadata.getObject(bucket, key)
    if (object === undefined) throw new NoSuchObjectError(`object ${bucket}/${key} does not exist`)
    return object
  }

  /**
   * Opens an object for reading, optionally a byte range. The body verifies and decrypts as it goes;
   * iterating it throws ObjectUnavailableError when a segment can't be rebuilt.
   * Throws NoSuchObjectError, InvalidRangeError.
   */
  async getObject (bucket: BucketRecord, key: string, options: GetOptions = {}): Promise<GetResult> {
    // A caller that already looked the object up (for conditions, a Range check) passes it: one query less.
    const object = options.object?.key === key && options.object.bucket === bucket.name ? options.object : await this.headObject(bucket.name, key)
    const range = options.range ?? { start: 0, end: object.size }
    if (range.start < 0 || range.end > object.size || range.start > range.end || (range.start === range.end && object.size > 0 && options.range !== undefined)) {
      throw new InvalidRangeError(`range ${range.start}-${range.end - 1} is outside the object's ${object.size} bytes`)
    }
    const ownerSecret = await this.#components.ownerSecret(bucket.ownerId)
    if (object.inlineData !== null) {
      const plain = openSegment(deriveObjectKey(ownerSecret, object.keySalt), 0, object.inlineData)
      return { object, range, body: (async function * () { yield plain.subarray(range.start, range.end) })() }
    }
    const segments = await this.#components.metadata.getSegments(object.uploadId)
    return { object, range, body: this.#readRange(object, segments, ownerSecret, range, options.signal, options.reuseBuffers === true) }
  }

  /**
   * The bytes of part `n` (1-based) of an object and how many parts it has: an assembled (S3 multipart)
   * object has its parts; any other object is one part. Undefined when there is no part `n`.
   */
  async partRange (object: ObjectRecord, n: number): Promise<{ range: ByteRange, parts: number } | undefined> {
    const segments = object.segmentCount === 0 ? [] : await this.#components.metadata.getSegments(object.uploadId)
    if (segments.every((s) => s.partNumber === undefined)) return n === 1 ? { range: { start: 0, end: object.size }, parts: 1 } : undefined
    let offset = 0
    let start = -1
    let end = -1
    for (const s of segments) {
      if (s.partNumber === n && start < 0) start = offset
      offset += s.plainSize
      if (s.partNumber === n) end = offset
    }
    const parts = segments[segments.length - 1].partNumber ?? 1
    return start < 0 ? undefined : { range: { start, end }, parts }
  }

  /** Removes an object (its pieces are deleted in the background); returns it, or undefined if there was none. */
  async deleteObject (bucket: string, key: string): Promise<ObjectRecord | undefined> {
    const removed = await this.#components.metadata.deleteObject(bucket, key)
    if (removed !== undefined) this.#discard(removed)
    return removed
  }

  /**
   * Yields the range segment by segment, fetching the next segment while the current one is consumed.
   * With `reuse`, two regions alternate between segments (memory stays at two segments' shards, and
   * no fresh memory is zeroed per segment): a chunk is overwritten once the consumer asks for the next.
   */
  async * #readRange (object: ObjectRecord, segments: SegmentRecord[], ownerSecret: Buffer, range: ByteRange, signal: AbortSignal | undefined, reuse: boolean): AsyncGenerator<Buffer> {
    if (segments.length !== object.segmentCount) throw new IncompleteBodyError(`object ${object.bucket}/${object.key} has ${segments.length} of its ${object.segmentCount} segments in metadata`)
    // Segment offsets from their sizes: uniform for a streamed object, part by part for an assembled one.
    const starts: number[] = []
    let offset = 0
    for (const [i, segment] of segments.entries()) {
      if (segment.index !== i) throw new IncompleteBodyError(`object ${object.bucket}/${object.key} is missing segment ${i} in metadata`)
      starts.push(offset)
      offset += segment.plainSize
    }
    if (offset !== object.size) throw new IncompleteBodyError(`object ${object.bucket}/${object.key} has segments of ${offset} bytes for its ${object.size}`)
    const wanted = segments.map((_, i) => i).filter((i) => starts[i] < range.end && starts[i] + segments[i].plainSize > range.start)
    // Each salt's key once: the object's own, or (assembled object) each part's.
    const keys = new Map<string, Buffer>()
    const keyOf = (segment: SegmentRecord): Buffer => {
      const salt = segment.keySalt ?? object.keySalt
      const hex = Buffer.from(salt).toString('hex')
      let key = keys.get(hex)
      if (key === undefined) {
        key = deriveObjectKey(ownerSecret, salt)
        keys.set(hex, key)
      }
      return key
    }
    const cancel = new AbortController()
    const linked = signal === undefined ? cancel.signal : AbortSignal.any([signal, cancel.signal])
    const spare: Buffer[] = []
    const largest = Math.max(0, ...wanted.map((i) => segmentRegionSize(segments[i])))
    const read = async (i: number, region?: Buffer): Promise<Buffer> => {
      try {
        return await readSegment(this.#components, segments[i], keyOf(segments[i]), linked, region)
      } catch (err) {
        // Repair may have moved the segment's pieces (and deleted the old ones) since the segments were
        // loaded: read once more from the placement metadata has now, if it changed.
        if (!(err instanceof ObjectUnavailableError)) throw err
        const fresh = (await this.#components.metadata.getSegments(object.uploadId))[i]
        if (fresh === undefined || samePieces(fresh, segments[i])) throw err
        segments[i] = fresh
        return await readSegment(this.#components, fresh, keyOf(fresh), linked, region)
      }
    }
    const fetch = async (i: number): Promise<{ plain: Buffer, region?: Buffer }> => {
      if (!reuse) return { plain: await read(i) }
      const region = spare.pop() ?? Buffer.allocUnsafeSlow(largest)
      return { plain: await read(i, region), region }
    }
    let pending: ReturnType<typeof fetch> | undefined = wanted.length > 0 ? fetch(wanted[0]) : undefined
    try {
      for (const [w, i] of wanted.entries()) {
        const current = pending!
        pending = w + 1 < wanted.length ? fetch(wanted[w + 1]) : undefined
        pending?.catch(() => {})
        const { plain, region } = await current
        yield plain.subarray(Math.max(0, range.start - starts[i]), Math.min(plain.length, range.end - starts[i]))
        if (region !== undefined) spare.push(region)
      }
    } finally {
      cancel.abort()
    }
  }

  #discard (object: ObjectRecord): void {
    if (object.segmentCount === 0) return
    this.#components.metadata.getSegments(object.uploadId).then((segments) => { this.#deletePieces(segments) }, () => {})
  }

  /** Best effort: pieces a node keeps anyway are collected by garbage collection later. */
  #deletePieces (segments: SegmentRecord[]): void {
    const { broker, pieces, logger } = this.#components
    void (async () => {
      for (const segment of segments) {
        const grants = await broker.planDownload(segment, 'delete')
        await Promise.allSettled(grants.filter((g) => g.online).map(async (g) => { await pieces.delete(g) }))
      }
    })().catch((err) => { logger.debug('piece deletion incomplete; garbage collection will finish it', { error: err }) })
  }
}

/** Whether two records of one segment list the same pieces (same ids at the same indexes). */
function samePieces (a: SegmentRecord, b: SegmentRecord): boolean {
  return a.pieces.length === b.pieces.length && a.pieces.every((p, i) => p.pieceIndex === b.pieces[i].pieceIndex && p.pieceId === b.pieces[i].pieceId)
}

/**
 * Cuts a byte stream into segments of `size` bytes, each as the list of chunks it is made of (the last
 * may be shorter; an empty stream gives one empty segment). Holds at most one segment's worth of
 * chunks and copies nothing: the chunks are encrypted straight into the shards.
 */
export async function * segmentsOf (source: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Segment> {
  let parts: Buffer[] = []
  let fill = 0
  let yielded = false
  for await (const chunk of source) {
    let c = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length)
    while (fill + c.length >= size) {
      const take = size - fill
      parts.push(c.subarray(0, take))
      yield { parts, length: size }
      yielded = true
      parts = []
      fill = 0
      c = c.subarray(take)
    }
    if (c.length > 0) {
      parts.push(c)
      fill += c.length
    }
  }
  if (fill > 0 || !yielded) yield { parts, length: fill }
}
