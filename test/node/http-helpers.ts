/** Raw HTTP for node tests: one request, the whole reply, no keep-alive. */
import { type IncomingHttpHeaders, request } from 'node:http'

export interface Reply {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
}

export async function send (url: string, options: { method?: string, headers?: Record<string, string>, body?: Buffer } = {}): Promise<Reply> {
  return await new Promise((resolve, reject) => {
    const headers = { ...options.headers }
    if (options.body !== undefined) headers['content-length'] = String(options.body.length)
    // No keep-alive: a pooled connection the server has not yet marked idle would hold up its stop() for the grace period.
    const req = request(url, { method: options.method ?? 'GET', headers, agent: false }, (res) => {
      const parts: Buffer[] = []
      res.on('data', (c: Buffer) => parts.push(c))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(options.body)
  })
}

/** The `error` object of a node's JSON error reply. */
export function errorOf (reply: Reply): { name: string, reason?: string, message: string } {
  return JSON.parse(reply.body.toString('utf8')).error
}
