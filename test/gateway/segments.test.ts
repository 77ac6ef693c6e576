/**
 * The segment pipelines against stubs of their two interfaces (PieceBroker, PieceTransport) with the
 * real placement, codec and crypto: the long-tail cut, replacement of failed pieces, a clean failure
 * when too few nodes answer, reads that skip corrupt pieces and still decode exact, and a Gateway read
 * (over a real in-memory SQLite store) that outlives a repair moving its pieces.
 */
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { MerkleHasher } from '../../src/crypto/merkle.js'
import { newPieceId } from '../../src/crypto/order-limit.js'
import { deriveObjectKey, newSalt, newSecret } from '../../src/crypto/seal.js'
import { createCodec } from '../../src/erasure/index.js'
import type { SegmentRecord } from '../../src/metadata/metadata-store.js'
import { checkPlacement, selectNodes, type Candidate } from '../../src/placement/index.js'
import { DEFAULT_BUCKET_SETTINGS } from '../../src/gateway/bucket-settings.js'
import type { DownloadGrant, PieceBroker, PieceGrant, PieceTransport, UploadPlan } from '../../src/gateway/broker.js'
import { PieceTransferError } from '../../src/gateway/errors.js'
import { writeSegment, type SegmentComponents } from '../../src/gateway/segment-writer.js'
import { readSegment } from '../../src/gateway/segment-reader.js'
import { Gateway } from '../../src/gateway/gateway.js'
import { openSqliteStore } from '../../src/metadata/sqlite.js'
import { silentLogger } from '../../src/util/logger.js'

const providers = ['aws', 'hetzner', 'home']
const regions = ['r1', 'r2', 'r3']
const nodes: Candidate[] = Array.from({ length: 9 }, (_, i) => ({
  id: `node-${i}`,
  labels: { provider: providers[i % 3], region: regions[Math.floor(i / 3)], operator: `op-${i}`, subnet: '10.0.0.0/24' },
  freeBytes: 1e12
}))
const byId = new Map(nodes.map((n) => [n.id, n]))

function grant (n: Candidate): PieceGrant {
  return { nodeId: n.id, nodeUrl: 'http://stub', nodePublicKey: '', labels: n.labels, pieceId: newPieceId(), orderLimit: '', orderProof: '' }
}

/** A broker over the real placement module; records what it planned and what was reported. */
class StubBroker implements PieceBroker {
  plans: UploadPlan[] = []
  reports: Array<{ nodeId: string, kind: string }> = []
  readonly stored = new Map<string, string>() // pieceId → nodeId
  async planUpload (settings: typeof DEFAULT_BUCKET_SETTINGS, pieceBytes: number): Promise<UploadPlan> {
    const r = selectNodes(nodes, { k: settings.k, total: settings.k + settings.m, spares: settings.spares, pieceBytes, policy: settings.policy, mode: 'best-effort' }, Math.random)
    const plan = { pieces: r.nodes.map(grant), spares: r.spares.map(grant), unmet: r.unmet, reason: r.reason ?? '' }
    this.plans.push(plan)
    return plan
  }

  async planReplacements (_s: unknown, _b: number, count: number, exclude: ReadonlySet<string>): Promise<PieceGrant[]> {
    return nodes.filter((n) => !exclude.has(n.id)).slice(0, count).map(grant)
  }

  async planDownload (segment: SegmentRecord): Promise<DownloadGrant[]> {
    return segment.pieces.map((p) => ({ ...grant(byId.get(p.nodeId)!), pieceId: p.pieceId, pieceIndex: p.pieceIndex, hash: p.hash, size: p.size, online: true }))
  }

  reportPieceFailure (nodeId: string, _pieceId: string, kind: string): void {
    this.reports.push({ nodeId, kind })
  }
}

type Behaviour = 'ok' | 'hang' | 'fail' | 'corrupt'

