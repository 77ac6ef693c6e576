/**
 * HTTP client for nodes' piece API: upload a piece (hashing it as it goes out and checking the node's
 * signed receipt), download a piece into a caller's buffer (verifying its Merkle root), delete one.
 * Every call is bounded by a connect timeout, an idle timeout and the caller's signal.
 */
import { Agent, request, type IncomingMessage } from 'node:http'
import { MerkleHasher } from '../crypto/merkle.js'
import { ORDER_LIMIT_HEADER, ORDER_PROOF_HEADER } from '../crypto/order-limit.js'
import { type PieceReceipt, verifyReceipt } from '../node/protocol.js'
import { PieceTransferError } from './errors.js'
import type { PieceGrant, PieceTransport } from './broker.js'

/** A node that doesn't accept a connection in this long is treated as down (loopback answers in µs; WAN in < 1 s). */
export const CONNECT_TIMEOUT_MS = 3000
/** A transfer that moves no byte for this long is cut off: a hung node must not hang a read. */
export const IDLE_TIMEOUT_MS = 15_000
/** Idle pooled connections to nodes are closed after this (nodes cut idle connections after 30 s). */
export const FREE_SOCKET_TIMEOUT_MS = 10_000
/** Chunk written per socket write: large enough for throughput, small enough to interleave hashing. */
const WRITE_CHUNK = 1024 * 1024

export interface PieceClientInit {
  connectTimeoutMs?: number
  idleTimeoutMs?: number
}

export class PieceClient implements PieceTransport {
  readonly #agent: Agent
  readonly #connectTimeoutMs: number
  readonly #idleTimeoutMs: number

  constructor (init: PieceClientInit = {}) {
    this.#connectTimeoutMs = init.connectTimeoutMs ?? CONNECT_TIMEOUT_MS
    this.#idleTimeoutMs = init.idleTimeoutMs ?? IDLE_TIMEOUT_MS
    this.#agent = new Agent({ keepAlive: true, maxSockets: 64, scheduling: 'fifo' })
  }

