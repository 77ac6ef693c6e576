/**
 * The benchmark's baseline: the simplest "node-style" object server, with none of Shoal's work on the
 * data path (no encryption, no erasure coding, no fan-out, no metadata). One node:http server that
 * streams a PUT body to a file (temporary file, fsync, rename: what a node's piece store does for one
 * piece) and streams the file back on GET. bench/run.ts starts it as a separate process, so its CPU is
 * accounted apart from the client's, as a Shoal node's is. It serves one large object per round and
 * thousands of small ones (distinct names, many PUTs in flight at once over keep-alive connections).
 *
 * Usage: node dist/bench/baseline-server.js --dir DIR
 * Prints one JSON line `{"event":"ready","url","pid"}` on stdout when listening; exits on SIGINT,
 * SIGTERM, or when its stdin closes (the parent went away).
 */
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, open, rename, rm, stat } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { parseArgs } from 'node:util'

/** Object names are one path segment of these characters, so a name can never leave DIR. */
const NAME_PATTERN = /^[A-Za-z0-9._-]{1,128}$/
/**
 * Idle keep-alive connections are kept this long (Node's default is 5 s). The bench's small-object
 * client reuses up to 32 connections; a longer server timeout means the server never closes one just
 * as the client reuses it (an ECONNRESET race), so no request fails for a reason that is not the server's.
 */
const KEEP_ALIVE_TIMEOUT_MS = 60_000

/** Distinguishes the temporary files of PUTs in flight at the same time, even to the same name. */
let uploads = 0

class BadRequestError extends Error {
  override readonly name = 'BadRequestError'
}

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { dir: { type: 'string' }, port: { type: 'string', default: '0' } } })
  if (values.dir === undefined) throw new BadRequestError('--dir DIR is required')
  const dir = values.dir
  await mkdir(dir, { recursive: true })

  const server = createServer((req, res) => {
    handle(dir, req, res).catch((err: unknown) => {
      const status = err instanceof BadRequestError ? 400 : (err as NodeJS.ErrnoException).code === 'ENOENT' ? 404 : 500
      if (!res.headersSent) res.writeHead(status, { 'content-type': 'text/plain' }).end(String((err as Error).message ?? err))
      else res.destroy()
    })
  })
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS
  server.listen(Number(values.port), '127.0.0.1')
  await new Promise<void>((resolve, reject) => { server.once('listening', resolve); server.once('error', reject) })
  const { port } = server.address() as AddressInfo
  process.stdout.write(JSON.stringify({ event: 'ready', url: `http://127.0.0.1:${port}`, pid: process.pid }) + '\n')

  let stopping = false
  const stop = (): void => {
    if (stopping) return
    stopping = true
    // stdin is still open (that is how we notice the parent going away): drop it, or the loop stays alive.
    process.stdin.destroy()
    server.close()
    server.closeAllConnections()
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  // The parent holds our stdin open; when it goes away (even by SIGKILL) the pipe closes and we stop.
  process.stdin.on('end', stop).on('error', stop).resume()
}

async function handle (dir: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const name = decodeURIComponent((req.url ?? '/').slice(1).split('?')[0] ?? '')
  if (!NAME_PATTERN.test(name)) throw new BadRequestError('path must be /NAME')
  const file = join(dir, name)
  if (req.method === 'PUT') {
    const temp = `${file}.${process.pid}-${++uploads}.tmp`
    try {
      await pipeline(req, createWriteStream(temp))
      // Durable before acknowledged, as a node's piece store does: fsync the data, then rename.
      const handle = await open(temp, 'r+')
      try { await handle.sync() } finally { await handle.close() }
      await rename(temp, file)
    } catch (err) {
      await rm(temp, { force: true })
      throw err
    }
    const { size } = await stat(file)
    const text = JSON.stringify({ name, size })
    res.writeHead(201, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text)
  } else if (req.method === 'GET') {
    const { size } = await stat(file)
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size })
    await pipeline(createReadStream(file), res)
  } else {
    throw new BadRequestError(`${req.method ?? '?'} is not supported`)
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`baseline-server: ${(err as Error).stack ?? String(err)}\n`)
  process.exitCode = 1
})