/** Nodes as in-memory piece maps; each node id can be told to hang, fail or corrupt. */
class StubTransport implements PieceTransport {
  readonly pieces = new Map<string, Buffer>()
  readonly behaviour = new Map<string, Behaviour>()
  aborted: string[] = []
  async upload (g: PieceGrant, data: Buffer, signal?: AbortSignal): Promise<string> {
    const b = this.behaviour.get(g.nodeId) ?? 'ok'
    if (b === 'fail') throw new PieceTransferError(g.nodeId, 'unreachable', `${g.nodeId} refused the connection`)
    if (b === 'hang') {
      await new Promise((_resolve, reject) => signal?.addEventListener('abort', () => { this.aborted.push(g.nodeId); reject(new PieceTransferError(g.nodeId, 'aborted', 'cancelled')) }))
    }
    this.pieces.set(g.pieceId, Buffer.from(data))
    return new MerkleHasher().update(data).digest()
  }

  async download (g: PieceGrant, into: Buffer, expectedHash: string): Promise<void> {
    const data = this.pieces.get(g.pieceId)
    if (data === undefined) throw new PieceTransferError(g.nodeId, 'refused', 'no such piece')
    const sent = Buffer.from(data)
    if (this.behaviour.get(g.nodeId) === 'corrupt') sent[sent.length >> 1] ^= 1
    sent.copy(into)
    if (new MerkleHasher().update(sent).digest() !== expectedHash) throw new PieceTransferError(g.nodeId, 'corrupt', 'hash mismatch')
  }

  async delete (): Promise<void> {}

  async audit (): Promise<{ bytes: number }> {
    throw new Error('the segment pipelines never audit')
  }
}

function setup (): { c: SegmentComponents, broker: StubBroker, transport: StubTransport } {
  const broker = new StubBroker()
  const transport = new StubTransport()
  const codecs = new Map<string, ReturnType<typeof createCodec>>()
  const codec = (k: number, m: number): ReturnType<typeof createCodec> => {
    if (!codecs.has(`${k}+${m}`)) codecs.set(`${k}+${m}`, createCodec(k, m))
    return codecs.get(`${k}+${m}`)!
  }
  return { c: { broker, pieces: transport, codec, logger: silentLogger }, broker, transport }
}

const key = deriveObjectKey(newSecret(), newSalt())
const plaintext = randomBytes(300_001)
const segment = { parts: [plaintext.subarray(0, 1000), plaintext.subarray(1000)], length: plaintext.length }

describe('writeSegment', () => {
  it('cuts the long tail: a hung node is cancelled once 6 pieces meet the policy', async () => {
    const { c, broker, transport } = setup()
    // Hang a node whose piece the policy can do without: decide when the plan is made.
    const plan = broker.planUpload.bind(broker)
    broker.planUpload = async (s, b) => {
      const p = await plan(s, b)
      const all = [...p.pieces, ...p.spares]
      const spareable = all.find((g) => checkPlacement(all.filter((x) => x !== g).map((x) => x.labels), 4, s.policy).ok)!
      transport.behaviour.set(spareable.nodeId, 'hang')
      return p
    }
    const record = await writeSegment(c, DEFAULT_BUCKET_SETTINGS, key, 0, segment)
    expect(record.pieces).toHaveLength(6)
    expect(transport.aborted).toHaveLength(1)
    expect(record.pieces.map((p) => p.nodeId)).not.toContain(transport.aborted[0])
    expect(record.underPlaced).toBe(false)
    expect(record.m).toBe(3) // 2 parity + 1 spare encoded
    const back = await readSegment(c, record, key)
    expect(Buffer.compare(back, plaintext)).toBe(0)
  })

  it('re-sends the pieces of failed nodes to replacements', async () => {
    const { c, broker, transport } = setup()
    transport.behaviour.set('node-0', 'fail')
    transport.behaviour.set('node-4', 'fail')
    transport.behaviour.set('node-8', 'fail')
    const record = await writeSegment(c, DEFAULT_BUCKET_SETTINGS, key, 3, segment)
    expect(record.pieces.length).toBeGreaterThanOrEqual(6)
    for (const p of record.pieces) expect(['node-0', 'node-4', 'node-8']).not.toContain(p.nodeId)
    expect(new Set(record.pieces.map((p) => p.nodeId)).size).toBe(record.pieces.length)
    expect(broker.reports.every((r) => ['node-0', 'node-4', 'node-8'].includes(r.nodeId))).toBe(true)
    expect(record.underPlaced).toBe(checkPlacement(record.pieces.map((p) => byId.get(p.nodeId)!.labels), 4, DEFAULT_BUCKET_SETTINGS.policy).unmet.length > 0)
    expect(Buffer.compare(await readSegment(c, record, key), plaintext)).toBe(0)
  })

  it('fails with UploadFailedError when fewer than k+m nodes take pieces', async () => {
    const { c, transport } = setup()
    for (let i = 0; i < 4; i++) transport.behaviour.set(`node-${i}`, 'fail')
    await expect(writeSegment(c, DEFAULT_BUCKET_SETTINGS, key, 0, segment)).rejects.toMatchObject({ name: 'UploadFailedError', message: expect.stringMatching(/stored 5 of the 6 pieces needed/) })
  })
})

