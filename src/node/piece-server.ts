/**
 * The piece API a node serves to gateways (node:http):
 *
 *   PUT    /pieces/:id   store a piece (order limit action "put");   201 + signed PieceReceipt
 *   GET    /pieces/:id   stream a piece (action "get");              200 + bytes, x-shoal-piece-hash
 *   DELETE /pieces/:id   remove a piece (action "delete");           204
 *   GET    /pieces/:id/audit?block=N  prove block N (action "audit"); 200 + block bytes, then proof hashes
 *   POST   /retain       garbage collection (signed retain request)  200 + PieceRetainResult
 *   GET    /info         who this node is and how much room it has   200 + NodeInfo
 *
 * Every piece request must carry an order limit signed by the trusted coordinator for this node, this
 * piece and this action, plus the holder's proof; each limit's serial is accepted once. A retain request
 * must be signed by that coordinator and name this node. Failures become JSON ErrorBody responses in
 * exactly one place (#fail), which never sends a stack or an internal message.
 *
 * At most one retain request is read or run at a time: a second one is refused at once with 409 (the
 * coordinator sends another next pass), which bounds the memory retain bodies take to one body.
 */
import { once } from 'node:events'
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { OrderLimitError } from '../crypto/errors.js'
import type { Identity } from '../crypto/identity.js'
import {
  ORDER_LIMIT_HEADER, ORDER_LIMIT_TTL_MS, ORDER_PROOF_HEADER, type OrderLimit, type PieceAction, verifyOrderLimit
} from '../crypto/order-limit.js'
import { RetainRequestError, verifyRetainRequest } from '../crypto/retain.js'
import { BloomFilter } from '../util/bloom.js'
import type { Logger } from '../util/logger.js'
import {
  InvalidAuditError, MethodNotAllowedError, PieceTooLargeError, RequestTimeoutError, RequestTooLargeError,
  RetainInProgressError, RouteNotFoundError
} from './errors.js'
import { assertPieceHash, assertPieceId } from './file-piece-store.js'
import type { PieceStore, PieceStoreCapacity } from './piece-store.js'
import {
  AUDIT_BLOCK_BYTES_HEADER, AUDIT_BLOCK_QUERY, type ErrorBody, MAX_RETAIN_BODY_BYTES, type NodeLabels, PIECE_HASH_HEADER,
  PIECE_SIZE_HEADER, RETAIN_PATH, SIGNATURE_HEADER, signReceipt
} from './protocol.js'
import type { SerialStore } from './serial-store.js'

/** Version reported by GET /info; kept in step with package.json's version. */
export const NODE_AGENT_VERSION = '0.1.0'
/** Time a client has to send its request headers: short, so slow-header (slowloris) clients can't pin sockets. */
export const HEADERS_TIMEOUT_MS = 10_000
/**
 * Time a client has to send a whole request: a 64 MiB piece over a 1 Mbit/s uplink takes ~9 minutes,
 * and the order limit for it is valid for ORDER_LIMIT_TTL_MS (10 minutes) anyway.
 */
export const REQUEST_TIMEOUT_MS = ORDER_LIMIT_TTL_MS
/**
 * Silence after which a connection is cut (mid-upload, mid-download or idle): a healthy TCP stream
 * is never quiet this long even on a lossy link, so 30 s of nothing means the peer is gone or stalling.
 */
export const IDLE_TIMEOUT_MS = 30_000
/** Time stop() lets in-flight requests finish before it closes their connections. */
export const SHUTDOWN_GRACE_MS = 2_000
/**
 * After refusing an upload, up to this many unread body bytes are read and discarded so the client
 * gets to read the refusal; a client sending more is disconnected instead.
 */
export const MAX_DRAIN_BYTES = 1024 * 1024

/** What GET /info answers. */
export interface NodeInfo {
  readonly id: string
  readonly publicKey: string
  readonly labels: NodeLabels
  readonly capacity: PieceStoreCapacity
  readonly pieces: number
  readonly version: string
}

