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
import { S3Error } from './errors.js'
import { header, readSmallBody, receiveBody, sendXml, storedMetadata, writeCondition } from './s3-server.js'
import type { AuthResult } from './sigv4.js'
import { childrenNamed, childText, el, parseXml } from './xml.js'

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
}

export interface MultipartComponents {
  readonly metadata: MetadataStore
  readonly gateway: Gateway
  readonly logger: Logger
}

export class Multipart {
  readonly #c: MultipartComponents
  #parts: BucketRecord | undefined

  constructor (components: MultipartComponents) {
    this.#c = components
  }

  /** POST /bucket/key?uploads */
  async create (req: IncomingMessage, res: ServerResponse, bucket: BucketRecord, key: string, owner: string, auth: AuthResult): Promise<void> {
    await readSmallBody(req, auth)
    const id = randomBytes(16).toString('hex')
    const info: UploadInfo = { bucket: bucket.name, key, owner, contentType: header(req, 'content-type') ?? 'binary/octet-stream', metadata: storedMetadata(req), initiated: Date.now() }
    const body = Buffer.from(JSON.stringify(info))
    await this.#c.gateway.putObject({ bucket: await this.#bucket(owner), key: `${id}/info`, body: (async function * () { yield body })(), expectedSize: body.length })
    sendXml(res, 200, el('InitiateMultipartUploadResult', [el('Bucket', bucket.name), el('Key', key), el('UploadId', id)]))
  }

