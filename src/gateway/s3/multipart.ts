/**
 * S3 multipart upload. Parts are stored as ordinary (encrypted, erasure-coded) objects in an internal
 * bucket that no account can name or list ("_multipart": bucket names may not contain "_"), keyed
 * UPLOADID/PARTNUMBER, with UPLOADID/info holding the upload's target and headers. Parts are never
 * stored inline, so that Complete can assemble the object in metadata alone: one transaction moves the
 * listed parts' segments into the final object (each keeps the key and nonce it was sealed with, so no
 * byte is read, re-encrypted or sent again), and the unlisted parts are deleted.
 */
import { createHash, randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { BucketRecord, MetadataStore, ObjectRecord } from '../../metadata/metadata-store.js'
import type { Gateway } from '../gateway.js'
import type { Logger } from '../../util/logger.js'
import { createChecksum, type ChecksumAlgorithm } from './checksums.js'
import { S3Error } from './errors.js'
import { checkAcl, checkConditions, encodingType, header, maxCount, readSmallBody, receiveBody, sendXml, storedMetadata, writeCondition } from './s3-server.js'
import type { AuthResult } from './sigv4.js'
import { childrenNamed, childText, el, parseXml, urlEncodeName, type XmlElement } from './xml.js'

/** The internal bucket holding parts; its name is invalid for users, so it can't collide or be addressed. */
export const PARTS_BUCKET = '_multipart'
/** S3's limits: part numbers 1–10000, every part but the last at least 5 MiB. */
export const MAX_PART_NUMBER = 10_000
export const MIN_PART_SIZE = 5 * 1024 * 1024

interface UploadInfo {
  readonly bucket: string
  readonly key: string
  readonly owner: string
  readonly contentType: string
  readonly metadata: Record<string, string>
  readonly initiated: number
  /** x-amz-checksum-algorithm of CreateMultipartUpload: every part gets this checksum, the object a composite of them. */
  readonly checksumAlgorithm?: CompositeAlgorithm
}

export interface MultipartComponents {
  readonly metadata: MetadataStore
  readonly gateway: Gateway
  readonly logger: Logger
}

/** The algorithms of composite multipart checksums (S3: "checksum of checksums", reported as BASE64-N). */
const COMPOSITE_ALGORITHMS = ['crc32', 'crc32c', 'sha1', 'sha256'] as const satisfies readonly ChecksumAlgorithm[]
type CompositeAlgorithm = typeof COMPOSITE_ALGORITHMS[number]
/** The element of a checksum in S3's XML (Part, CompleteMultipartUploadResult): ChecksumCRC32, ChecksumSHA256, … */
const CHECKSUM_ELEMENT: Record<CompositeAlgorithm, string> = { crc32: 'ChecksumCRC32', crc32c: 'ChecksumCRC32C', sha1: 'ChecksumSHA1', sha256: 'ChecksumSHA256' }

export class Multipart {
  readonly #c: MultipartComponents
  #parts: BucketRecord | undefined

  constructor (components: MultipartComponents) {
    this.#c = components
  }

  /** POST /bucket/key?uploads */
  async create (req: IncomingMessage, res: ServerResponse, bucket: BucketRecord, key: string, owner: string, auth: AuthResult): Promise<void> {
    checkAcl(req, owner, 'AccessControlListNotSupported')
    await readSmallBody(req, auth)
    const id = randomBytes(16).toString('hex')
    const info: UploadInfo = { bucket: bucket.name, key, owner, contentType: header(req, 'content-type') ?? 'binary/octet-stream', metadata: storedMetadata(req), initiated: Date.now(), ...checksumOf(req) }
    const body = Buffer.from(JSON.stringify(info))
    await this.#c.gateway.putObject({ bucket: await this.#bucket(owner), key: `${id}/info`, body: (async function * () { yield body })(), expectedSize: body.length })
    sendXml(res, 200, el('InitiateMultipartUploadResult', [el('Bucket', bucket.name), el('Key', key), el('UploadId', id)]),
      info.checksumAlgorithm === undefined ? {} : { 'x-amz-checksum-algorithm': info.checksumAlgorithm.toUpperCase(), 'x-amz-checksum-type': 'COMPOSITE' })
  }

  /** PUT /bucket/key?partNumber=N&uploadId=ID (UploadPart, or UploadPartCopy with x-amz-copy-source) */
  async uploadPart (req: IncomingMessage, res: ServerResponse, bucket: BucketRecord, key: string, owner: string, auth: AuthResult,
    query: URLSearchParams, copySource?: { bucket: BucketRecord, key: string }): Promise<void> {
    const id = query.get('uploadId') ?? ''
    const n = partNumber(query.get('partNumber'))
    const info = await this.#info(id, bucket, key, owner)
    const parts = await this.#bucket(owner)
    if (copySource !== undefined) {
      await readSmallBody(req, auth)
      const src = await this.#c.gateway.headObject(copySource.bucket.name, copySource.key).catch((err: Error) => {
        throw err.name === 'NoSuchObjectError' ? new S3Error('NoSuchKey', 'The specified key does not exist.', { details: { Key: copySource.key } }) : err
      })
      // The same x-amz-copy-source-if-* preconditions as CopyObject; a copy that would not happen is 412 either way.
      if (checkConditions(req, src, 'x-amz-copy-source-') !== 200) {
        throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold (x-amz-copy-source-if-match, -if-none-match, -if-modified-since, -if-unmodified-since against the copy source)')
      }
      const range = copyRange(header(req, 'x-amz-copy-source-range'), src.size)
      const read = await this.#c.gateway.getObject(copySource.bucket, copySource.key, { range, object: src })
      const partMeta: Record<string, string> = {}
      const body = withPartChecksum(read.body, info.checksumAlgorithm, partMeta)
      const result = await this.#c.gateway.putObject({ bucket: parts, key: partKey(id, n), body, expectedSize: read.range.end - read.range.start, inline: false, userMetadata: partMeta })
      sendXml(res, 200, el('CopyPartResult', [el('LastModified', new Date(result.object.createdAt).toISOString()), el('ETag', `"${result.object.etag}"`),
        info.checksumAlgorithm === undefined ? undefined : el(CHECKSUM_ELEMENT[info.checksumAlgorithm], partMeta[`x-amz-checksum-${info.checksumAlgorithm}`])]))
      return
    }
    const incoming = receiveBody(req, res, auth)
    try {
      const partMeta: Record<string, string> = {}
      const body = withPartChecksum(incoming.body, info.checksumAlgorithm, partMeta)
      const result = await this.#c.gateway.putObject({ bucket: parts, key: partKey(id, n), body, expectedSize: incoming.size, signal: incoming.signal, inline: false, userMetadata: partMeta })
      res.writeHead(200, { etag: `"${result.object.etag}"`, 'content-length': 0, ...incoming.checksumHeader(), ...partMeta }).end()
    } catch (err) {
      incoming.detach()
      throw err
    }
  }

  /** POST /bucket/key?uploadId=ID */
  async complete (req: IncomingMessage, res: ServerResponse, bucket: BucketRecord, key: string, owner: string, auth: AuthResult, query: URLSearchParams): Promise<void> {
    const id = query.get('uploadId') ?? ''
    const body = await readSmallBody(req, auth)
    const info = await this.#info(id, bucket, key, owner)
    const doc = parseXml(body.toString('utf8'))
    if (doc.name.replace(/^.*:/, '') !== 'CompleteMultipartUpload') throw new S3Error('MalformedXML', 'expected a CompleteMultipartUpload document')
    const algorithm = info.checksumAlgorithm
    const requested = childrenNamed(doc, 'Part').map((p) => ({
      number: partNumber(childText(p, 'PartNumber') ?? null),
      etag: (childText(p, 'ETag') ?? '').trim().replace(/^"(.*)"$/, '$1'),
      checksum: algorithm === undefined ? undefined : childText(p, CHECKSUM_ELEMENT[algorithm])?.trim()
    }))
    if (requested.length === 0) throw new S3Error('MalformedXML', 'The XML you provided did not list any part')
    for (let i = 1; i < requested.length; i++) {
      if (requested[i].number <= requested[i - 1].number) throw new S3Error('InvalidPartOrder', 'The list of parts was not in ascending order. The parts list must be specified in order of the part number.')
    }
    const stored = new Map((await this.#list(id, owner)).map((o) => [Number(o.key.slice(id.length + 1)), o]))
    // Every listed part must exist with its ETag before sizes are judged (S3 reports InvalidPart first).
    const chosen: ObjectRecord[] = requested.map((p) => {
      const part = stored.get(p.number)
      const checksumDiffers = p.checksum !== undefined && p.checksum !== partChecksum(part, algorithm!)
      if (part === undefined || part.etag !== p.etag || checksumDiffers) {
        throw new S3Error('InvalidPart', 'One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part\'s entity tag.', { details: { PartNumber: String(p.number), ETag: p.etag } })
      }
      return part
    })
    for (const [i, part] of chosen.entries()) {
      if (i < chosen.length - 1 && part.size < MIN_PART_SIZE) {
        throw new S3Error('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size', { details: { PartNumber: String(requested[i].number), ProposedSize: String(part.size), MinSizeAllowed: String(MIN_PART_SIZE) } })
      }
    }
    const etag = createHash('md5').update(Buffer.concat(chosen.map((p) => Buffer.from(p.etag, 'hex')))).digest('hex') + `-${chosen.length}`
    const size = chosen.reduce((a, p) => a + p.size, 0)
    // S3's composite checksum: the algorithm over the parts' raw checksums, in order, then "-N".
    const composite = algorithm === undefined ? undefined : compositeChecksum(algorithm, chosen.map((p) => partChecksum(p, algorithm)))
    const userMetadata = composite === undefined ? info.metadata : { ...info.metadata, [`x-amz-checksum-${algorithm!}`]: composite }
    const result = await this.#c.gateway.assembleObject({
      bucket, key, parts: chosen, contentType: info.contentType, userMetadata, condition: writeCondition(req), etag
    }).catch((err: Error) => {
      // A part re-uploaded (or the upload completed or aborted) between the listing above and the commit.
      if (err.name === 'ConflictError') throw new S3Error('InvalidPart', `${err.message} Complete the upload again with the parts' current ETags.`)
      throw err
    })
    this.#c.logger.info('multipart upload completed', { bucket: bucket.name, key, parts: chosen.length, size })
    await this.#remove(id, owner)
    sendXml(res, 200, el('CompleteMultipartUploadResult', [el('Location', objectUrl(req, bucket.name, key)), el('Bucket', bucket.name), el('Key', key), el('ETag', `"${result.object.etag}"`),
      ...(composite === undefined ? [] : [el(CHECKSUM_ELEMENT[algorithm!], composite), el('ChecksumType', 'COMPOSITE')])]))
  }

  /** DELETE /bucket/key?uploadId=ID */
  async abort (res: ServerResponse, bucket: BucketRecord, key: string, owner: string, query: URLSearchParams): Promise<void> {
    const id = query.get('uploadId') ?? ''
    await this.#info(id, bucket, key, owner)
    await this.#remove(id, owner)
    res.writeHead(204).end()
  }

  /** GET /bucket/key?uploadId=ID */
  async listParts (res: ServerResponse, bucket: BucketRecord, key: string, owner: string, query: URLSearchParams): Promise<void> {
    const id = query.get('uploadId') ?? ''
    const { checksumAlgorithm: algorithm } = await this.#info(id, bucket, key, owner)
    const marker = Number(query.get('part-number-marker') ?? '0')
    const max = Math.min(1000, Number(query.get('max-parts') ?? '1000'))
    if (!Number.isInteger(marker) || !Number.isInteger(max) || max < 0) throw new S3Error('InvalidArgument', 'part-number-marker and max-parts must be integers')
    const all = (await this.#list(id, owner)).map((o) => ({ n: Number(o.key.slice(id.length + 1)), o })).filter((p) => p.n > marker)
    const page = all.slice(0, max)
    const truncated = all.length > page.length
    sendXml(res, 200, el('ListPartsResult', [
      el('Bucket', bucket.name), el('Key', key), el('UploadId', id),
      // S3 sends NextPartNumberMarker on every page (the last part listed), not only on truncated ones.
      el('PartNumberMarker', marker), el('NextPartNumberMarker', page[page.length - 1]?.n ?? marker),
      el('MaxParts', max), el('IsTruncated', truncated),
      el('Initiator', [el('ID', owner), el('DisplayName', owner)]), el('Owner', [el('ID', owner), el('DisplayName', owner)]), el('StorageClass', 'STANDARD'),
      ...page.map(({ n, o }) => el('Part', [el('PartNumber', n), el('LastModified', new Date(o.createdAt).toISOString()), el('ETag', `"${o.etag}"`), el('Size', o.size),
        algorithm === undefined ? undefined : el(CHECKSUM_ELEMENT[algorithm], partChecksum(o, algorithm))]))
    ]))
  }

  /**
   * GET /bucket?uploads (ListMultipartUploads): the account's open uploads into `bucket`, sorted by key
   * and, within a key, by initiation time; with prefix, delimiter (CommonPrefixes), max-uploads,
   * key-marker / upload-id-marker paging and encoding-type=url, as the S3 API reference describes.
   */
  async listUploads (res: ServerResponse, bucket: BucketRecord, owner: string, query: URLSearchParams): Promise<void> {
    const prefix = query.get('prefix') ?? ''
    const delimiter = query.get('delimiter') ?? ''
    const encoding = encodingType(query)
    const max = maxCount(query, 'max-uploads')
    const keyMarker = query.get('key-marker') ?? ''
    // Without key-marker, upload-id-marker is ignored (S3 API reference).
    const idMarker = keyMarker === '' ? '' : query.get('upload-id-marker') ?? ''
    const uploads = (await this.#uploads(bucket, owner)).filter((u) => u.info.key.startsWith(prefix))
    const page = uploadsPage(uploads, { prefix, delimiter, keyMarker, idMarker, max })
    const enc = (s: string): string => encoding === 'url' ? urlEncodeName(s) : s
    const last = page.entries.at(-1)
    sendXml(res, 200, el('ListMultipartUploadsResult', [
      el('Bucket', bucket.name), el('KeyMarker', enc(keyMarker)), el('UploadIdMarker', idMarker),
      page.truncated && last !== undefined ? el('NextKeyMarker', enc(typeof last === 'string' ? last : last.info.key)) : undefined,
      page.truncated && last !== undefined ? el('NextUploadIdMarker', typeof last === 'string' ? '' : last.id) : undefined,
      el('Prefix', enc(prefix)), delimiter === '' ? undefined : el('Delimiter', enc(delimiter)),
      el('MaxUploads', max), encoding === null ? undefined : el('EncodingType', 'url'), el('IsTruncated', page.truncated),
      ...page.entries.filter((e): e is Upload => typeof e !== 'string').map((u) => el('Upload', [el('Key', enc(u.info.key)), el('UploadId', u.id),
        el('Initiator', [el('ID', owner), el('DisplayName', owner)]), el('Owner', [el('ID', owner), el('DisplayName', owner)]),
        el('StorageClass', 'STANDARD'), el('Initiated', new Date(u.info.initiated).toISOString())])),
      ...page.entries.filter((e): e is string => typeof e === 'string').map((p): XmlElement => el('CommonPrefixes', [el('Prefix', enc(p))]))
    ]))
  }

  /** Every open upload of `owner` into `bucket`, sorted by key, then initiation time, then id. */
  async #uploads (bucket: BucketRecord, owner: string): Promise<Upload[]> {
    const parts = await this.#bucket(owner)
    const uploads: Upload[] = []
    let after: string | undefined
    for (;;) {
      const page = await this.#c.metadata.listObjects(PARTS_BUCKET, { startAfter: after, limit: 1000 })
      for (const o of page) {
        if (!o.key.endsWith('/info')) continue
        const info = await this.#read(parts, o)
        if (info.owner === owner && info.bucket === bucket.name) uploads.push({ id: o.key.slice(0, -5), info })
      }
      if (page.length < 1000) break
      after = page[page.length - 1].key
    }
    return uploads.sort((a, b) => compare(a.info.key, b.info.key) || a.info.initiated - b.info.initiated || compare(a.id, b.id))
  }

  /** The internal parts bucket (created on first use, owned by the first account that needed it; object keys are per-owner checked). */
  async #bucket (owner: string): Promise<BucketRecord> {
    if (this.#parts !== undefined) return this.#parts
    let b = await this.#c.metadata.getBucket(PARTS_BUCKET)
    if (b === undefined) {
      try {
        await this.#c.metadata.createBucket({ name: PARTS_BUCKET, ownerId: owner, createdAt: Date.now(), settings: '' })
      } catch (err) {
        if ((err as Error).name !== 'AlreadyExistsError') throw err
      }
      b = await this.#c.metadata.getBucket(PARTS_BUCKET)
    }
    this.#parts = b
    return b!
  }

  async #read (parts: BucketRecord, o: ObjectRecord): Promise<UploadInfo> {
    const chunks: Buffer[] = []
    for await (const c of (await this.#c.gateway.getObject(parts, o.key, { object: o })).body) chunks.push(c)
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as UploadInfo
  }

  /** The upload's info, checked against the request's bucket, key and account; NoSuchUpload otherwise. */
  async #info (id: string, bucket: BucketRecord, key: string, owner: string): Promise<UploadInfo> {
    const missing = new S3Error('NoSuchUpload', 'The specified multipart upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.', { details: { UploadId: id } })
    if (!/^[0-9a-f]{32}$/.test(id)) throw missing
    const parts = await this.#bucket(owner)
    const o = await this.#c.metadata.getObject(PARTS_BUCKET, `${id}/info`)
    if (o === undefined) throw missing
    const info = await this.#read(parts, o)
    if (info.bucket !== bucket.name || info.key !== key) throw missing
    if (info.owner !== owner) throw new S3Error('AccessDenied', 'Access Denied: the upload belongs to another account')
    return info
  }

  async #list (id: string, owner: string): Promise<ObjectRecord[]> {
    await this.#bucket(owner)
    const out: ObjectRecord[] = []
    let after: string | undefined
    for (;;) {
      const page = await this.#c.metadata.listObjects(PARTS_BUCKET, { prefix: `${id}/`, startAfter: after, limit: 1000 })
      out.push(...page.filter((o) => !o.key.endsWith('/info')))
      if (page.length < 1000) return out
      after = page[page.length - 1].key
    }
  }

  async #remove (id: string, owner: string): Promise<void> {
    for (const o of await this.#list(id, owner)) await this.#c.gateway.deleteObject(PARTS_BUCKET, o.key)
    await this.#c.gateway.deleteObject(PARTS_BUCKET, `${id}/info`)
  }
}