/** Settings of a PieceServer. */
export interface PieceServerInit {
  /** Interface to listen on; default 127.0.0.1. */
  readonly host?: string
  /** Port; 0 (the default) picks a free one. */
  readonly port?: number
  /** Default IDLE_TIMEOUT_MS. */
  readonly idleTimeoutMs?: number
  /** Default HEADERS_TIMEOUT_MS. */
  readonly headersTimeoutMs?: number
  /** Default REQUEST_TIMEOUT_MS. */
  readonly requestTimeoutMs?: number
}

/** Collaborators of a PieceServer. */
export interface PieceServerComponents {
  readonly identity: Identity
  readonly store: PieceStore
  readonly serials: SerialStore
  /** Public key (SPKI DER base64) of the coordinator whose order limits are obeyed. */
  readonly coordinatorKey: string
  readonly labels: NodeLabels
  readonly logger: Logger
  /** Clock for order-limit expiry; default Date.now. */
  readonly now?: () => number
}

/** HTTP status for each error `name` the piece API exposes; anything else is a 500 with no details. */
const STATUS_BY_NAME: Readonly<Record<string, number>> = {
  InvalidPieceIdError: 400,
  InvalidPieceHashError: 400,
  InvalidAuditError: 400,
  PieceHashMismatchError: 400,
  PieceNotFoundError: 404,
  RouteNotFoundError: 404,
  MethodNotAllowedError: 405,
  RequestTimeoutError: 408,
  PieceExistsError: 409,
  RetainInProgressError: 409,
  PieceTooLargeError: 413,
  RequestTooLargeError: 413,
  PieceCorruptedError: 500,
  NotStartedError: 503,
  InsufficientCapacityError: 507
}

/**
 * HTTP status for an error the piece API answers with: 401 for a missing order limit or retain
 * signature, 400 for a malformed retain request, 403 for any other order-limit or retain rejection,
 * the table above for node errors, 500 for anything else.
 */
export function statusForError (err: unknown): number {
  if (err instanceof OrderLimitError) return err.reason === 'missing' ? 401 : 403
  if (err instanceof RetainRequestError) {
    if (err.reason === 'missing-signature') return 401
    return err.reason === 'malformed' || err.reason === 'future' ? 400 : 403
  }
  if (err instanceof Error && Object.hasOwn(STATUS_BY_NAME, err.name)) return STATUS_BY_NAME[err.name]
  return 500
}

function header (req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name]
  return typeof v === 'string' ? v : undefined
}

/** The audit's block number from the query; throws InvalidAuditError unless it is a plain decimal integer. */
function parseAuditBlock (query: URLSearchParams): number {
  const values = query.getAll(AUDIT_BLOCK_QUERY)
  if (values.length !== 1 || !/^(?:0|[1-9][0-9]{0,14})$/.test(values[0])) {
    throw new InvalidAuditError(`an audit names one block as ?${AUDIT_BLOCK_QUERY}=N, N a non-negative decimal integer`)
  }
  return Number(values[0])
}

/** Reads a whole request body, refusing (RequestTooLargeError) more than `limit` bytes while reading. */
async function readBodyUpTo (req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0')
  if (declared > limit) throw new RequestTooLargeError(`request body of ${declared} bytes is over the ${limit}-byte limit`)
  const chunks: Buffer[] = []
  let n = 0
  // Not destroying the request when reading stops early lets #fail answer before closing.
  for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    n += chunk.length
    if (n > limit) throw new RequestTooLargeError(`request body is over the ${limit}-byte limit`)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks, n)
}

/** The node's HTTP piece API. */
export class PieceServer {
  readonly #init: PieceServerInit
  readonly #c: PieceServerComponents
  readonly #log: Logger
  readonly #now: () => number
  #server: Server | undefined
  #address: AddressInfo | undefined
  /** A retain request is being read or run (see the module comment). */
  #retaining = false

  constructor (init: PieceServerInit, components: PieceServerComponents) {
    this.#init = init
    this.#c = components
    this.#log = components.logger
    this.#now = components.now ?? Date.now
  }

