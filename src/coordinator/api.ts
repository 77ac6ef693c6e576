/**
 * The coordinator's HTTP API (JSON, plus streamed object bodies). Routes:
 *
 *   GET    /api/identity                      coordinator id and public key (nodes pin it)
 *   POST   /api/nodes/heartbeat               signed node heartbeat
 *   GET    /api/status                        nodes, liveness, capacity, spread, under-placed segments
 *   GET    /api/keys                          S3 access keys (ids and accounts, never secrets)
 *   POST   /api/keys                          create one: {"account": NAME} → id and secret (shown once)
 *   DELETE /api/keys/:id                      delete one
 *   GET    /api/buckets                       list buckets
 *   PUT    /api/buckets/:bucket               create (optional JSON body: bucket settings)
 *   GET    /api/buckets/:bucket               one bucket and its settings
 *   DELETE /api/buckets/:bucket               delete an empty bucket
 *   GET    /api/objects/:bucket?prefix&delimiter&startAfter&limit   list objects
 *   PUT    /api/objects/:bucket/:key          upload (streamed body)
 *   GET    /api/objects/:bucket/:key          download (Range: bytes=… supported)
 *   GET    /api/objects/:bucket/:key?locate   where each segment's pieces are (node, provider, region)
 *   HEAD   /api/objects/:bucket/:key          metadata only
 *   DELETE /api/objects/:bucket/:key          delete
 *   GET    /api/durability                    audit, repair and GC totals
 *   POST   /api/durability/audit|repair|gc    run one audit round / repair pass / GC pass now; → its report
 *   POST   /api/nodes/:id/exit                start a graceful exit (pieces are moved, then the node leaves)
 *   GET    /api/risk[?bucket=B]               concentration and blast radius (src/risk)
 *   GET    /api/risk/outage?provider=P (or region, operator, country, asn, node)   dry-run of one domain's outage
 *
 * Errors become JSON `{ error: { name, message } }` in one place, `#fail`, which never leaks internals.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Identity } from '../crypto/identity.js'
import type { BucketRecord, MetadataStore, ObjectRecord } from '../metadata/metadata-store.js'
import { HEARTBEAT_PATH, IDENTITY_PATH, SIGNATURE_HEADER, type HeartbeatReply } from '../node/protocol.js'
import { parseBucketSettings } from '../gateway/bucket-settings.js'
import type { ByteRange, Gateway } from '../gateway/gateway.js'
import { IncompleteBodyError, NoSuchObjectError } from '../gateway/errors.js'
import { listPage } from '../gateway/listing.js'
import { abortOnClose, HttpEndpoint, pipeBody, BadRequestError, decodePathPart, readBody, readJson, replyAfterBody, sendJson, streamBody } from '../util/http.js'
import type { Logger } from '../util/logger.js'
import type { NodeRegistry } from './registry.js'
import type { CoordinatorBroker } from './broker.js'
import type { Keyring } from './keyring.js'
import { DEFAULT_ACCOUNT } from './keyring.js'
import { validateBucketName, validateObjectKey } from './names.js'
import type { Durability } from './durability.js'
import { NotFoundError } from '../metadata/errors.js'
import { RISK_DIMENSIONS, type OutageDomain } from '../risk/index.js'

/** Largest heartbeat or settings body accepted. */
const SMALL_BODY_LIMIT = 64 * 1024
/** Most keys one list call returns. */
export const MAX_LIST_LIMIT = 1000

const STATUS_BY_ERROR: Record<string, number> = {
  BadRequestError: 400,
  InvalidSettingsError: 400,
  IncompleteBodyError: 400,
  InvalidHeartbeatError: 401,
  BodyTooLargeError: 413,
  NoSuchObjectError: 404,
  NotFoundError: 404,
  AlreadyExistsError: 409,
  BucketNotEmptyError: 409,
  UploadStateError: 409,
  InvalidRangeError: 416,
  PlacementError: 503,
  UploadFailedError: 503,
  ObjectUnavailableError: 503
}

export interface ApiComponents {
  readonly identity: Identity
  readonly broker: CoordinatorBroker
  readonly metadata: MetadataStore
  readonly registry: NodeRegistry
  readonly gateway: Gateway
  readonly keyring: Keyring
  readonly durability?: Durability
  readonly logger: Logger
}

export interface ApiInit {
  host: string
  port: number
}

export class CoordinatorApi {
  readonly #c: ApiComponents
  readonly #init: ApiInit
  readonly #endpoint: HttpEndpoint

