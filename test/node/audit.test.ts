/**
 * GET /pieces/:id/audit over real HTTP against a real FilePieceStore: the node answers a block and its
 * Merkle path, which must verify against the root in the node's own PUT receipt — and must stop
 * verifying, for every block, once a single stored byte rots.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, open, rm, truncate } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Identity } from '../../src/crypto/identity.js'
import { MERKLE_BLOCK_SIZE, leafCount, leafHash, merkleRoot, verifyInclusion } from '../../src/crypto/merkle.js'
import {
  ORDER_LIMIT_HEADER, ORDER_LIMIT_TTL_MS, ORDER_PROOF_HEADER, type OrderLimit, type PieceAction, newPieceId, newSerial,
  signOrderLimit, signOrderProof
} from '../../src/crypto/order-limit.js'
import type { PieceGrant } from '../../src/gateway/broker.js'
import { PieceClient } from '../../src/gateway/piece-client.js'
import { FilePieceStore, PIECE_HEADER_BYTES } from '../../src/node/file-piece-store.js'
import { PieceServer } from '../../src/node/piece-server.js'
import { AUDIT_BLOCK_BYTES_HEADER, PIECE_SIZE_HEADER, type PieceReceipt } from '../../src/node/protocol.js'
import { SerialStore } from '../../src/node/serial-store.js'
import { silentLogger } from '../../src/util/logger.js'
import { errorOf, send, type Reply } from './http-helpers.js'


/** The Merkle root by RFC 9162 over explicit 8 KiB blocks, computed apart from the node. */
function rootOf (data: Buffer): string {
  const blocks: Buffer[] = []
  for (let off = 0; off < data.length; off += MERKLE_BLOCK_SIZE) blocks.push(data.subarray(off, off + MERKLE_BLOCK_SIZE))
  return merkleRoot(blocks).toString('hex')
}