  /** The bound address; throws NotStartedError-like TypeError before start(). */
  get address (): AddressInfo {
    if (this.#address === undefined) throw new TypeError('piece server is not listening')
    return this.#address
  }

  /** Listens; resolves once bound. Idempotent. Rejects when the port can't be bound (e.g. EADDRINUSE). */
  async start (): Promise<void> {
    if (this.#server !== undefined) return
    const server = createServer((req, res) => { void this.#handle(req, res) })
    server.headersTimeout = this.#init.headersTimeoutMs ?? HEADERS_TIMEOUT_MS
    server.requestTimeout = this.#init.requestTimeoutMs ?? REQUEST_TIMEOUT_MS
    server.timeout = this.#init.idleTimeoutMs ?? IDLE_TIMEOUT_MS
    server.on('timeout', (socket: Socket) => {
      // A stalled upload's store write fails when its socket goes, which removes its temp file.
      this.#log.info('cut off a connection that stalled', { remote: socket.remoteAddress, idleMs: server.timeout })
      socket.destroy(new RequestTimeoutError(`connection idle for ${server.timeout} ms`))
    })
    server.on('clientError', (err, socket) => {
      this.#log.debug('malformed or timed-out HTTP request', { err })
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n')
      else socket.destroy()
    })
    this.#server = server
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(this.#init.port ?? 0, this.#init.host ?? '127.0.0.1', () => {
          server.off('error', reject)
          resolve()
        })
      })
    } catch (err) {
      this.#server = undefined
      throw err
    }
    this.#address = server.address() as AddressInfo
  }

  /** Stops accepting, lets in-flight requests finish for SHUTDOWN_GRACE_MS, then cuts them. Idempotent. */
  async stop (): Promise<void> {
    const server = this.#server
    if (server === undefined) return
    this.#server = undefined
    const closed = new Promise<void>((resolve) => { server.close(() => { resolve() }) })
    server.closeIdleConnections()
    let timer: NodeJS.Timeout | undefined
    const grace = new Promise<void>((resolve) => { timer = setTimeout(resolve, SHUTDOWN_GRACE_MS) })
    await Promise.race([closed, grace])
    clearTimeout(timer)
    server.closeAllConnections()
    await closed
  }

