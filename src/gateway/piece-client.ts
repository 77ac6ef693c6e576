/**
 * HTTP client for nodes' piece API: upload a piece (hashing it as it goes out and checking the node's
 * signed receipt), download a piece into a caller's buffer (verifying its Merkle root), delete one,
 * audit one block (verifying its inclusion proof), and send a node a signed retain request.
 * Every call is bounded by a connect timeout, an idle timeout and the caller's signal.
 */
import { Agent, request, type IncomingMessage } from 'node:http'
import {
  MERKLE_BLOCK_SIZE, MERKLE_HASH_BYTES, MerkleHasher, leafCount, leafHash, merkleRoot, verifyInclusion
} from '../crypto/merkle.js'
import { ORDER_LIMIT_HEADER, ORDER_PROOF_HEADER } from '../crypto/order-limit.js'
import type { PieceRetainResult } from '../node/piece-store.js'
import {
  AUDIT_BLOCK_BYTES_HEADER, AUDIT_BLOCK_QUERY, MAX_AUDIT_PROOF_HASHES, PIECE_SIZE_HEADER, type PieceReceipt, RETAIN_PATH,
  SIGNATURE_HEADER, verifyReceipt
} from '../node/protocol.js'
import { type PieceFailureKind, PieceTransferError } from './errors.js'
import type { PieceGrant, PieceTransport } from './broker.js'

/** A node that doesn't accept a connection in this long is treated as down (loopback answers in µs; WAN in < 1 s). */
export const CONNECT_TIMEOUT_MS = 3000
/** A transfer that moves no byte for this long is cut off: a hung node must not hang a read. */
export const IDLE_TIMEOUT_MS = 15_000
/** Idle pooled connections to nodes are closed after this (nodes cut idle connections after 30 s). */
export const FREE_SOCKET_TIMEOUT_MS = 10_000
/**
 * Silence tolerated while a node runs a retain request: it answers only once it has walked all its
 * pieces (one stat per piece not in the filter), which for millions of pieces on a slow disk takes
 * minutes, so the usual idle timeout would cut every large garbage collection short.
 */
export const RETAIN_IDLE_TIMEOUT_MS = 10 * 60_000
/** Chunk written per socket write: large enough for throughput, small enough to interleave hashing. */
const WRITE_CHUNK = 1024 * 1024
/** Largest error or receipt reply read from a node. */
const MAX_REPLY_BYTES = 64 * 1024
/** Largest audit reply: one block and the deepest possible proof. */
const MAX_AUDIT_REPLY_BYTES = MERKLE_BLOCK_SIZE + MAX_AUDIT_PROOF_HASHES * MERKLE_HASH_BYTES
/** MTH of no leaves (RFC 9162 section 2.1.1): the hash of an empty piece. */
const EMPTY_TREE_HASH = merkleRoot([]).toString('hex')
const HASH_PATTERN = /^[0-9a-f]{64}$/
const DECIMAL_PATTERN = /^(?:0|[1-9][0-9]{0,15})$/

export interface PieceClientInit {
  connectTimeoutMs?: number
  idleTimeoutMs?: number
  /** Default RETAIN_IDLE_TIMEOUT_MS. */
  retainIdleTimeoutMs?: number
}

/** Where one request goes and what it carries (besides its body, which `write` sends). */
interface NodeRequest {
  readonly nodeId: string
  readonly nodeUrl: string
  readonly method: string
  /** Path and query, e.g. /pieces/<id>/audit?block=3. */
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  readonly length?: number
  readonly idleTimeoutMs?: number
}

export class PieceClient implements PieceTransport {
  readonly #agent: Agent
  readonly #connectTimeoutMs: number
  readonly #idleTimeoutMs: number
  readonly #retainIdleTimeoutMs: number

  constructor (init: PieceClientInit = {}) {
    this.#connectTimeoutMs = init.connectTimeoutMs ?? CONNECT_TIMEOUT_MS
    this.#idleTimeoutMs = init.idleTimeoutMs ?? IDLE_TIMEOUT_MS
    this.#retainIdleTimeoutMs = init.retainIdleTimeoutMs ?? RETAIN_IDLE_TIMEOUT_MS
    this.#agent = new Agent({ keepAlive: true, maxSockets: 64, scheduling: 'fifo' })
  }