describe('piece audits', () => {
  let dir: string
  let coordinator: Identity
  let auditor: Identity
  let node: Identity
  let store: FilePieceStore
  let serials: SerialStore
  let server: PieceServer
  let url: string
  const client = new PieceClient()

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-audit-'))
    coordinator = Identity.generate()
    auditor = Identity.generate()
    node = Identity.generate()
    store = new FilePieceStore({ dir, capacityBytes: 1024 ** 3 }, { logger: silentLogger })
    serials = new SerialStore({ file: join(dir, 'serials.log') }, { logger: silentLogger })
    await store.start()
    await serials.start()
    server = new PieceServer({}, {
      identity: node,
      store,
      serials,
      coordinatorKey: coordinator.publicKey,
      labels: { provider: 'p', region: 'r', operator: 'o', country: '' },
      logger: silentLogger
    })
    await server.start()
    url = `http://127.0.0.1:${server.address.port}`
  })

  afterAll(() => { client.close() })

  afterEach(async () => {
    await server.stop()
    await serials.stop()
    await store.stop()
    await rm(dir, { recursive: true, force: true })
  })

  function limitFor (pieceId: string, action: PieceAction, maxBytes = 16 * 1024 * 1024): OrderLimit {
    const now = Date.now()
    return {
      version: 1,
      serial: newSerial(),
      coordinatorId: coordinator.id,
      nodeId: node.id,
      pieceId,
      action,
      maxBytes,
      issuedAt: now,
      expiresAt: now + ORDER_LIMIT_TTL_MS,
      downloaderKey: auditor.publicKey
    }
  }

  function auth (pieceId: string, action: PieceAction, maxBytes?: number): Record<string, string> {
    const limit = limitFor(pieceId, action, maxBytes)
    return { [ORDER_LIMIT_HEADER]: signOrderLimit(coordinator, limit), [ORDER_PROOF_HEADER]: signOrderProof(auditor, limit) }
  }

  function grant (pieceId: string, action: PieceAction = 'audit'): PieceGrant {
    const limit = limitFor(pieceId, action)
    return {
      nodeId: node.id,
      nodeUrl: url,
      nodePublicKey: node.publicKey,
      labels: { provider: 'p', region: 'r', operator: 'o', subnet: 's' },
      pieceId,
      orderLimit: signOrderLimit(coordinator, limit),
      orderProof: signOrderProof(auditor, limit)
    }
  }

  async function put (data: Buffer): Promise<{ pieceId: string, receipt: PieceReceipt }> {
    const pieceId = newPieceId()
    const reply = await send(`${url}/pieces/${pieceId}`, { method: 'PUT', headers: auth(pieceId, 'put'), body: data })
    expect(reply.status).toBe(201)
    return { pieceId, receipt: JSON.parse(reply.body.toString('utf8')) as PieceReceipt }
  }

  async function audit (pieceId: string, block: number | string, headers = auth(pieceId, 'audit')): Promise<Reply> {
    return await send(`${url}/pieces/${pieceId}/audit?block=${block}`, { headers })
  }

  /** Splits an audit reply and checks its proof against `root` for a piece of `size` bytes. */
  function verifies (reply: Reply, block: number, size: number, root: string): boolean {
    const blockBytes = Number(reply.headers[AUDIT_BLOCK_BYTES_HEADER])
    const bytes = reply.body.subarray(0, blockBytes)
    const proof: Buffer[] = []
    for (let off = blockBytes; off < reply.body.length; off += 32) proof.push(reply.body.subarray(off, off + 32))
    return verifyInclusion(leafHash(bytes), block, leafCount(size), proof, Buffer.from(root, 'hex'))
  }

  const filePath = (pieceId: string): string => join(dir, 'pieces', pieceId.slice(0, 2), pieceId.slice(2, 4), pieceId)

  it('answers every block with its bytes and a path that verifies against the receipt root', async () => {
    const data = randomBytes(12 * MERKLE_BLOCK_SIZE + 1696) // 13 blocks, the last one short
    const { pieceId, receipt } = await put(data)
    expect(receipt.hash).toBe(rootOf(data))
    for (let block = 0; block < 13; block++) {
      const reply = await audit(pieceId, block)
      expect(reply.status, `block ${block}`).toBe(200)
      expect(reply.headers['content-type']).toBe('application/octet-stream')
      expect(reply.headers[PIECE_SIZE_HEADER]).toBe(String(data.length))
      const blockBytes = block === 12 ? 1696 : MERKLE_BLOCK_SIZE
      expect(reply.headers[AUDIT_BLOCK_BYTES_HEADER]).toBe(String(blockBytes))
      expect(reply.body.subarray(0, blockBytes).equals(data.subarray(block * MERKLE_BLOCK_SIZE, block * MERKLE_BLOCK_SIZE + blockBytes)), `block ${block}`).toBe(true)
      // 13 leaves: a path of 4 hashes, except the lone 13th leaf whose sibling is the left 8+4 subtrees.
      expect(reply.body.length - blockBytes, `block ${block}`).toBe(32 * (block === 12 ? 2 : 4))
      expect(verifies(reply, block, data.length, receipt.hash), `block ${block}`).toBe(true)
      // The same reply does not prove another block, nor against another root.
      expect(verifies(reply, (block + 1) % 13, data.length, receipt.hash)).toBe(false)
      expect(verifies(reply, block, data.length, rootOf(randomBytes(100)))).toBe(false)
    }
    // The client agrees, and counts the reply body plus headers.
    const { bytes } = await client.audit(grant(pieceId), 3, { hash: receipt.hash, size: data.length })
    expect(bytes).toBeGreaterThan(MERKLE_BLOCK_SIZE + 4 * 32)
    expect(bytes).toBeLessThan(MERKLE_BLOCK_SIZE + 4 * 32 + 2048)
  })

  it('one flipped byte on disk makes the audit of every block fail', async () => {
    const data = randomBytes(10 * MERKLE_BLOCK_SIZE + 5)
    const { pieceId, receipt } = await put(data)
    const at = 6 * MERKLE_BLOCK_SIZE + 123 // in block 6
    const fh = await open(filePath(pieceId), 'r+')
    await fh.write(Buffer.from([data[at] ^ 0x01]), 0, 1, PIECE_HEADER_BYTES + at)
    await fh.close()
    for (let block = 0; block < 11; block++) {
      const reply = await audit(pieceId, block)
      expect(reply.status, `block ${block}`).toBe(200) // the node sends what it has: rot is for the auditor to find
      expect(reply.headers[PIECE_SIZE_HEADER]).toBe(String(data.length))
      expect(verifies(reply, block, data.length, receipt.hash), `block ${block}`).toBe(false)
      await expect(client.audit(grant(pieceId), block, { hash: receipt.hash, size: data.length }), `block ${block}`)
        .rejects.toMatchObject({ name: 'PieceTransferError', kind: 'corrupt', nodeId: node.id })
    }
  })

  it('a piece whose file lost bytes is reported corrupt by the node and the client', async () => {
    const data = randomBytes(3 * MERKLE_BLOCK_SIZE)
    const { pieceId, receipt } = await put(data)
    await truncate(filePath(pieceId), PIECE_HEADER_BYTES + data.length - 100)
    const reply = await audit(pieceId, 0)
    expect(reply.status).toBe(500)
    expect(errorOf(reply)).toMatchObject({ name: 'PieceCorruptedError', reason: 'corrupted' })
    await expect(client.audit(grant(pieceId), 0, { hash: receipt.hash, size: data.length }))
      .rejects.toMatchObject({ kind: 'corrupt', status: 500 })
  })

  it('a missing piece is a 404, which the client reports as refused, not found', async () => {
    const pieceId = newPieceId()
    const reply = await audit(pieceId, 0)
    expect(reply.status).toBe(404)
    expect(errorOf(reply)).toMatchObject({ name: 'PieceNotFoundError', reason: 'not-found' })
    const err = await client.audit(grant(pieceId), 0, { hash: rootOf(Buffer.alloc(10)), size: 10 }).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'PieceTransferError', kind: 'refused', status: 404, message: expect.stringContaining('not found') })
  })

  it('refuses an order limit for another action, or none', async () => {
    const { pieceId } = await put(randomBytes(5000))
    for (const action of ['get', 'put', 'delete'] as const) {
      const reply = await audit(pieceId, 0, auth(pieceId, action))
      expect(reply.status, action).toBe(403)
      expect(errorOf(reply), action).toMatchObject({ name: 'OrderLimitError', reason: 'wrong-action' })
    }
    const none = await audit(pieceId, 0, {})
    expect(none.status).toBe(401)
    await expect(client.audit(grant(pieceId, 'get'), 0, { hash: rootOf(Buffer.alloc(1)), size: 5000 }))
      .rejects.toMatchObject({ kind: 'refused', status: 403 })
    // A limit whose maxBytes is below the block's size does not buy the block.
    const small = await audit(pieceId, 0, auth(pieceId, 'audit', 4999))
    expect(small.status).toBe(403)
    expect(errorOf(small)).toMatchObject({ name: 'OrderLimitError', reason: 'too-large' })
    expect((await audit(pieceId, 0, auth(pieceId, 'audit', 5000))).status).toBe(200)
  })

  it('answers 400 for a block the piece does not have or a malformed block query', async () => {
    const data = randomBytes(2 * MERKLE_BLOCK_SIZE + 1) // blocks 0..2
    const { pieceId } = await put(data)
    expect((await audit(pieceId, 2)).status).toBe(200)
    for (const bad of ['3', '1000', '-1', '1.5', 'x', '', '01', '1e3', '9007199254740993', '2&block=1']) {
      const reply = await audit(pieceId, bad)
      expect(reply.status, bad).toBe(400)
      expect(errorOf(reply), bad).toMatchObject({ name: 'InvalidAuditError', reason: 'invalid-audit' })
    }
    const missing = await send(`${url}/pieces/${pieceId}/audit`, { headers: auth(pieceId, 'audit') })
    expect(missing.status).toBe(400)
    expect((await send(`${url}/pieces/${pieceId}/audit?block=0`, { method: 'POST', headers: auth(pieceId, 'audit') })).status).toBe(405)
    expect((await send(`${url}/pieces/${pieceId}/proof?block=0`, { headers: auth(pieceId, 'audit') })).status).toBe(404)
    expect((await send(`${url}/pieces/nope/audit?block=0`, { headers: auth(pieceId, 'audit') })).status).toBe(400)
    // The client refuses to ask for a block outside the piece at all.
    await expect(client.audit(grant(pieceId), 3, { hash: rootOf(data), size: data.length })).rejects.toThrow(RangeError)
  })

  it('an empty piece answers block 0 with no bytes and no proof', async () => {
    const { pieceId, receipt } = await put(Buffer.alloc(0))
    expect(receipt.hash).toBe(merkleRoot([]).toString('hex'))
    const reply = await audit(pieceId, 0)
    expect(reply.status).toBe(200)
    expect(reply.headers[PIECE_SIZE_HEADER]).toBe('0')
    expect(reply.headers[AUDIT_BLOCK_BYTES_HEADER]).toBe('0')
    expect(reply.body.length).toBe(0)
    expect((await audit(pieceId, 1)).status).toBe(400)
    await client.audit(grant(pieceId), 0, { hash: receipt.hash, size: 0 })
    // …but not as a piece of another size.
    await expect(client.audit(grant(pieceId), 0, { hash: rootOf(Buffer.alloc(1)), size: 1 })).rejects.toMatchObject({ kind: 'corrupt' })
  })
})
