/**
 * The gateway's node client never passes wrong bytes through: a node (here a stub HTTP server standing
 * in for the node's piece API) that answers with altered, short or long bodies is caught by the Merkle
 * root check and reported as a PieceTransferError of kind 'corrupt'; so is an audit answer whose block
 * and Merkle path do not lead to the recorded root.
 */
import { randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Identity } from '../../src/crypto/identity.js'
import { MERKLE_BLOCK_SIZE, inclusionProof, leafHash, merkleRoot } from '../../src/crypto/merkle.js'
import { ORDER_LIMIT_HEADER, ORDER_PROOF_HEADER, newPieceId } from '../../src/crypto/order-limit.js'
import { PieceClient } from '../../src/gateway/piece-client.js'
import type { PieceGrant } from '../../src/gateway/broker.js'
import { AUDIT_BLOCK_BYTES_HEADER, PIECE_SIZE_HEADER, SIGNATURE_HEADER } from '../../src/node/protocol.js'

const piece = Buffer.alloc(100_000)
for (let i = 0; i < piece.length; i++) piece[i] = (i * 7919) % 251
// Expected root from the RFC 9162 definition over the fixed-size blocks (merkle.test.ts checks merkleRoot against published vectors).
const blocks: Buffer[] = []
for (let off = 0; off < piece.length; off += MERKLE_BLOCK_SIZE) blocks.push(piece.subarray(off, off + MERKLE_BLOCK_SIZE))
const hash = merkleRoot(blocks).toString('hex')

describe('PieceClient.download verifies what nodes send', () => {
  let server: Server
  let url: string
  let body: Buffer = piece
  const client = new PieceClient()
  const node = Identity.generate()

  beforeAll(async () => {
    server = createServer((_req, res) => { res.writeHead(200, { 'content-length': body.length }); res.end(body) })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    client.close()
    await new Promise((resolve) => server.close(resolve))
  })

  const grant = (): PieceGrant => ({
    nodeId: node.id, nodeUrl: url, nodePublicKey: node.publicKey, pieceId: newPieceId(), orderLimit: 'x', orderProof: 'y',
    labels: { provider: 'p', region: 'r', operator: 'o', subnet: 's' }
  })

  it('accepts the exact bytes', async () => {
    body = piece
    const into = Buffer.alloc(piece.length)
    await client.download(grant(), into, hash)
    expect(Buffer.compare(into, piece)).toBe(0)
  })

  it('rejects one flipped bit as corrupt', async () => {
    body = Buffer.from(piece)
    body[54_321] ^= 0x10
    await expect(client.download(grant(), Buffer.alloc(piece.length), hash)).rejects.toMatchObject({ name: 'PieceTransferError', kind: 'corrupt' })
  })

  it('rejects a short or long body as corrupt', async () => {
    body = piece.subarray(0, piece.length - 1)
    await expect(client.download(grant(), Buffer.alloc(piece.length), hash)).rejects.toMatchObject({ kind: 'corrupt' })
    body = Buffer.concat([piece, Buffer.from([1])])
    await expect(client.download(grant(), Buffer.alloc(piece.length), hash)).rejects.toMatchObject({ kind: 'corrupt' })
  })

  it('reports an unreachable node as unreachable', async () => {
    const g = { ...grant(), nodeUrl: 'http://127.0.0.1:1' }
    await expect(client.download(g, Buffer.alloc(piece.length), hash)).rejects.toMatchObject({ kind: 'unreachable' })
  })
})