  /**
   * Sends `data` as piece `grant.pieceId`, computing its Merkle root on the way, and checks the node's
   * receipt (signature, size, root). Returns the root. Throws PieceTransferError on any failure.
   */
  async upload (grant: PieceGrant, data: Buffer, signal?: AbortSignal): Promise<string> {
    const hasher = new MerkleHasher()
    const res = await this.#send(grant, 'PUT', signal, data.length, async (req) => {
      for (let off = 0; off < data.length; off += WRITE_CHUNK) {
        const chunk = data.subarray(off, Math.min(off + WRITE_CHUNK, data.length))
        hasher.update(chunk)
        if (!req.write(chunk)) await new Promise<void>((resolve, reject) => {
          const onDrain = (): void => { req.off('error', onError); resolve() }
          const onError = (err: Error): void => { req.off('drain', onDrain); reject(err) }
          req.once('drain', onDrain)
          req.once('error', onError)
        })
      }
      req.end()
    })
    const body = await readBody(res, 64 * 1024, grant.nodeId)
    if (res.statusCode !== 201) throw refused(grant.nodeId, res.statusCode, body)
    const hash = hasher.digest()
    let receipt: PieceReceipt
    try {
      receipt = JSON.parse(body.toString('utf8')) as PieceReceipt
    } catch (err) {
      throw new PieceTransferError(grant.nodeId, 'bad-receipt', `node ${grant.nodeId} sent a receipt that is not JSON`, { cause: err })
    }
    if (receipt.pieceId !== grant.pieceId || receipt.size !== data.length || receipt.hash !== hash || receipt.nodeId !== grant.nodeId ||
        typeof receipt.signature !== 'string' || !verifyReceipt(receipt, grant.nodePublicKey)) {
      throw new PieceTransferError(grant.nodeId, 'bad-receipt', `node ${grant.nodeId} sent a receipt that does not match the piece it was sent`)
    }
    return hash
  }

  /**
   * Fetches piece `grant.pieceId` into `into` (exactly `into.length` bytes) and verifies its Merkle
   * root against `expectedHash`. Throws PieceTransferError ('corrupt' for wrong bytes) on any failure;
   * `into` then holds garbage.
   */
  async download (grant: PieceGrant, into: Buffer, expectedHash: string, signal?: AbortSignal): Promise<void> {
    const res = await this.#send(grant, 'GET', signal, undefined, async (req) => { req.end() })
    if (res.statusCode !== 200) throw refused(grant.nodeId, res.statusCode, await readBody(res, 64 * 1024, grant.nodeId))
    const hasher = new MerkleHasher()
    let offset = 0
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        if (offset + chunk.length > into.length) {
          res.destroy()
          throw new PieceTransferError(grant.nodeId, 'corrupt', `node ${grant.nodeId} sent more than the ${into.length} bytes of piece ${grant.pieceId}`)
        }
        chunk.copy(into, offset)
        hasher.update(chunk)
        offset += chunk.length
      }
    } catch (err) {
      if (err instanceof PieceTransferError) throw err
      throw transportError(grant.nodeId, err, signal)
    }
    if (offset !== into.length) {
      throw new PieceTransferError(grant.nodeId, 'corrupt', `node ${grant.nodeId} sent ${offset} of the ${into.length} bytes of piece ${grant.pieceId}`)
    }
    if (hasher.digest() !== expectedHash) {
      throw new PieceTransferError(grant.nodeId, 'corrupt', `node ${grant.nodeId} sent bytes for piece ${grant.pieceId} that do not match its hash`)
    }
  }

  /** Deletes a piece; a piece the node doesn't have counts as deleted. */
  async delete (grant: PieceGrant, signal?: AbortSignal): Promise<void> {
    const res = await this.#send(grant, 'DELETE', signal, undefined, async (req) => { req.end() })
    const body = await readBody(res, 64 * 1024, grant.nodeId)
    if (res.statusCode !== 204 && res.statusCode !== 404) throw refused(grant.nodeId, res.statusCode, body)
  }

  /** Closes pooled connections; safe to call twice. */
  close (): void {
    this.#agent.destroy()
  }

  async #send (grant: PieceGrant, method: string, signal: AbortSignal | undefined, length: number | undefined,
    write: (req: ReturnType<typeof request>) => Promise<void>): Promise<IncomingMessage> {
    signal?.throwIfAborted()
    const url = new URL(`/pieces/${grant.pieceId}`, grant.nodeUrl)
    const headers: Record<string, string | number> = {
      [ORDER_LIMIT_HEADER]: grant.orderLimit,
      [ORDER_PROOF_HEADER]: grant.orderProof
    }
    if (length !== undefined) headers['content-length'] = length
    return await new Promise<IncomingMessage>((resolve, reject) => {
      let settled = false
      const req = request(url, { method, headers, agent: this.#agent, signal })
      const connectTimer = setTimeout(() => {
        req.destroy(new PieceTransferError(grant.nodeId, 'timeout', `node ${grant.nodeId} at ${grant.nodeUrl} did not accept a connection within ${this.#connectTimeoutMs} ms`))
      }, this.#connectTimeoutMs)
      req.once('socket', (socket) => {
        socket.setTimeout(this.#idleTimeoutMs)
        const onTimeout = (): void => {
          req.destroy(new PieceTransferError(grant.nodeId, 'timeout', `node ${grant.nodeId} stalled for ${this.#idleTimeoutMs} ms`))
        }
        socket.on('timeout', onTimeout)
        // Back in the pool, the socket times out (and the agent closes it) before the node's own idle
        // cut-off would: the client closing first avoids reusing a socket the node is closing.
        req.once('close', () => { socket.off('timeout', onTimeout); socket.setTimeout(FREE_SOCKET_TIMEOUT_MS) })
        if (socket.connecting) socket.once('connect', () => { clearTimeout(connectTimer) })
        else clearTimeout(connectTimer)
      })
      req.once('error', (err) => {
        clearTimeout(connectTimer)
        if (!settled) { settled = true; reject(transportError(grant.nodeId, err, signal)) }
      })
      req.once('response', (res) => {
        clearTimeout(connectTimer)
        settled = true
        resolve(res)
      })
      write(req).catch((err) => { req.destroy(err) })
    })
  }
}

function transportError (nodeId: string, err: unknown, signal?: AbortSignal): PieceTransferError {
  if (err instanceof PieceTransferError) return err
  if (signal?.aborted === true) return new PieceTransferError(nodeId, 'aborted', `transfer with node ${nodeId} was cancelled`, { cause: err })
  const code = (err as { code?: string }).code ?? ''
  return new PieceTransferError(nodeId, 'unreachable', `node ${nodeId} is unreachable (${code !== '' ? code : (err as Error).message})`, { cause: err })
}

function refused (nodeId: string, status: number | undefined, body: Buffer): PieceTransferError {
  let message = body.toString('utf8').slice(0, 500)
  try {
    const parsed = JSON.parse(message) as { error?: { name?: string, message?: string } }
    if (parsed.error?.message !== undefined) message = `${parsed.error.name ?? 'Error'}: ${parsed.error.message}`
  } catch {}
  return new PieceTransferError(nodeId, 'refused', `node ${nodeId} refused (HTTP ${status ?? '?'}): ${message}`)
}

async function readBody (res: IncomingMessage, limit: number, nodeId: string): Promise<Buffer> {
  const chunks: Buffer[] = []
  let n = 0
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      n += chunk.length
      if (n > limit) { res.destroy(); throw new PieceTransferError(nodeId, 'bad-receipt', `node ${nodeId} sent an over-long reply`) }
      chunks.push(chunk)
    }
  } catch (err) {
    throw transportError(nodeId, err)
  }
  return Buffer.concat(chunks)
}