  /** PUT /bucket/key?partNumber=N&uploadId=ID (UploadPart, or UploadPartCopy with x-amz-copy-source) */
  async uploadPart (req: IncomingMessage, res: ServerResponse, bucket: BucketRecord, key: string, owner: string, auth: AuthResult,
    query: URLSearchParams, copySource?: { bucket: BucketRecord, key: string }): Promise<void> {
    const id = query.get('uploadId') ?? ''
    const n = partNumber(query.get('partNumber'))
    await this.#info(id, bucket, key, owner)
    const parts = await this.#bucket(owner)
    if (copySource !== undefined) {
      await readSmallBody(req, auth)
      const src = await this.#c.gateway.headObject(copySource.bucket.name, copySource.key).catch((err: Error) => {
        throw err.name === 'NoSuchObjectError' ? new S3Error('NoSuchKey', 'The specified key does not exist.', { details: { Key: copySource.key } }) : err
      })
      const range = copyRange(header(req, 'x-amz-copy-source-range'), src.size)
      const read = await this.#c.gateway.getObject(copySource.bucket, copySource.key, { range, object: src })
      const result = await this.#c.gateway.putObject({ bucket: parts, key: partKey(id, n), body: read.body, expectedSize: read.range.end - read.range.start, inline: false })
      sendXml(res, 200, el('CopyPartResult', [el('LastModified', new Date(result.object.createdAt).toISOString()), el('ETag', `"${result.object.etag}"`)]))
      return
    }
    const incoming = receiveBody(req, res, auth)
    try {
      const result = await this.#c.gateway.putObject({ bucket: parts, key: partKey(id, n), body: incoming.body, expectedSize: incoming.size, signal: incoming.signal, inline: false })
      res.writeHead(200, { etag: `"${result.object.etag}"`, 'content-length': 0, ...incoming.checksumHeader() }).end()
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
    const requested = childrenNamed(doc, 'Part').map((p) => ({ number: partNumber(childText(p, 'PartNumber') ?? null), etag: (childText(p, 'ETag') ?? '').trim().replace(/^"(.*)"$/, '$1') }))
    if (requested.length === 0) throw new S3Error('MalformedXML', 'The XML you provided did not list any part')
    for (let i = 1; i < requested.length; i++) {
      if (requested[i].number <= requested[i - 1].number) throw new S3Error('InvalidPartOrder', 'The list of parts was not in ascending order. The parts list must be specified in order of the part number.')
    }
    const stored = new Map((await this.#list(id, owner)).map((o) => [Number(o.key.slice(id.length + 1)), o]))
    // Every listed part must exist with its ETag before sizes are judged (S3 reports InvalidPart first).
    const chosen: ObjectRecord[] = requested.map((p) => {
      const part = stored.get(p.number)
      if (part === undefined || part.etag !== p.etag) {
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
    const result = await this.#c.gateway.assembleObject({
      bucket, key, parts: chosen, contentType: info.contentType, userMetadata: info.metadata, condition: writeCondition(req), etag
    }).catch((err: Error) => {
      // A part re-uploaded (or the upload completed or aborted) between the listing above and the commit.
      if (err.name === 'ConflictError') throw new S3Error('InvalidPart', `${err.message} Complete the upload again with the parts' current ETags.`)
      throw err
    })
    this.#c.logger.info('multipart upload completed', { bucket: bucket.name, key, parts: chosen.length, size })
    await this.#remove(id, owner)
    sendXml(res, 200, el('CompleteMultipartUploadResult', [el('Location', `/${bucket.name}/${key}`), el('Bucket', bucket.name), el('Key', key), el('ETag', `"${result.object.etag}"`)]))
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
    await this.#info(id, bucket, key, owner)
    const marker = Number(query.get('part-number-marker') ?? '0')
    const max = Math.min(1000, Number(query.get('max-parts') ?? '1000'))
    if (!Number.isInteger(marker) || !Number.isInteger(max) || max < 0) throw new S3Error('InvalidArgument', 'part-number-marker and max-parts must be integers')
    const all = (await this.#list(id, owner)).map((o) => ({ n: Number(o.key.slice(id.length + 1)), o })).filter((p) => p.n > marker)
    const page = all.slice(0, max)
    const truncated = all.length > page.length
    sendXml(res, 200, el('ListPartsResult', [
      el('Bucket', bucket.name), el('Key', key), el('UploadId', id),
      el('PartNumberMarker', marker), truncated ? el('NextPartNumberMarker', page[page.length - 1]?.n ?? marker) : undefined,
      el('MaxParts', max), el('IsTruncated', truncated),
      el('Initiator', [el('ID', owner), el('DisplayName', owner)]), el('Owner', [el('ID', owner), el('DisplayName', owner)]), el('StorageClass', 'STANDARD'),
      ...page.map(({ n, o }) => el('Part', [el('PartNumber', n), el('LastModified', new Date(o.createdAt).toISOString()), el('ETag', `"${o.etag}"`), el('Size', o.size)]))
    ]))
  }

  /** GET /bucket?uploads */
  async listUploads (res: ServerResponse, bucket: BucketRecord, owner: string, query: URLSearchParams): Promise<void> {
    const prefix = query.get('prefix') ?? ''
    const parts = await this.#bucket(owner)
    const uploads: Array<{ id: string, info: UploadInfo }> = []
    let after: string | undefined
    for (;;) {
      const page = await this.#c.metadata.listObjects(PARTS_BUCKET, { startAfter: after, limit: 1000 })
      for (const o of page) {
        if (!o.key.endsWith('/info')) continue
        const info = await this.#read(parts, o)
        if (info.owner === owner && info.bucket === bucket.name && info.key.startsWith(prefix)) uploads.push({ id: o.key.slice(0, -5), info })
      }
      if (page.length < 1000) break
      after = page[page.length - 1].key
    }
    uploads.sort((a, b) => a.info.key < b.info.key ? -1 : a.info.key > b.info.key ? 1 : a.info.initiated - b.info.initiated)
    sendXml(res, 200, el('ListMultipartUploadsResult', [
      el('Bucket', bucket.name), el('KeyMarker'), el('UploadIdMarker'), el('Prefix', prefix), el('MaxUploads', 1000), el('IsTruncated', false),
      ...uploads.map((u) => el('Upload', [el('Key', u.info.key), el('UploadId', u.id), el('Initiator', [el('ID', owner), el('DisplayName', owner)]),
        el('Owner', [el('ID', owner), el('DisplayName', owner)]), el('StorageClass', 'STANDARD'), el('Initiated', new Date(u.info.initiated).toISOString())]))
    ]))
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