describe('PieceClient.audit verifies the block and its Merkle path', () => {
  // A 13-block piece; the stub node answers audits the way a node does, unless told to misbehave.
  const data = Buffer.alloc(12 * MERKLE_BLOCK_SIZE + 700)
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + 7) % 253
  const dataBlocks: Buffer[] = []
  for (let off = 0; off < data.length; off += MERKLE_BLOCK_SIZE) dataBlocks.push(data.subarray(off, off + MERKLE_BLOCK_SIZE))
  const root = merkleRoot(dataBlocks).toString('hex')
  const leafHashes = dataBlocks.map((b) => leafHash(b))
  const expected = { hash: root, size: data.length }

  interface Answer { status?: number, headers?: Record<string, string>, body: Buffer, stall?: boolean }
  let answer: (block: number) => Answer
  const seen: Array<{ url: string, headers: Record<string, unknown> }> = []
  const honest = (block: number): Answer => ({
    body: Buffer.concat([dataBlocks[block], ...inclusionProof(leafHashes, block)]),
    headers: { [PIECE_SIZE_HEADER]: String(data.length), [AUDIT_BLOCK_BYTES_HEADER]: String(dataBlocks[block].length) }
  })
  let server: Server
  let url: string
  const client = new PieceClient({ idleTimeoutMs: 300 })
  const node = Identity.generate()

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push({ url: req.url ?? '', headers: req.headers })
      const block = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('block'))
      const a = answer(block)
      if (a.stall === true) { res.writeHead(200, { 'content-length': String(MERKLE_BLOCK_SIZE + 128) }); res.write('x'); return }
      res.writeHead(a.status ?? 200, { 'content-type': 'application/octet-stream', ...a.headers })
      res.end(a.body)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    client.close()
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })

  const grant = (): PieceGrant => ({
    nodeId: node.id, nodeUrl: url, nodePublicKey: node.publicKey, pieceId: newPieceId(), orderLimit: 'limit', orderProof: 'proof',
    labels: { provider: 'p', region: 'r', operator: 'o', subnet: 's' }
  })

  it('accepts an honest answer for every block and asks for it by path, query and order limit', async () => {
    answer = honest
    for (let block = 0; block < dataBlocks.length; block++) {
      const g = grant()
      const { bytes } = await client.audit(g, block, expected)
      const body = honest(block).body.length
      expect(bytes, `block ${block}`).toBeGreaterThan(body + 100) // headers both ways are counted...
      expect(bytes, `block ${block}`).toBeLessThan(body + 1000) // ...about
      const request = seen[seen.length - 1]
      expect(request.url).toBe(`/pieces/${g.pieceId}/audit?block=${block}`)
      expect(request.headers).toMatchObject({ [ORDER_LIMIT_HEADER]: 'limit', [ORDER_PROOF_HEADER]: 'proof' })
    }
  })

  it('rejects wrong bytes, a wrong path, a wrong size and malformed replies as corrupt', async () => {
    const cases: Array<[string, (block: number) => Answer]> = [
      ['a flipped bit in the block', (b) => { const a = honest(b); a.body[100] ^= 0x04; return a }],
      ['a flipped bit in the path', (b) => { const a = honest(b); a.body[a.body.length - 5] ^= 0x01; return a }],
      ['another block', (b) => honest(b + 1)],
      ['a hash too many', (b) => { const a = honest(b); return { ...a, body: Buffer.concat([a.body, Buffer.alloc(32)]) } }],
      ['a hash too few', (b) => { const a = honest(b); return { ...a, body: a.body.subarray(0, a.body.length - 32) } }],
      ['a torn hash', (b) => { const a = honest(b); return { ...a, body: a.body.subarray(0, a.body.length - 1) } }],
      ['another size', (b) => ({ ...honest(b), headers: { ...honest(b).headers, [PIECE_SIZE_HEADER]: String(data.length + 1) } })],
      ['no size', (b) => ({ ...honest(b), headers: { [AUDIT_BLOCK_BYTES_HEADER]: String(MERKLE_BLOCK_SIZE) } })],
      ['a size that is no number', (b) => ({ ...honest(b), headers: { ...honest(b).headers, [PIECE_SIZE_HEADER]: '1e5' } })],
      ['another block length', (b) => ({ ...honest(b), headers: { ...honest(b).headers, [AUDIT_BLOCK_BYTES_HEADER]: '8191' } })],
      ['no block length', (b) => ({ ...honest(b), headers: { [PIECE_SIZE_HEADER]: String(data.length) } })],
      ['a body shorter than the block', (b) => ({ ...honest(b), body: Buffer.alloc(100) })],
      ['an over-long body', (b) => ({ ...honest(b), body: Buffer.alloc(MERKLE_BLOCK_SIZE + 65 * 32) })],
      ['an over-long body sent chunked', (b) => ({ ...honest(b), headers: { ...honest(b).headers, 'transfer-encoding': 'chunked' }, body: Buffer.alloc(1024 * 1024) })],
      ['a corrupted piece, says the node', () => ({ status: 500, body: Buffer.from(JSON.stringify({ error: { name: 'PieceCorruptedError', message: 'x', reason: 'corrupted' } })) })]
    ]
    for (const [what, bad] of cases) {
      answer = bad
      await expect(client.audit(grant(), 4, expected), what).rejects.toMatchObject({ name: 'PieceTransferError', kind: 'corrupt', nodeId: node.id })
    }
    // The last block, short, proven as a full one fails as well.
    answer = (b) => { const a = honest(b); return { ...a, body: Buffer.concat([Buffer.alloc(MERKLE_BLOCK_SIZE - 700), a.body]), headers: { ...a.headers, [AUDIT_BLOCK_BYTES_HEADER]: String(MERKLE_BLOCK_SIZE) } } }
    await expect(client.audit(grant(), 12, expected)).rejects.toMatchObject({ kind: 'corrupt' })
  })

  it('reports error replies as refused with their status, 404 as not found', async () => {
    answer = () => ({ status: 404, body: Buffer.from(JSON.stringify({ error: { name: 'PieceNotFoundError', message: 'piece is not stored on this node', reason: 'not-found' } })) })
    await expect(client.audit(grant(), 0, expected)).rejects.toMatchObject({ kind: 'refused', status: 404, message: expect.stringContaining('not found') })
    answer = () => ({ status: 503, body: Buffer.from('busy') })
    const err = await client.audit(grant(), 0, expected).catch((e: unknown) => e)
    expect(err).toMatchObject({ kind: 'refused', status: 503 })
    expect((err as Error).message).not.toContain('not found')
  })

  it('reports a stalled, unreachable or cancelled audit as such', async () => {
    answer = () => ({ body: Buffer.alloc(0), stall: true })
    await expect(client.audit(grant(), 0, expected)).rejects.toMatchObject({ kind: 'timeout' })
    await expect(client.audit({ ...grant(), nodeUrl: 'http://127.0.0.1:1' }, 0, expected)).rejects.toMatchObject({ kind: 'unreachable' })
    const controller = new AbortController()
    const pending = client.audit(grant(), 0, expected, controller.signal)
    setTimeout(() => { controller.abort() }, 50)
    await expect(pending).rejects.toMatchObject({ kind: 'aborted' })
  })

  it('refuses to ask for a block the piece does not have', async () => {
    for (const block of [-1, 13, 0.5]) await expect(client.audit(grant(), block, expected), String(block)).rejects.toThrow(RangeError)
    await expect(client.audit(grant(), 0, { hash: 'nothex', size: 1 })).rejects.toThrow(RangeError)
  })
})