describe('readSegment', () => {
  it('skips corrupt pieces, reports their nodes, and decodes exact from the rest', async () => {
    const { c, broker, transport } = setup()
    const record = await writeSegment(c, DEFAULT_BUCKET_SETTINGS, key, 7, segment)
    const dataNodes = record.pieces.filter((p) => p.pieceIndex < 3).map((p) => p.nodeId)
    for (const id of dataNodes) transport.behaviour.set(id, 'corrupt')
    const back = await readSegment(c, record, key)
    expect(Buffer.compare(back, plaintext)).toBe(0)
    expect(broker.reports.filter((r) => r.kind === 'corrupt').map((r) => r.nodeId).sort()).toEqual([...dataNodes].sort())
  })

  it('fails with ObjectUnavailableError when fewer than k pieces verify', async () => {
    const { c, transport } = setup()
    const record = await writeSegment(c, DEFAULT_BUCKET_SETTINGS, key, 1, segment)
    for (const p of record.pieces.slice(0, record.pieces.length - 3)) transport.behaviour.set(p.nodeId, 'corrupt')
    await expect(readSegment(c, record, key)).rejects.toMatchObject({ name: 'ObjectUnavailableError' })
  })
})

describe('Gateway reads', () => {
  it('read again from the current placement when repair moved a segment\'s pieces after the read began', async () => {
    const { c, transport } = setup()
    const metadata = await openSqliteStore({ path: ':memory:' })
    await metadata.migrate()
    const secret = newSecret()
    const gateway = new Gateway({ segmentSize: 64 * 1024 }, { ...c, metadata, ownerSecret: async () => secret })
    const bucket = { name: 'b', ownerId: 'o', createdAt: 1, settings: '' }
    await metadata.createBucket(bucket)
    const data = randomBytes(200_000)
    await gateway.putObject({ bucket, key: 'k', body: (async function * () { yield data })() })
    const read = await gateway.getObject(bucket, 'k') // the segments are looked up now
    // What repair does: segment 1's pieces move to new piece ids, and the old ones are deleted.
    const uploadId = read.object.uploadId
    const moved = (await metadata.getSegments(uploadId))[1].pieces.map((p) => {
      const pieceId = newPieceId()
      transport.pieces.set(pieceId, transport.pieces.get(p.pieceId)!)
      transport.pieces.delete(p.pieceId)
      return { pieceIndex: p.pieceIndex, expectedPieceId: p.pieceId, piece: { ...p, pieceId } }
    })
    expect(await metadata.replacePieces(uploadId, 1, moved, { underPlaced: false, placementNote: '' })).toBe(true)
    const chunks: Buffer[] = []
    for await (const chunk of read.body) chunks.push(Buffer.from(chunk))
    expect(Buffer.concat(chunks).equals(data)).toBe(true)
    await metadata.close()
  })
})
