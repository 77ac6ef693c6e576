/**
 * Small helpers for node:http servers: bounded JSON bodies and JSON replies. Errors are turned into
 * responses by each server's single error handler, not here.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'

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