  async #handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      await this.#route(req, res)
    } catch (err) {
      this.#fail(req, res, err)
    }
  }

  async #route (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { pathname, searchParams } = new URL(req.url ?? '/', 'http://node.invalid')
    if (pathname === '/info') {
      if (req.method !== 'GET') throw new MethodNotAllowedError(['GET'], `${req.method ?? ''} is not allowed on /info`)
      return await this.#info(res)
    }
    if (pathname === RETAIN_PATH) {
      if (req.method !== 'POST') throw new MethodNotAllowedError(['POST'], `${req.method ?? ''} is not allowed on ${RETAIN_PATH}`)
      return await this.#retain(req, res)
    }
    if (pathname.startsWith('/pieces/')) {
      const rest = pathname.slice('/pieces/'.length)
      const slash = rest.indexOf('/')
      const pieceId = slash === -1 ? rest : rest.slice(0, slash)
      assertPieceId(pieceId)
      if (slash !== -1) {
        if (rest.slice(slash) !== '/audit') throw new RouteNotFoundError(`no route for ${req.method ?? ''} ${pathname}`)
        if (req.method !== 'GET') throw new MethodNotAllowedError(['GET'], `${req.method ?? ''} is not allowed on an audit`)
        return await this.#audit(req, res, pieceId, searchParams)
      }
      switch (req.method) {
        case 'PUT': return await this.#put(req, res, pieceId)
        case 'GET': return await this.#get(req, res, pieceId)
        case 'DELETE': return await this.#delete(req, res, pieceId)
        default: throw new MethodNotAllowedError(['PUT', 'GET', 'DELETE'], `${req.method ?? ''} is not allowed on a piece`)
      }
    }
    throw new RouteNotFoundError(`no route for ${req.method ?? ''} ${pathname}`)
  }

  /** Verifies the request's order limit and burns its serial; throws OrderLimitError. */
  async #authorize (req: IncomingMessage, pieceId: string, action: PieceAction): Promise<OrderLimit> {
    const limit = verifyOrderLimit(header(req, ORDER_LIMIT_HEADER), header(req, ORDER_PROOF_HEADER), {
      coordinatorKey: this.#c.coordinatorKey,
      nodeId: this.#c.identity.id,
      pieceId,
      action,
      now: this.#now()
    })
    await this.#c.serials.use(limit.serial, limit.expiresAt)
    return limit
  }

  async #put (req: IncomingMessage, res: ServerResponse, pieceId: string): Promise<void> {
    const expectedHash = header(req, PIECE_HASH_HEADER)
    if (expectedHash !== undefined) assertPieceHash(expectedHash)
    const limit = await this.#authorize(req, pieceId, 'put')
    const declared = Number(req.headers['content-length'] ?? '0')
    if (declared > limit.maxBytes) {
      throw new PieceTooLargeError(`request body of ${declared} bytes exceeds the order limit's ${limit.maxBytes} bytes`)
    }
    // Not destroying the request when the store stops reading lets #fail answer before closing.
    const source = req.iterator({ destroyOnReturn: false })
    const { size, hash } = await this.#c.store.write(pieceId, source, { maxBytes: limit.maxBytes, expectedHash })
    const receipt = signReceipt(this.#c.identity, pieceId, size, hash)
    this.#log.debug('stored piece', { pieceId, size })
    this.#sendJson(res, 201, receipt)
  }

  async #get (req: IncomingMessage, res: ServerResponse, pieceId: string): Promise<void> {
    const limit = await this.#authorize(req, pieceId, 'get')
    const info = await this.#c.store.stat(pieceId)
    if (info.size > limit.maxBytes) {
      throw new OrderLimitError('too-large', `piece ${pieceId} has ${info.size} bytes, more than the order limit's ${limit.maxBytes}`)
    }
    const gone = new AbortController()
    res.once('close', () => { gone.abort() })
    const piece = await this.#c.store.read(pieceId, { signal: gone.signal })
    const it = piece.stream[Symbol.asyncIterator]()
    // Read the first chunk before any header goes out: damage found there (always, for a piece of
    // one chunk) becomes a clean error reply rather than a cut connection.
    let next = await it.next()
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': String(piece.size),
      [PIECE_HASH_HEADER]: piece.hash
    })
    try {
      while (next.done !== true) {
        if (!res.write(next.value)) await once(res, 'drain', { signal: gone.signal })
        next = await it.next()
      }
      res.end()
    } finally {
      await it.return?.() // closes the piece file even when the client went away mid-stream
    }
  }

  /**
   * Proves the node holds block N of a piece: the block as stored and its inclusion proof, which the
   * auditor checks against the root it recorded. The bytes sent are the block; the proof is overhead,
   * so the limit's maxBytes bounds the block.
   */
  async #audit (req: IncomingMessage, res: ServerResponse, pieceId: string, query: URLSearchParams): Promise<void> {
    const block = parseAuditBlock(query)
    const limit = await this.#authorize(req, pieceId, 'audit')
    const gone = new AbortController()
    res.once('close', () => { gone.abort() })
    const audit = await this.#c.store.auditBlock(pieceId, block, { signal: gone.signal })
    if (audit.block.length > limit.maxBytes) {
      throw new OrderLimitError('too-large', `block ${block} of piece ${pieceId} has ${audit.block.length} bytes, more than the order limit's ${limit.maxBytes}`)
    }
    const body = Buffer.concat([audit.block, ...audit.proof])
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': String(body.length),
      [PIECE_SIZE_HEADER]: String(audit.size),
      [AUDIT_BLOCK_BYTES_HEADER]: String(audit.block.length)
    })
    res.end(body)
  }

  /**
   * Garbage collection: checks the coordinator's signed retain request and deletes the pieces it does
   * not keep. A walk over many pieces can take longer than the idle timeout before the reply's first
   * byte, so the connection's idle timeout is lifted while it runs; a client that goes away stops it.
   */
  async #retain (req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.#retaining) throw new RetainInProgressError('a retain request is already being handled; send it again later')
    this.#retaining = true
    const socket = req.socket
    let liftedTimeout = false
    try {
      const body = await readBodyUpTo(req, MAX_RETAIN_BODY_BYTES)
      const request = verifyRetainRequest(body, header(req, SIGNATURE_HEADER), {
        coordinatorKey: this.#c.coordinatorKey,
        nodeId: this.#c.identity.id,
        now: this.#now()
      })
      const filter = BloomFilter.decode(request.filter)
      const gone = new AbortController()
      res.once('close', () => { gone.abort() })
      socket.setTimeout(0)
      liftedTimeout = true
      const result = await this.#c.store.retain(filter, request.createdBefore, { signal: gone.signal })
      this.#log.info('garbage collected: deleted the pieces not in the retain set', { ...result, createdBefore: request.createdBefore })
      this.#sendJson(res, 200, result)
    } finally {
      this.#retaining = false
      if (liftedTimeout && !socket.destroyed) socket.setTimeout(this.#init.idleTimeoutMs ?? IDLE_TIMEOUT_MS)
    }
  }

  async #delete (req: IncomingMessage, res: ServerResponse, pieceId: string): Promise<void> {
    await this.#authorize(req, pieceId, 'delete')
    await this.#c.store.delete(pieceId)
    this.#log.debug('deleted piece', { pieceId })
    res.writeHead(204).end()
  }

  async #info (res: ServerResponse): Promise<void> {
    const capacity = await this.#c.store.capacity()
    const info: NodeInfo = {
      id: this.#c.identity.id,
      publicKey: this.#c.identity.publicKey,
      labels: this.#c.labels,
      capacity,
      pieces: this.#c.store.usage().pieces,
      version: NODE_AGENT_VERSION
    }
    this.#sendJson(res, 200, info)
  }

  #sendJson (res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
    const body = Buffer.from(JSON.stringify(value))
    res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': String(body.length) })
    res.end(body)
  }

  /** The one place an error becomes an HTTP response. */
  #fail (req: IncomingMessage, res: ServerResponse, err: unknown): void {
    const status = statusForError(err)
    const e = err instanceof Error ? err : new Error(String(err))
    const known = status !== 500 || e.name === 'PieceCorruptedError'
    if (res.headersSent || req.socket.destroyed) {
      // Mid-response (e.g. corruption found while streaming a piece) the only honest signal left is to
      // cut the connection, so the client sees a body shorter than its Content-Length. A client that
      // went away (or was cut off for stalling) lands here too, which is routine.
      if (e.name === 'PieceCorruptedError') this.#log.error('cut off a download: the piece is corrupted', { url: req.url, err: e })
      else this.#log.debug('connection ended mid-request', { method: req.method, url: req.url, err: e })
      res.destroy()
      return
    }
    if (status >= 500) this.#log.error('piece request failed', { method: req.method, url: req.url, err: e })
    else this.#log.debug('piece request refused', { method: req.method, url: req.url, status, err: e })
    const body: ErrorBody = {
      error: known
        ? { name: e.name, message: e.message, reason: (e as { reason?: string }).reason }
        : { name: 'InternalError', message: 'the node failed to handle the request; see its log', reason: 'internal' }
    }
    const headers: Record<string, string> = {}
    if (err instanceof MethodNotAllowedError) headers.allow = err.allow.join(', ')
    if (!req.complete) {
      // Refused before the body was read: read at most MAX_DRAIN_BYTES more, then close.
      headers.connection = 'close'
      let drained = 0
      req.on('data', (chunk: Buffer) => {
        drained += chunk.length
        if (drained > MAX_DRAIN_BYTES) req.socket.destroy()
      })
      req.on('error', () => {})
      req.resume()
    }
    this.#sendJson(res, status, body, headers)
  }
}