  constructor (init: ApiInit, components: ApiComponents) {
    this.#init = init
    this.#c = components
    this.#endpoint = new HttpEndpoint(this.#init.host, this.#init.port, (req, res) => { void this.#handle(req, res) })
  }

  /** Starts listening; resolves with the URL. Throws when the port is taken. */
  async start (): Promise<string> {
    return await this.#endpoint.start()
  }

  get url (): string {
    return this.#endpoint.url
  }

  /** Stops accepting requests and closes open connections; safe to call twice. */
  async stop (): Promise<void> {
    await this.#endpoint.stop()
  }

  async #handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://x')
      // Split the raw path, not url.pathname: WHATWG URL parsing resolves "." and ".." segments (also
      // percent-encoded ones), which would turn the key "../../etc/passwd" into another path.
      const rawPath = (req.url ?? '/').split('?')[0]
      const parts = rawPath.split('/').slice(1)
      const method = req.method ?? 'GET'
      if (rawPath === IDENTITY_PATH && method === 'GET') {
        sendJson(res, 200, { id: this.#c.identity.id, publicKey: this.#c.identity.publicKey })
      } else if (rawPath === HEARTBEAT_PATH && method === 'POST') {
        const body = await readBody(req, SMALL_BODY_LIMIT)
        const sig = req.headers[SIGNATURE_HEADER]
        const nodeId = await this.#c.registry.heartbeat(body, typeof sig === 'string' ? sig : undefined, req.socket.remoteAddress ?? '')
        const reply: HeartbeatReply = {
          coordinatorId: this.#c.identity.id,
          publicKey: this.#c.identity.publicKey,
          offlineAfterMs: this.#c.registry.offlineAfterMs,
          ...(this.#c.durability === undefined ? {} : { exitState: this.#c.durability.reputation.get(nodeId).exitState })
        }
        sendJson(res, 200, reply)
      } else if (rawPath === '/api/status' && method === 'GET') {
        sendJson(res, 200, await this.#status())
      } else if (parts[0] === 'api' && (parts[1] === 'durability' || parts[1] === 'risk' || (parts[1] === 'nodes' && parts[3] === 'exit'))) {
        await this.#durability(res, method, url, parts.slice(1))
      } else if (parts[0] === 'api' && parts[1] === 'keys') {
        await this.#keys(req, res, method, parts.slice(2))
      } else if (parts[0] === 'api' && parts[1] === 'buckets') {
        await this.#buckets(req, res, method, parts.slice(2))
      } else if (parts[0] === 'api' && parts[1] === 'objects' && parts.length >= 3) {
        await this.#objects(req, res, method, url, parts.slice(2))
      } else {
        sendJson(res, 404, { error: { name: 'NotFoundError', message: `no route for ${method} ${rawPath.slice(0, 200)}` } })
      }
    } catch (err) {
      this.#fail(req, res, err)
    }
  }

  async #keys (req: IncomingMessage, res: ServerResponse, method: string, rest: string[]): Promise<void> {
    const { metadata, keyring } = this.#c
    if (rest.length === 0 || (rest.length === 1 && rest[0] === '')) {
      if (method === 'GET') {
        const accounts = new Map((await metadata.listAccounts()).map((a) => [a.id, a.name]))
        const keys = await metadata.listAccessKeys()
        sendJson(res, 200, { keys: keys.map((k) => ({ accessKeyId: k.accessKeyId, account: accounts.get(k.accountId) ?? k.accountId, createdAt: new Date(k.createdAt).toISOString() })) })
        return
      }
      if (method === 'POST') {
        const body = await readJson(req, SMALL_BODY_LIMIT) as { account?: unknown } | undefined
        const account = body?.account
        if (typeof account !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/.test(account)) {
          throw new BadRequestError('give {"account": NAME}: 1 to 64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit')
        }
        const key = await keyring.createAccessKey(account)
        this.#c.logger.info('access key created', { account, accessKeyId: key.accessKeyId })
        sendJson(res, 201, { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey, account })
        return
      }
      throw new BadRequestError(`${method} is not supported on /api/keys`)
    }
    if (rest.length === 1 && method === 'DELETE') {
      const id = decodePathPart(rest[0])
      if (!await keyring.deleteAccessKey(id)) throw new NoSuchObjectError(`access key ${id} does not exist`)
      this.#c.logger.info('access key deleted', { accessKeyId: id })
      res.writeHead(204).end()
      return
    }
    throw new BadRequestError('key paths are GET|POST /api/keys and DELETE /api/keys/ID')
  }

  async #buckets (req: IncomingMessage, res: ServerResponse, method: string, rest: string[]): Promise<void> {
    const { metadata } = this.#c
    if (rest.length === 0 || (rest.length === 1 && rest[0] === '')) {
      if (method !== 'GET') throw new BadRequestError(`${method} is not supported on /api/buckets`)
      // Names with "_" are Shoal's own (multipart parts), never the users'.
      const buckets = (await metadata.listBuckets()).filter((b) => !b.name.includes('_'))
      sendJson(res, 200, { buckets: buckets.map(bucketJson) })
      return
    }
    if (rest.length !== 1) throw new BadRequestError('bucket path must be /api/buckets/NAME')
    const name = validateBucketName(decodePathPart(rest[0]))
    if (method === 'PUT') {
      const settings = parseBucketSettings(await readJson(req, SMALL_BODY_LIMIT))
      const owner = await this.#c.keyring.ensureAccount(DEFAULT_ACCOUNT)
      const bucket: BucketRecord = { name, ownerId: owner.id, createdAt: Date.now(), settings: JSON.stringify(settings) }
      await metadata.createBucket(bucket)
      this.#c.logger.info('bucket created', { bucket: name })
      sendJson(res, 201, { bucket: bucketJson(bucket) })
    } else if (method === 'GET') {
      sendJson(res, 200, { bucket: bucketJson(await this.#bucket(name)) })
    } else if (method === 'DELETE') {
      await metadata.deleteBucket(name)
      this.#c.logger.info('bucket deleted', { bucket: name })
      res.writeHead(204).end()
    } else {
      throw new BadRequestError(`${method} is not supported on a bucket`)
    }
  }

  async #objects (req: IncomingMessage, res: ServerResponse, method: string, url: URL, rest: string[]): Promise<void> {
    const bucket = await this.#bucket(validateBucketName(decodePathPart(rest[0])))
    if (rest.length === 1 || (rest.length === 2 && rest[1] === '')) {
      if (method !== 'GET') throw new BadRequestError(`${method} needs an object key: /api/objects/BUCKET/KEY`)
      sendJson(res, 200, await this.#list(bucket.name, url.searchParams))
      return
    }
    const key = validateObjectKey(rest.slice(1).map(decodePathPart).join('/'))
    const { gateway } = this.#c
    if (method === 'PUT') {
      const declared = req.headers['content-length']
      const expectedSize = declared === undefined ? undefined : parseLength(declared)
      const { stream: body, signal } = pipeBody(req, res, () => new IncompleteBodyError('the client disconnected before sending the whole body'))
      const result = await gateway.putObject({
        bucket,
        key,
        body,
        expectedSize,
        contentType: headerText(req.headers['content-type']),
        userMetadata: userMetadataOf(req),
        signal
      })
      sendJson(res, 201, { object: objectJson(result.object), underPlacedSegments: result.underPlacedSegments, replaced: result.replaced !== undefined })
    } else if (method === 'GET' && url.searchParams.has('locate')) {
      sendJson(res, 200, await this.#locate(bucket.name, key))
    } else if (method === 'GET' || method === 'HEAD') {
      if (method === 'HEAD') {
        const object = await gateway.headObject(bucket.name, key)
        res.writeHead(200, objectHeaders(object, object.size)).end()
        return
      }
      const range = parseRange(req.headers.range)
      const head = range === undefined ? undefined : await gateway.headObject(bucket.name, key)
      const signal = abortOnClose(req, res)
      const result = await gateway.getObject(bucket, key, { range: head === undefined || range === undefined ? undefined : resolveRange(range, head.size), signal, reuseBuffers: true })
      const partial = range !== undefined
      const length = result.range.end - result.range.start
      const headers = objectHeaders(result.object, length)
      if (partial) headers['content-range'] = `bytes ${result.range.start}-${result.range.end - 1}/${result.object.size}`
      const it = result.body[Symbol.asyncIterator]()
      // Fetch the first segment before committing to a status, so an unavailable object is a clean 503.
      const first = await it.next()
      res.writeHead(partial ? 206 : 200, headers)
      await streamBody(res, it, first, (err) => { this.#c.logger.error('download failed mid-stream', { bucket: bucket.name, key, error: err }) })
    } else if (method === 'DELETE') {
      const removed = await gateway.deleteObject(bucket.name, key)
      if (removed === undefined) throw new NoSuchObjectError(`object ${bucket.name}/${key} does not exist`)
      res.writeHead(204).end()
    } else {
      throw new BadRequestError(`${method} is not supported on an object`)
    }
  }

  /** Where an object's pieces are: per segment, each piece's node and labels (for users and drills). */
  async #locate (bucket: string, key: string): Promise<unknown> {
    const object = await this.#c.gateway.headObject(bucket, key)
    const segments = object.segmentCount === 0 ? [] : await this.#c.metadata.getSegments(object.uploadId)
    return {
      object: objectJson(object),
      segments: segments.map((s) => ({
        index: s.index, size: s.plainSize, ...(s.partNumber === undefined ? {} : { part: s.partNumber }), k: s.k, m: s.m, underPlaced: s.underPlaced, placementNote: s.placementNote,
        pieces: s.pieces.map((p) => {
          const node = this.#c.registry.get(p.nodeId)
          return { index: p.pieceIndex, nodeId: p.nodeId, pieceId: p.pieceId, size: p.size, provider: node?.provider, region: node?.region, operator: node?.operator, online: node?.online ?? false }
        })
      }))
    }
  }

  async #bucket (name: string): Promise<BucketRecord> {
    const bucket = await this.#c.metadata.getBucket(name)
    if (bucket === undefined) throw new NoSuchObjectError(`bucket ${name} does not exist; create it with \`shoal mb ${name}\``)
    return bucket
  }

  async #list (bucket: string, params: URLSearchParams): Promise<unknown> {
    const prefix = params.get('prefix') ?? ''
    const delimiter = params.get('delimiter') ?? ''
    const startAfter = params.get('startAfter') ?? ''
    const limitText = params.get('limit') ?? String(MAX_LIST_LIMIT)
    const limit = Number(limitText)
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) throw new BadRequestError(`limit must be an integer from 1 to ${MAX_LIST_LIMIT}`)
    const { objects, prefixes, truncated, last } = await listPage(this.#c.metadata, bucket, prefix, delimiter, startAfter, limit)
    return { objects: objects.map(objectJson), prefixes, truncated, nextStartAfter: truncated ? last : null }
  }

  async #durability (res: ServerResponse, method: string, url: URL, parts: string[]): Promise<void> {
    const d = this.#c.durability
    if (d === undefined) throw new BadRequestError('this coordinator runs without durability services')
    const path = parts.join('/')
    if (path === 'durability' && method === 'GET') return sendJson(res, 200, d.summary())
    if (path === 'durability/audit' && method === 'POST') return sendJson(res, 200, await d.audit())
    if (path === 'durability/repair' && method === 'POST') return sendJson(res, 200, await d.repair())
    if (path === 'durability/gc' && method === 'POST') return sendJson(res, 200, await d.collect())
    if (parts[0] === 'nodes' && parts.length === 3 && method === 'POST') {
      const id = decodePathPart(parts[1])
      const node = this.#c.registry.get(id)
      if (node === undefined) throw new NotFoundError(`no node ${id.slice(0, 80)}; \`shoal status\` lists the nodes`)
      await d.exit(id)
      return sendJson(res, 202, { node: id, exitState: d.reputation.get(id).exitState })
    }
    if (path === 'risk' && method === 'GET') {
      const bucket = url.searchParams.get('bucket') ?? undefined
      if (bucket !== undefined && await this.#c.metadata.getBucket(bucket) === undefined) throw new NoSuchObjectError(`bucket ${bucket} does not exist`)
      return sendJson(res, 200, await d.risk(bucket))
    }
    if (path === 'risk/outage' && method === 'GET') {
      const given = [...RISK_DIMENSIONS, 'node' as const].filter((dim) => url.searchParams.has(dim))
      if (given.length !== 1) throw new BadRequestError(`name exactly one domain: ${[...RISK_DIMENSIONS, 'node'].map((x) => `${x}=…`).join(', ')}`)
      const domain = { dimension: given[0], value: url.searchParams.get(given[0]) ?? '' } as OutageDomain
      return sendJson(res, 200, await d.outage(domain))
    }
    throw new NotFoundError(`no route for ${method} /api/${path.slice(0, 100)}`)
  }

  async #status (): Promise<unknown> {
    const stats = await this.#c.metadata.stats()
    const failures = this.#c.broker.failures()
    const nodes = this.#c.registry.list().map((n) => {
      const held = stats.piecesPerNode.get(n.id)
      const reputation = this.#c.durability?.reputation.view(n.id)
      return {
        ...n,
        pieces: held?.pieces ?? 0,
        pieceBytes: held?.bytes ?? 0,
        failures: failures.get(n.id) ?? 0,
        ...(reputation === undefined
          ? {}
          : {
              standing: reputation.standing,
              standingReason: reputation.standingReason,
              exitState: reputation.exitState,
              audits: reputation.audits,
              auditFailures: reputation.auditFailures,
              auditScore: round(reputation.auditScore),
              unknownScore: round(reputation.unknownScore),
              uptimeScore: round(reputation.uptimeScore),
              latencyMs: round(reputation.latencyMs)
            })
      }
    })
    const spread = (dim: 'provider' | 'region'): Record<string, { nodes: number, online: number, pieces: number, bytes: number }> => {
      const out: Record<string, { nodes: number, online: number, pieces: number, bytes: number }> = {}
      for (const n of nodes) {
        const s = out[n[dim]] ??= { nodes: 0, online: 0, pieces: 0, bytes: 0 }
        s.nodes++
        if (n.online) s.online++
        s.pieces += n.pieces
        s.bytes += n.pieceBytes
      }
      return out
    }
    return {
      coordinator: { id: this.#c.identity.id, offlineAfterMs: this.#c.registry.offlineAfterMs },
      nodes,
      spread: { provider: spread('provider'), region: spread('region') },
      objects: stats.objects,
      bytes: stats.bytes,
      segments: stats.segments,
      underPlacedSegments: stats.underPlacedSegments,
      durability: this.#c.durability?.summary()
    }
  }

  #fail (req: IncomingMessage, res: ServerResponse, err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err))
    const status = STATUS_BY_ERROR[e.name] ?? 500
    if (status === 500) this.#c.logger.error('request failed', { method: req.method, url: req.url, error: e, stack: e.stack })
    else this.#c.logger.debug('request refused', { method: req.method, url: req.url, status, error: e })
    if (res.headersSent) { res.destroy(); return }
    const message = status === 500 ? 'internal error; see the coordinator log' : e.message
    replyAfterBody(req, res, () => { sendJson(res, status, { error: { name: status === 500 ? 'InternalError' : e.name, message } }) })
  }
}

