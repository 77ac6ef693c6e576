/**
 * A client of the coordinator's HTTP API, used by the CLI (and tests). Object bodies stream both ways;
 * errors carry the server's error name and message.
 */
import { Agent, request, type IncomingMessage } from 'node:http'
import type { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'

/** The API answered with an error; `errorName` is the server's error class (NoSuchObjectError, …). */
export class ApiError extends Error {
  override readonly name = 'ApiError'
  readonly status: number
  readonly errorName: string

  constructor (status: number, errorName: string, message: string) {
    super(message)
    this.status = status
    this.errorName = errorName
  }
}

/** The coordinator could not be reached at all. */
export class UnreachableError extends Error {
  override readonly name = 'UnreachableError'
}

export interface ObjectInfo {
  bucket: string
  key: string
  size: number
  etag: string
  contentType: string
  segments: number
  inline: boolean
  createdAt: string
}

/** One node in `GET /api/status`. */
export interface NodeStatus {
  id: string
  url: string
  provider: string
  region: string
  operator: string
  online: boolean
  capacityBytes: number
  usedBytes: number
  freeBytes: number
  pieces: number
  pieceBytes: number
  failures: number
  standing?: string
  standingReason?: string
  exitState?: string
  audits?: number
  auditFailures?: number
  auditScore?: number
  uptimeScore?: number
}

export interface SpreadEntry { nodes: number, online: number, pieces: number, bytes: number }

/** `GET /api/status`. */
export interface StatusResult {
  nodes: NodeStatus[]
  spread: { provider: Record<string, SpreadEntry>, region: Record<string, SpreadEntry> }
  objects: number
  bytes: number
  segments: number
  underPlacedSegments: number
}

export interface PieceLocation {
  index: number
  nodeId: string
  size: number
  provider?: string
  region?: string
  operator?: string
  online: boolean
}

/** `GET /api/objects/BUCKET/KEY?locate`. */
export interface LocateResult {
  object: ObjectInfo
  segments: Array<{ index: number, size: number, k: number, m: number, underPlaced: boolean, placementNote: string, pieces: PieceLocation[] }>
}

export class CoordinatorClient {
  readonly url: string
  readonly #agent = new Agent({ keepAlive: true })

  constructor (url: string) {
    this.url = url.replace(/\/+$/, '')
  }

  close (): void {
    this.#agent.destroy()
  }

  async status (): Promise<StatusResult> {
    return await this.#json('GET', '/api/status')
  }

  /** Starts a graceful exit of a node. */
  async exitNode (nodeId: string): Promise<{ node: string, exitState: string }> {
    return await this.#json('POST', `/api/nodes/${encodeURIComponent(nodeId)}/exit`)
  }

  /** Runs one audit round, repair pass or GC pass now and returns its report. */
  async runDurability (task: 'audit' | 'repair' | 'gc'): Promise<any> {
    return await this.#json('POST', `/api/durability/${task}`)
  }

  async durability (): Promise<any> {
    return await this.#json('GET', '/api/durability')
  }

  async risk (bucket?: string): Promise<any> {
    return await this.#json('GET', bucket === undefined ? '/api/risk' : `/api/risk?bucket=${encodeURIComponent(bucket)}`)
  }

  async outage (dimension: string, value: string): Promise<any> {
    return await this.#json('GET', `/api/risk/outage?${encodeURIComponent(dimension)}=${encodeURIComponent(value)}`)
  }

  async listKeys (): Promise<Array<{ accessKeyId: string, account: string, createdAt: string }>> {
    return (await this.#json('GET', '/api/keys')).keys
  }

  async createKey (account: string): Promise<{ accessKeyId: string, secretAccessKey: string, account: string }> {
    return await this.#json('POST', '/api/keys', { account })
  }

  async deleteKey (accessKeyId: string): Promise<void> {
    await this.#json('DELETE', `/api/keys/${encodeURIComponent(accessKeyId)}`)
  }

  async listBuckets (): Promise<any[]> {
    return (await this.#json('GET', '/api/buckets')).buckets
  }

  async createBucket (name: string, settings?: unknown): Promise<any> {
    return (await this.#json('PUT', `/api/buckets/${encodeURIComponent(name)}`, settings)).bucket
  }

  async deleteBucket (name: string): Promise<void> {
    await this.#json('DELETE', `/api/buckets/${encodeURIComponent(name)}`)
  }

  async list (bucket: string, options: { prefix?: string, delimiter?: string, startAfter?: string, limit?: number } = {}): Promise<{ objects: ObjectInfo[], prefixes: string[], truncated: boolean, nextStartAfter: string | null }> {
    const q = new URLSearchParams()
    if (options.prefix !== undefined) q.set('prefix', options.prefix)
    if (options.delimiter !== undefined) q.set('delimiter', options.delimiter)
    if (options.startAfter !== undefined) q.set('startAfter', options.startAfter)
    if (options.limit !== undefined) q.set('limit', String(options.limit))
    return await this.#json('GET', `/api/objects/${encodeURIComponent(bucket)}?${q.toString()}`)
  }

  /** Uploads `body` (exactly `size` bytes when given) as bucket/key. */
  async put (bucket: string, key: string, body: Readable, options: { size?: number, contentType?: string, signal?: AbortSignal } = {}): Promise<{ object: ObjectInfo, underPlacedSegments: number }> {
    const headers: Record<string, string | number> = { 'content-type': options.contentType ?? 'application/octet-stream' }
    if (options.size !== undefined) headers['content-length'] = options.size
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request({ ...this.#target(objectPath(bucket, key)), method: 'PUT', headers, agent: this.#agent, signal: options.signal })
      req.once('response', resolve)
      req.once('error', (err) => { reject(this.#transport(err)) })
      pipeline(body, req).catch((err) => { req.destroy(err) })
    })
    return await parse(res)
  }

  /** Streams bucket/key into `out`; resolves with the object's size once every byte arrived. */
  async get (bucket: string, key: string, out: Writable, options: { onHeaders?: (size: number) => void, onData?: (n: number) => void, signal?: AbortSignal } = {}): Promise<number> {
    const res = await this.#send('GET', objectPath(bucket, key), undefined, options.signal)
    if (res.statusCode !== 200) await parse(res)
    const size = Number(res.headers['content-length'])
    options.onHeaders?.(size)
    let received = 0
    res.on('data', (chunk: Buffer) => { received += chunk.length; options.onData?.(chunk.length) })
    await pipeline(res, out)
    if (received !== size) throw new ApiError(502, 'IncompleteBodyError', `download ended after ${received} of ${size} bytes; retry`)
    return size
  }

  /** Where an object's pieces are: per segment, each piece's node, provider, region and liveness. */
  async locate (bucket: string, key: string): Promise<LocateResult> {
    return await this.#json('GET', `${objectPath(bucket, key)}?locate`)
  }

  async delete (bucket: string, key: string): Promise<void> {
    await this.#json('DELETE', objectPath(bucket, key))
  }

  async #json (method: string, path: string, body?: unknown): Promise<any> {
    const res = await this.#send(method, path, body === undefined ? undefined : Buffer.from(JSON.stringify(body)))
    return await parse(res)
  }

  async #send (method: string, path: string, body?: Buffer, signal?: AbortSignal): Promise<IncomingMessage> {
    return await new Promise<IncomingMessage>((resolve, reject) => {
      const headers: Record<string, string | number> = {}
      if (body !== undefined) { headers['content-type'] = 'application/json'; headers['content-length'] = body.length }
      const req = request({ ...this.#target(path), method, headers, agent: this.#agent, signal })
      req.once('response', resolve)
      req.once('error', (err) => { reject(this.#transport(err)) })
      req.end(body)
    })
  }

  /** Request options with `path` sent as is (a URL string would have its dot segments resolved). */
  #target (path: string): { protocol: string, hostname: string, port: string, path: string } {
    const base = new URL(this.url)
    return { protocol: base.protocol, hostname: base.hostname, port: base.port, path: base.pathname.replace(/\/$/, '') + path }
  }

  #transport (err: Error): Error {
    const code = (err as { code?: string }).code
    if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH') {
      return new UnreachableError(`cannot reach the coordinator at ${this.url} (${code}); is the network running (\`shoal up\`)?`, { cause: err })
    }
    return err
  }
}

/**
 * The API path of an object. Keys are opaque: every segment is percent-encoded, and "." and ".."
 * segments too, so that no URL normalisation can turn "../../etc/passwd" into another path.
 */
export function objectPath (bucket: string, key: string): string {
  const segment = (s: string): string => s === '.' ? '%2E' : s === '..' ? '%2E%2E' : encodeURIComponent(s)
  return `/api/objects/${encodeURIComponent(bucket)}/${key.split('/').map(segment).join('/')}`
}

async function parse (res: IncomingMessage): Promise<any> {
  const chunks: Buffer[] = []
  for await (const chunk of res as AsyncIterable<Buffer>) chunks.push(chunk)
  const text = Buffer.concat(chunks).toString('utf8')
  const status = res.statusCode ?? 0
  let body: any
  try {
    body = text === '' ? {} : JSON.parse(text)
  } catch {
    body = undefined
  }
  if (status >= 400) {
    throw new ApiError(status, body?.error?.name ?? 'HttpError', body?.error?.message ?? `HTTP ${status}: ${text.slice(0, 200)}`)
  }
  return body ?? {}
}