  /**
   * Sends `data` as piece `grant.pieceId`, computing its Merkle root on the way, and checks the node's
   * receipt (signature, size, root). Returns the root. Throws PieceTransferError on any failure.
   */
  async upload (grant: PieceGrant, data: Buffer, signal?: AbortSignal): Promise<string> {
    const hasher = new MerkleHasher()
    const res = await this.#send(pieceRequest(grant, 'PUT', '', data.length), signal, async (req) => {
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
    const body = await readBody(res, MAX_REPLY_BYTES, grant.nodeId, 'bad-receipt', signal)
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
    const res = await this.#send(pieceRequest(grant, 'GET', ''), signal, async (req) => { req.end() })
    if (res.statusCode !== 200) throw refused(grant.nodeId, res.statusCode, await readBody(res, MAX_REPLY_BYTES, grant.nodeId, 'bad-receipt', signal))
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
    const res = await this.#send(pieceRequest(grant, 'DELETE', ''), signal, async (req) => { req.end() })
    const body = await readBody(res, MAX_REPLY_BYTES, grant.nodeId, 'bad-receipt', signal)
    if (res.statusCode !== 204 && res.statusCode !== 404) throw refused(grant.nodeId, res.statusCode, body)
  }

  /**
   * See PieceTransport.audit. The node answers the block followed by its proof; the block's leaf hash
   * must lead through the proof to `expected.hash` in a tree of leafCount(expected.size) leaves, and the
   * node must report the piece's size as `expected.size`. An empty piece has no leaves and so no proof:
   * its audit (block 0) passes when the node reports it empty and its recorded hash is that of no leaves.
   * `bytes` counts the reply body and, approximately, both header blocks. Throws RangeError (before any
   * request) for a block outside the piece or a malformed `expected`.
   */
  async audit (grant: PieceGrant, block: number, expected: { readonly hash: string, readonly size: number }, signal?: AbortSignal): Promise<{ bytes: number }> {
    if (!HASH_PATTERN.test(expected.hash)) throw new RangeError('expected hash must be a Merkle root as 64 lowercase hex characters')
    const leaves = leafCount(expected.size)
    if (!Number.isSafeInteger(block) || block < 0 || block >= Math.max(1, leaves)) {
      throw new RangeError(`block ${block} is outside a piece of ${expected.size} bytes (${leaves} blocks)`)
    }
    const { nodeId, pieceId } = grant
    const corrupt = (why: string): PieceTransferError => new PieceTransferError(nodeId, 'corrupt', `node ${nodeId} failed the audit of block ${block} of piece ${pieceId}: ${why}`)
    const request = pieceRequest(grant, 'GET', `/audit?${AUDIT_BLOCK_QUERY}=${block}`)
    const res = await this.#send(request, signal, async (req) => { req.end() })
    if (res.statusCode !== 200) {
      const body = await readBody(res, MAX_REPLY_BYTES, nodeId, 'corrupt', signal)
      // The node's own check found the piece damaged (its header, or its length): as good as a failed proof.
      if (errorName(body) === 'PieceCorruptedError') {
        throw new PieceTransferError(nodeId, 'corrupt', `node ${nodeId} reports piece ${pieceId} corrupted`, { status: res.statusCode })
      }
      throw refused(nodeId, res.statusCode, body)
    }
    const declared = res.headers['content-length']
    if (declared !== undefined && Number(declared) > MAX_AUDIT_REPLY_BYTES) {
      res.destroy()
      throw corrupt(`a reply of ${declared} bytes is longer than a block and its proof can be`)
    }
    const body = await readBody(res, MAX_AUDIT_REPLY_BYTES, nodeId, 'corrupt', signal)
    const bytes = body.length + requestHeaderBytes(request) + responseHeaderBytes(res)
    const size = res.headers[PIECE_SIZE_HEADER]
    if (typeof size !== 'string' || !DECIMAL_PATTERN.test(size) || Number(size) !== expected.size) {
      throw corrupt(`it reports the piece's size as ${String(size)}, not ${expected.size}`)
    }
    const blockHeader = res.headers[AUDIT_BLOCK_BYTES_HEADER]
    const blockBytes = leaves === 0 ? 0 : Math.min(MERKLE_BLOCK_SIZE, expected.size - block * MERKLE_BLOCK_SIZE)
    if (typeof blockHeader !== 'string' || !DECIMAL_PATTERN.test(blockHeader) || Number(blockHeader) !== blockBytes) {
      throw corrupt(`it sent a block of ${String(blockHeader)} bytes, not ${blockBytes}`)
    }
    if (body.length < blockBytes || (body.length - blockBytes) % MERKLE_HASH_BYTES !== 0) {
      throw corrupt(`a reply of ${body.length} bytes is not a ${blockBytes}-byte block followed by 32-byte hashes`)
    }
    const proof: Buffer[] = []
    for (let off = blockBytes; off < body.length; off += MERKLE_HASH_BYTES) proof.push(body.subarray(off, off + MERKLE_HASH_BYTES))
    if (leaves === 0) {
      if (proof.length > 0 || expected.hash !== EMPTY_TREE_HASH) throw corrupt('an empty piece has no proof')
      return { bytes }
    }
    if (!verifyInclusion(leafHash(body.subarray(0, blockBytes)), block, leaves, proof, Buffer.from(expected.hash, 'hex'))) {
      throw corrupt('the block and its Merkle path do not lead to the recorded hash')
    }
    return { bytes }
  }

