/**
 * A small JSON-over-HTTP client on node:http/node:https for the node's calls to its coordinator
 * (identity, heartbeats). Every call is bounded: by the caller's signal and by a response size limit.
 */
import { request as httpRequestRaw } from 'node:http'
import { request as httpsRequestRaw } from 'node:https'

/**
 * Largest coordinator response the node reads: identity and heartbeat replies are a few hundred bytes,
 * so 64 KiB is generous while keeping a misbehaving server from filling memory.
 */
export const MAX_RESPONSE_BYTES = 64 * 1024

/** An HTTP response read whole. */
export interface HttpResponse {
  readonly status: number
  readonly body: Buffer
}

/** Options of httpRequest. */
export interface HttpRequestOptions {
  readonly method?: string
  readonly headers?: Record<string, string>
  readonly body?: Uint8Array
  /** Aborting (e.g. AbortSignal.timeout) destroys the request; the call rejects with the signal's reason. */
  readonly signal?: AbortSignal
}

/**
 * Sends one request and reads the whole response. Rejects on connection errors, on abort, and with a
 * RangeError when the response exceeds MAX_RESPONSE_BYTES. Any status resolves; callers check it.
 */
export async function httpRequest (url: string, options: HttpRequestOptions = {}): Promise<HttpResponse> {
  const target = new URL(url)
  const send = target.protocol === 'https:' ? httpsRequestRaw : httpRequestRaw
  if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new TypeError(`unsupported URL protocol ${target.protocol}`)
  options.signal?.throwIfAborted()
  return await new Promise<HttpResponse>((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers }
    if (options.body !== undefined) headers['content-length'] = String(options.body.length)
    const req = send(target, { method: options.method ?? 'GET', headers, signal: options.signal }, (res) => {
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (chunk: Buffer) => {
        size += chunk.length
        if (size > MAX_RESPONSE_BYTES) {
          req.destroy(new RangeError(`response from ${target.origin} exceeds ${MAX_RESPONSE_BYTES} bytes`))
          return
        }
        chunks.push(chunk)
      })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }) })
      res.on('error', reject)
    })
    req.on('error', (err) => {
      reject(options.signal?.aborted === true ? options.signal.reason : err)
    })
    req.end(options.body)
  })
}
