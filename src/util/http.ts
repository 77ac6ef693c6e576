/**
 * Small helpers for node:http servers: bounded JSON bodies and JSON replies. Errors are turned into
 * responses by each server's single error handler, not here.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { PassThrough } from 'node:stream'

/** A request that is malformed in a way the client can fix; the message says how. */
export class BadRequestError extends Error {
  override readonly name = 'BadRequestError'
}

/** A request body larger than the endpoint accepts. */
export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError'
}

/** Reads a whole (small) body, refusing more than `limit` bytes while reading. */
export async function readBody (req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > limit) throw new BodyTooLargeError(`request body of ${declared} bytes is over the ${limit}-byte limit`)
  const chunks: Buffer[] = []
  let n = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    n += chunk.length
    if (n > limit) throw new BodyTooLargeError(`request body is over the ${limit}-byte limit`)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

/** Reads and parses a JSON body (empty body → undefined). Throws BadRequestError on invalid JSON. */
export async function readJson (req: IncomingMessage, limit: number): Promise<unknown> {
  const body = await readBody(req, limit)
  if (body.length === 0) return undefined
  try {
    return JSON.parse(body.toString('utf8'))
  } catch (err) {
    throw new BadRequestError('request body is not valid JSON', { cause: err })
  }
}

/** Sends a JSON reply. */
export function sendJson (res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

/** Decodes one percent-encoded path segment; throws BadRequestError on bad encoding. */
export function decodePathPart (part: string): string {
  try {
    return decodeURIComponent(part)
  } catch (err) {
    throw new BadRequestError(`path contains bad percent-encoding: ${part.slice(0, 100)}`, { cause: err })
  }
}

/** How long an idle keep-alive connection stays open on Shoal's servers. */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000

/** Settings every Shoal HTTP server shares: bodies of any size, bounded header wait and idle keep-alive. */
export function createHttpServer (handler: (req: IncomingMessage, res: ServerResponse) => void, options: { maxHeaderSize?: number } = {}): Server {
  const server = createServer({ maxHeaderSize: options.maxHeaderSize ?? 16 * 1024 }, handler)
  server.requestTimeout = 0 // uploads of any size; a stalled client is bounded by the headers and keep-alive timeouts
  // Idle keep-alive connections are kept longer than clients typically keep them (SDK pools reuse a
  // socket whenever they like): a server closing one just as a client reuses it fails that request
  // with EPIPE/ECONNRESET, which the bench hit with a 5 s timeout. 65 s is what load balancers use.
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1000
  // An Expect other than 100-continue (RFC 9110 §10.1.1 lets a server answer 417) would get node's
  // automatic 417; S3 ignores such an expectation and serves the request, and so do Shoal's servers.
  server.on('checkExpectation', handler)
  return server
}

/**
 * A listening HTTP endpoint with an idempotent lifecycle: `start` listens on host:port (0 = any free
 * port) and rejects when the port is taken; `stop` closes every connection and is safe to call twice.
 */
export class HttpEndpoint {
  readonly #host: string
  readonly #port: number
  readonly #handler: (req: IncomingMessage, res: ServerResponse) => void
  #server: Server | undefined

  constructor (host: string, port: number, handler: (req: IncomingMessage, res: ServerResponse) => void) {
    this.#host = host
    this.#port = port
    this.#handler = handler
  }

  async start (): Promise<string> {
    const server = createHttpServer(this.#handler)
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.#port, this.#host, () => { server.off('error', reject); resolve() })
    })
    this.#server = server
    return this.url
  }

  /** http://host:port; throws when not listening. */
  get url (): string {
    const addr = this.#server?.address() as AddressInfo | null | undefined
    if (addr == null) throw new Error('the server is not listening')
    return `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`
  }

  async stop (): Promise<void> {
    const server = this.#server
    if (server === undefined) return
    this.#server = undefined
    server.closeAllConnections()
    await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  }
}

/** An AbortSignal that fires when the client goes away before the response is finished. */
export function abortOnClose (req: IncomingMessage, res: ServerResponse): AbortSignal {
  const ac = new AbortController()
  const onClose = (): void => { if (!res.writableFinished) ac.abort(new Error('client disconnected')) }
  res.once('close', onClose)
  req.once('aborted', onClose)
  return ac.signal
}

/** A refused request with at most this much body left is read to its end so the client sees the error reply. */
export const DRAIN_LIMIT = 64 * 1024 * 1024

/**
 * Sends an error reply for a request whose body may not have been read. Clients only read the reply
 * once they finished sending, so a small remainder is read and discarded first; for a large one the
 * reply goes out with `connection: close` and the connection is cut after it.
 */
export function replyAfterBody (req: IncomingMessage, res: ServerResponse, reply: () => void): void {
  const once = (): void => { if (!res.destroyed && !res.headersSent) reply() }
  const remaining = Number(req.headers['content-length'] ?? 0) - req.socket.bytesRead
  if (req.complete || req.destroyed) {
    once()
  } else if (remaining <= DRAIN_LIMIT) {
    req.unpipe()
    req.once('end', once)
    req.once('close', once)
    req.resume()
  } else {
    res.setHeader('connection', 'close')
    once()
    res.once('finish', () => { req.destroy() })
  }
}

/**
 * Streams a body whose first chunk has already been fetched (so a failure before any byte could still
 * become a clean error reply). A failure after the headers went out cuts the connection, so the client
 * sees a short body, never a silently truncated one; `onError` is told. Each chunk is flushed before
 * the next is asked for, so the body may reuse its buffers (GetOptions.reuseBuffers).
 */
export async function streamBody (res: ServerResponse, it: AsyncIterator<Buffer>, first: IteratorResult<Buffer>, onError: (err: unknown) => void): Promise<void> {
  let next = first
  try {
    while (next.done !== true) {
      // Wait until the chunk is handed to the kernel: the body may reuse its memory for the next chunk.
      await new Promise<void>((resolve) => {
        const done = (): void => { res.off('close', done); resolve() }
        res.once('close', done)
        res.write(next.value, done)
      })
      if (res.destroyed) break
      next = await it.next()
    }
    res.end()
  } catch (err) {
    onError(err)
    res.destroy(err as Error)
  } finally {
    await it.return?.()
  }
}

/** A request body handed to a consumer that may stop early. */
export interface PipedBody {
  readonly stream: PassThrough
  /** Fires when the client goes away. */
  readonly signal: AbortSignal
  /** Disconnects the request from the stream (after a refusal), so the error reply can drain the rest. */
  detach(): void
}

/**
 * Pipes a request body through a pass-through: when the consumer stops early the request can be
 * unpiped and drained (see replyAfterBody); a client that hangs up mid-body ends the stream with
 * `disconnected()` (pipe() forwards no error, and the consumer would otherwise wait forever).
 */
export function pipeBody (req: IncomingMessage, res: ServerResponse, disconnected: () => Error): PipedBody {
  const signal = abortOnClose(req, res)
  const stream = new PassThrough({ highWaterMark: BODY_BUFFER })
  req.pipe(stream)
  req.once('error', (err) => { stream.destroy(err) })
  signal.addEventListener('abort', () => { if (!req.complete) stream.destroy(disconnected()) }, { once: true })
  return { stream, signal, detach: () => { req.unpipe(stream) } }
}

/** Bytes buffered between an upload's socket and its consumer (1 MiB: a few socket reads). */
const BODY_BUFFER = 1024 * 1024