  /**
   * Sends node `nodeId` at `nodeUrl` a signed retain request (signRetainRequest in src/crypto/retain.ts)
   * and returns what it deleted and kept. The node answers only when done, so the idle timeout is
   * RETAIN_IDLE_TIMEOUT_MS. Throws PieceTransferError: 'refused' with the status for an error reply
   * (409: a retain is already running there), 'bad-receipt' for a malformed reply, 'unreachable',
   * 'timeout' or 'aborted'.
   */
  async retain (nodeUrl: string, nodeId: string, signed: { readonly body: Buffer, readonly signature: string }, signal?: AbortSignal): Promise<PieceRetainResult> {
    const res = await this.#send({
      nodeId,
      nodeUrl,
      method: 'POST',
      path: RETAIN_PATH,
      headers: { [SIGNATURE_HEADER]: signed.signature, 'content-type': 'application/octet-stream' },
      length: signed.body.length,
      idleTimeoutMs: this.#retainIdleTimeoutMs
    }, signal, async (req) => { req.end(signed.body) })
    const body = await readBody(res, MAX_REPLY_BYTES, nodeId, 'bad-receipt', signal)
    if (res.statusCode !== 200) throw refused(nodeId, res.statusCode, body)
    let reply: Partial<Record<keyof PieceRetainResult, unknown>> | undefined
    try {
      reply = JSON.parse(body.toString('utf8')) as typeof reply
    } catch (err) {
      throw new PieceTransferError(nodeId, 'bad-receipt', `node ${nodeId} answered a retain request with something that is not JSON`, { cause: err })
    }
    const count = (x: unknown): number => {
      if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) {
        throw new PieceTransferError(nodeId, 'bad-receipt', `node ${nodeId} answered a retain request with malformed counts`)
      }
      return x
    }
    if (typeof reply !== 'object' || reply === null) count(undefined)
    return { scanned: count(reply?.scanned), deleted: count(reply?.deleted), deletedBytes: count(reply?.deletedBytes), kept: count(reply?.kept) }
  }

  /** Closes pooled connections; safe to call twice. */
  close (): void {
    this.#agent.destroy()
  }

  async #send (target: NodeRequest, signal: AbortSignal | undefined,
    write: (req: ReturnType<typeof request>) => Promise<void>): Promise<IncomingMessage> {
    signal?.throwIfAborted()
    const { nodeId, nodeUrl, method } = target
    const idleTimeoutMs = target.idleTimeoutMs ?? this.#idleTimeoutMs
    const url = new URL(target.path, target.nodeUrl)
    const headers: Record<string, string | number> = { ...target.headers }
    if (target.length !== undefined) headers['content-length'] = target.length
    return await new Promise<IncomingMessage>((resolve, reject) => {
      let settled = false
      let response: IncomingMessage | undefined
      const req = request(url, { method, headers, agent: this.#agent, signal })
      const connectTimer = setTimeout(() => {
        req.destroy(new PieceTransferError(nodeId, 'timeout', `node ${nodeId} at ${nodeUrl} did not accept a connection within ${this.#connectTimeoutMs} ms`))
      }, this.#connectTimeoutMs)
      req.once('socket', (socket) => {
        socket.setTimeout(idleTimeoutMs)
        const onTimeout = (): void => {
          const err = new PieceTransferError(nodeId, 'timeout', `node ${nodeId} stalled for ${idleTimeoutMs} ms`)
          // Mid-body, the reader of the response must see the timeout, not the reset it causes.
          if (response !== undefined && !response.complete) response.destroy(err)
          req.destroy(err)
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
        if (!settled) { settled = true; reject(transportError(nodeId, err, signal)) }
      })
      req.once('response', (res) => {
        clearTimeout(connectTimer)
        response = res
        settled = true
        resolve(res)
      })
      write(req).catch((err) => { req.destroy(err) })
    })
  }
}

/** A request about one piece, authorised by the grant's order limit; `suffix` follows /pieces/<id>. */
function pieceRequest (grant: PieceGrant, method: string, suffix: string, length?: number): NodeRequest {
  return {
    nodeId: grant.nodeId,
    nodeUrl: grant.nodeUrl,
    method,
    path: `/pieces/${grant.pieceId}${suffix}`,
    headers: { [ORDER_LIMIT_HEADER]: grant.orderLimit, [ORDER_PROOF_HEADER]: grant.orderProof },
    length
  }
}

/** Bytes of a request's header block, about: request line, host, our headers, connection. */
function requestHeaderBytes (r: NodeRequest): number {
  let n = `${r.method} ${r.path} HTTP/1.1\r\n`.length + `host: ${new URL(r.nodeUrl).host}\r\n`.length + 'connection: keep-alive\r\n\r\n'.length
  for (const [name, value] of Object.entries(r.headers)) n += name.length + value.length + 4
  return n
}

/** Bytes of a reply's header block, about: status line and headers as received. */
function responseHeaderBytes (res: IncomingMessage): number {
  let n = `HTTP/1.1 ${res.statusCode ?? 0} ${res.statusMessage ?? ''}\r\n\r\n`.length
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) n += res.rawHeaders[i].length + res.rawHeaders[i + 1].length + 4
  return n
}

/** The `name` of a JSON ErrorBody, or undefined when the body is not one. */
function errorName (body: Buffer): string | undefined {
  try {
    const name = (JSON.parse(body.toString('utf8')) as { error?: { name?: unknown } }).error?.name
    return typeof name === 'string' ? name : undefined
  } catch {
    return undefined
  }
}

function transportError (nodeId: string, err: unknown, signal?: AbortSignal): PieceTransferError {
  if (err instanceof PieceTransferError) return err
  if (signal?.aborted === true) return new PieceTransferError(nodeId, 'aborted', `transfer with node ${nodeId} was cancelled`, { cause: err })
  const code = (err as { code?: string }).code ?? ''
  return new PieceTransferError(nodeId, 'unreachable', `node ${nodeId} is unreachable (${code !== '' ? code : (err as Error).message})`, { cause: err })
}

/** An error reply as a 'refused' PieceTransferError carrying the status (a 404 says "not found"). */
function refused (nodeId: string, status: number | undefined, body: Buffer): PieceTransferError {
  let message = body.toString('utf8').slice(0, 500)
  try {
    const parsed = JSON.parse(message) as { error?: { name?: string, message?: string } }
    if (parsed.error?.message !== undefined) message = `${parsed.error.name ?? 'Error'}: ${parsed.error.message}`
  } catch {}
  const what = status === 404 ? 'HTTP 404, not found' : `HTTP ${status ?? '?'}`
  return new PieceTransferError(nodeId, 'refused', `node ${nodeId} refused (${what}): ${message}`, { status })
}

/** Reads a whole reply of at most `limit` bytes; a longer one is cut off and rejected as `overLong`. */
async function readBody (res: IncomingMessage, limit: number, nodeId: string, overLong: PieceFailureKind, signal?: AbortSignal): Promise<Buffer> {
  const chunks: Buffer[] = []
  let n = 0
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      n += chunk.length
      if (n > limit) { res.destroy(); throw new PieceTransferError(nodeId, overLong, `node ${nodeId} sent an over-long reply`) }
      chunks.push(chunk)
    }
  } catch (err) {
    throw transportError(nodeId, err, signal)
  }
  return Buffer.concat(chunks)
}