function round (x: number): number {
  return Math.round(x * 1000) / 1000
}

function bucketJson (b: BucketRecord): unknown {
  return { name: b.name, createdAt: new Date(b.createdAt).toISOString(), settings: parseBucketSettings(b.settings) }
}

function objectJson (o: ObjectRecord): unknown {
  return { bucket: o.bucket, key: o.key, size: o.size, etag: o.etag, contentType: o.contentType, segments: o.segmentCount, inline: o.inlineData !== null, createdAt: new Date(o.createdAt).toISOString(), metadata: JSON.parse(o.userMetadata) }
}

function objectHeaders (o: ObjectRecord, length: number): Record<string, string | number> {
  const headers: Record<string, string | number> = {
    'content-type': o.contentType,
    'content-length': length,
    etag: `"${o.etag}"`,
    'last-modified': new Date(o.createdAt).toUTCString(),
    'accept-ranges': 'bytes'
  }
  for (const [k, v] of Object.entries(JSON.parse(o.userMetadata) as Record<string, string>)) headers[`x-shoal-meta-${k}`] = v
  return headers
}

function headerText (v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v
}

function userMetadataOf (req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(req.headers)) {
    if (k.startsWith('x-shoal-meta-') && typeof v === 'string') out[k.slice('x-shoal-meta-'.length)] = v
  }
  return out
}

function parseLength (text: string): number {
  if (!/^\d{1,16}$/.test(text)) throw new BadRequestError('content-length must be a non-negative integer')
  return Number(text)
}

type RangeSpec = { start?: number, end?: number, suffix?: number }

/** Parses a single-range `Range: bytes=…` header (RFC 9110 §14.1.2): a-b, a-, -n. */
function parseRange (header: string | undefined): RangeSpec | undefined {
  if (header === undefined) return undefined
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (m === null || (m[1] === '' && m[2] === '')) throw new BadRequestError(`unsupported Range header "${header}"; use bytes=START-END, bytes=START- or bytes=-LENGTH`)
  if (m[1] === '') return { suffix: Number(m[2]) }
  return { start: Number(m[1]), end: m[2] === '' ? undefined : Number(m[2]) }
}

function resolveRange (spec: RangeSpec, size: number): ByteRange {
  if (spec.suffix !== undefined) return { start: Math.max(0, size - spec.suffix), end: size }
  const start = spec.start ?? 0
  const end = spec.end === undefined ? size : Math.min(size, spec.end + 1)
  if (spec.end !== undefined && spec.end < start) throw new BadRequestError('range end is before its start')
  return { start, end: start >= size ? start + 1 : end }
}