interface Upload { readonly id: string, readonly info: UploadInfo }

function compare (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * One page of ListMultipartUploads over `uploads` (sorted, already filtered by prefix): entries are
 * uploads or common prefixes (strings), each counting once toward `max`. Paging starts after
 * (keyMarker, idMarker): later keys, plus uploads of keyMarker itself listed after the idMarker upload
 * (or, when that upload is gone, with a greater id). A key-marker inside a common prefix (the
 * NextKeyMarker of a page that ended on that prefix) continues after the whole prefix.
 */
function uploadsPage (uploads: readonly Upload[], o: { prefix: string, delimiter: string, keyMarker: string, idMarker: string, max: number }): { entries: Array<Upload | string>, truncated: boolean } {
  const rollUp = (key: string): string | undefined => {
    if (o.delimiter === '' || !key.startsWith(o.prefix)) return undefined
    const cut = key.indexOf(o.delimiter, o.prefix.length)
    return cut < 0 ? undefined : key.slice(0, cut + o.delimiter.length)
  }
  const markerPrefix = rollUp(o.keyMarker)
  const sameKey = uploads.filter((u) => u.info.key === o.keyMarker)
  const at = sameKey.findIndex((u) => u.id === o.idMarker)
  const after = (u: Upload): boolean => {
    if (markerPrefix !== undefined && u.info.key.startsWith(markerPrefix)) return false
    if (u.info.key !== o.keyMarker) return u.info.key > o.keyMarker
    if (o.idMarker === '') return false
    return at >= 0 ? sameKey.indexOf(u) > at : u.id > o.idMarker
  }
  const entries: Array<Upload | string> = []
  for (const u of uploads.filter(after)) {
    const common = rollUp(u.info.key)
    if (common !== undefined && entries.at(-1) === common) continue
    if (entries.length >= o.max) return { entries, truncated: true }
    entries.push(common ?? u)
  }
  return { entries, truncated: false }
}

/**
 * The object's absolute URL for CompleteMultipartUpload's Location, under the Host the client used
 * (virtual-host style when it addressed BUCKET.host); the endpoint serves plain HTTP.
 */
function objectUrl (req: IncomingMessage, bucket: string, key: string): string {
  const host = header(req, 'host') ?? 'localhost'
  const path = key.split('/').map((s) => encodeURIComponent(s)).join('/')
  return host.toLowerCase().startsWith(`${bucket}.`) ? `http://${host}/${path}` : `http://${host}/${bucket}/${path}`
}

function partKey (id: string, n: number): string {
  return `${id}/${String(n).padStart(5, '0')}`
}

export function partNumber (text: string | null): number {
  const n = Number(text)
  if (text === null || !/^\d{1,5}$/.test(text) || n < 1 || n > MAX_PART_NUMBER) {
    throw new S3Error('InvalidArgument', `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive`, { details: { ArgumentName: 'partNumber', ArgumentValue: text ?? '' } })
  }
  return n
}

/** x-amz-copy-source-range: bytes=first-last (both required, inside the source). */
function copyRange (text: string | undefined, size: number): { start: number, end: number } | undefined {
  if (text === undefined) return undefined
  const m = /^bytes=(\d+)-(\d+)$/.exec(text.trim())
  if (m === null || Number(m[2]) < Number(m[1]) || Number(m[2]) >= size) {
    throw new S3Error('InvalidArgument', 'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy', { details: { ArgumentName: 'x-amz-copy-source-range' } })
  }
  return { start: Number(m[1]), end: Number(m[2]) + 1 }
}

/**
 * CreateMultipartUpload's x-amz-checksum-algorithm, when it asks for a composite checksum. A
 * FULL_OBJECT checksum type (a CRC of the whole object) is not offered: InvalidRequest says so.
 */
function checksumOf (req: IncomingMessage): { checksumAlgorithm?: CompositeAlgorithm } {
  const name = header(req, 'x-amz-checksum-algorithm')?.toLowerCase()
  if (name === undefined) return {}
  if (header(req, 'x-amz-checksum-type')?.toUpperCase() === 'FULL_OBJECT') {
    throw new S3Error('InvalidRequest', 'Shoal keeps COMPOSITE multipart checksums only; send x-amz-checksum-type COMPOSITE or leave it out')
  }
  if (!(COMPOSITE_ALGORITHMS as readonly string[]).includes(name)) {
    throw new S3Error('InvalidRequest', `x-amz-checksum-algorithm ${name} has no composite form; use one of ${COMPOSITE_ALGORITHMS.join(', ').toUpperCase()}`)
  }
  return { checksumAlgorithm: name as CompositeAlgorithm }
}

/** Passes `body` through, computing the upload's part checksum into `meta` (as x-amz-checksum-ALG → base64) once it ends. */
async function * withPartChecksum (body: AsyncIterable<Uint8Array>, algorithm: CompositeAlgorithm | undefined, meta: Record<string, string>): AsyncGenerator<Uint8Array> {
  if (algorithm === undefined) return yield * body
  const checksum = createChecksum(algorithm)
  for await (const chunk of body) {
    checksum.update(chunk)
    yield chunk
  }
  meta[`x-amz-checksum-${algorithm}`] = checksum.digestBase64()
}

/** The checksum a part was stored with (base64); a part stored before the upload asked for checksums has none. */
function partChecksum (part: ObjectRecord | undefined, algorithm: CompositeAlgorithm): string {
  if (part === undefined) return ''
  return (JSON.parse(part.userMetadata) as Record<string, string>)[`x-amz-checksum-${algorithm}`] ?? ''
}

function compositeChecksum (algorithm: CompositeAlgorithm, parts: readonly string[]): string {
  if (parts.some((p) => p === '')) throw new S3Error('InvalidRequest', `The upload was created with a ${algorithm} checksum and a part has none; upload that part again`)
  const checksum = createChecksum(algorithm)
  for (const p of parts) checksum.update(Buffer.from(p, 'base64'))
  return `${checksum.digestBase64()}-${parts.length}`
}