describe('PieceClient.retain', () => {
  let server: Server
  let url: string
  let reply: { status: number, body: string } = { status: 200, body: '' }
  let received: { method?: string, url?: string, signature?: unknown, body: Buffer } | undefined
  const client = new PieceClient()
  const node = Identity.generate()

  beforeAll(async () => {
    server = createServer((req, res) => {
      const parts: Buffer[] = []
      req.on('data', (c: Buffer) => parts.push(c))
      req.on('end', () => {
        received = { method: req.method, url: req.url, signature: req.headers[SIGNATURE_HEADER], body: Buffer.concat(parts) }
        res.writeHead(reply.status, { 'content-type': 'application/json' }).end(reply.body)
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    client.close()
    await new Promise((resolve) => server.close(resolve))
  })

  it('posts the signed body and returns the counts; malformed counts are a bad reply', async () => {
    const signed = { body: randomBytes(5000), signature: 'c2lnbmF0dXJl' }
    reply = { status: 200, body: JSON.stringify({ scanned: 10, deleted: 3, deletedBytes: 3000, kept: 7 }) }
    expect(await client.retain(url, node.id, signed)).toEqual({ scanned: 10, deleted: 3, deletedBytes: 3000, kept: 7 })
    expect(received).toMatchObject({ method: 'POST', url: '/retain', signature: signed.signature })
    expect(received?.body.equals(signed.body)).toBe(true)
    for (const body of ['not json', 'null', '[]', JSON.stringify({ scanned: 10, deleted: -1, deletedBytes: 0, kept: 7 }), JSON.stringify({ scanned: 1, deleted: 0, kept: 1 })]) {
      reply = { status: 200, body }
      await expect(client.retain(url, node.id, signed), body).rejects.toMatchObject({ name: 'PieceTransferError', kind: 'bad-receipt' })
    }
    reply = { status: 409, body: JSON.stringify({ error: { name: 'RetainInProgressError', message: 'busy' } }) }
    await expect(client.retain(url, node.id, signed)).rejects.toMatchObject({ kind: 'refused', status: 409 })
  })
})
