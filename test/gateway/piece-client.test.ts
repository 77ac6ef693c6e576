/**
 * The gateway's node client never passes wrong bytes through: a node (here a stub HTTP server standing
 * in for the node's piece API) that answers with altered, short or long bodies is caught by the Merkle
 * root check and reported as a PieceTransferError of kind 'corrupt'.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Identity } from '../../src/crypto/identity.js'
import { MERKLE_BLOCK_SIZE, merkleRoot } from '../../src/crypto/merkle.js'
import { newPieceId } from '../../src/crypto/order-limit.js'
import { PieceClient } from '../../src/gateway/piece-client.js'
import type { PieceGrant } from '../../src/gateway/broker.js'

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
