/**
 * POST /retain over real HTTP against a real FilePieceStore: a signed retain set deletes exactly the
 * old pieces it does not hold, keeps the rest (and anything newer than its cut-off, and uploads in
 * flight), and a request that is unsigned, forged or for another node deletes nothing.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { request } from 'node:http'
import { join } from 'node:path'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Identity } from '../../src/crypto/identity.js'
import {
  ORDER_LIMIT_HEADER, ORDER_LIMIT_TTL_MS, ORDER_PROOF_HEADER, type OrderLimit, type PieceAction, newPieceId, newSerial,
  signOrderLimit, signOrderProof
} from '../../src/crypto/order-limit.js'
import { RETAIN_MAGIC, encodeRetainRequest, signRetainRequest, verifyRetainRequest } from '../../src/crypto/retain.js'
import { PieceClient } from '../../src/gateway/piece-client.js'
import { FilePieceStore, PIECE_HEADER_BYTES } from '../../src/node/file-piece-store.js'
import { PieceServer } from '../../src/node/piece-server.js'
import { MAX_RETAIN_BODY_BYTES, SIGNATURE_HEADER } from '../../src/node/protocol.js'
import { SerialStore } from '../../src/node/serial-store.js'
import { BloomFilter } from '../../src/util/bloom.js'
import { createLogger, silentLogger } from '../../src/util/logger.js'
import { errorOf, send, type Reply } from './http-helpers.js'


const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }
/** File timestamps come from the kernel's coarse clock (a few ms behind Date.now()): keep cut-offs clear of writes. */
const CLOCK_MARGIN_MS = 50

describe('retain (garbage collection)', () => {
  let dir: string
  let coordinator: Identity
  let gateway: Identity
  let node: Identity
  let store: FilePieceStore
  let serials: SerialStore
  let server: PieceServer
  let url: string
  let logLines: string[]
  const client = new PieceClient()

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-retain-'))
    coordinator = Identity.generate()
    gateway = Identity.generate()
    node = Identity.generate()
    logLines = []
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
      logger: createLogger('node', { level: 'info', write: (line) => { logLines.push(line) } })
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

  function auth (pieceId: string, action: PieceAction): Record<string, string> {
    const now = Date.now()
    const limit: OrderLimit = {
      version: 1,
      serial: newSerial(),
      coordinatorId: coordinator.id,
      nodeId: node.id,
      pieceId,
      action,
      maxBytes: 1024 * 1024,
      issuedAt: now,
      expiresAt: now + ORDER_LIMIT_TTL_MS,
      downloaderKey: gateway.publicKey
    }
    return { [ORDER_LIMIT_HEADER]: signOrderLimit(coordinator, limit), [ORDER_PROOF_HEADER]: signOrderProof(gateway, limit) }
  }

  async function put (data: Buffer): Promise<string> {
    const pieceId = newPieceId()
    const reply = await send(`${url}/pieces/${pieceId}`, { method: 'PUT', headers: auth(pieceId, 'put'), body: data })
    expect(reply.status).toBe(201)
    return pieceId
  }

  async function get (pieceId: string): Promise<Reply> {
    return await send(`${url}/pieces/${pieceId}`, { headers: auth(pieceId, 'get') })
  }

  function retainSet (ids: readonly string[], rate = 1e-6): BloomFilter {
    const filter = BloomFilter.forCount(Math.max(1, ids.length), rate)
    for (const id of ids) filter.add(id)
    return filter
  }

  function signed (filter: BloomFilter, createdBefore: number, signer = coordinator, nodeId = node.id): { body: Buffer, signature: string } {
    return signRetainRequest(signer, { version: 1, nodeId, createdBefore, filter: filter.encode() })
  }

  async function postRetain (body: Buffer, signature?: string): Promise<Reply> {
    return await send(`${url}/retain`, { method: 'POST', headers: signature === undefined ? {} : { [SIGNATURE_HEADER]: signature }, body })
  }

  const pieceFiles = async (): Promise<number> => {
    let n = 0
    for (const a of await readdir(join(dir, 'pieces'))) for (const b of await readdir(join(dir, 'pieces', a))) n += (await readdir(join(dir, 'pieces', a, b))).length
    return n
  }

  it('deletes exactly the stored pieces the retain set does not hold and keeps the others readable', async () => {
    const pieces = new Map<string, Buffer>()
    for (let i = 0; i < 50; i++) {
      const data = randomBytes(1000 + i * 37)
      pieces.set(await put(data), data)
    }
    const ids = [...pieces.keys()]
    const keep = ids.slice(0, 30)
    const others = ids.slice(30)
    const filter = retainSet(keep)
    // Which of the 20 others the filter happens to hold (a false positive, p = 1e-6: almost surely
    // none) is decided here, before the node sees it, so the expected counts are exact.
    const expectedGone = others.filter((id) => !filter.has(id))
    const expectedGoneBytes = expectedGone.reduce((sum, id) => sum + PIECE_HEADER_BYTES + pieces.get(id)!.length, 0)
    const usedBefore = store.usage().usedBytes
    expect(store.usage().pieces).toBe(50)

    const result = await client.retain(url, node.id, signed(filter, Date.now() + 1000))
    expect(result).toEqual({ scanned: 50, deleted: expectedGone.length, deletedBytes: expectedGoneBytes, kept: 50 - expectedGone.length })
    expect(expectedGone.length).toBeGreaterThanOrEqual(19)

    for (const id of ids) {
      const reply = await get(id)
      if (expectedGone.includes(id)) {
        expect(reply.status, id).toBe(404)
      } else {
        expect(reply.status, id).toBe(200)
        expect(reply.body.equals(pieces.get(id)!), id).toBe(true)
      }
    }
    expect(store.usage()).toEqual({ pieces: 50 - expectedGone.length, usedBytes: usedBefore - expectedGoneBytes })
    expect(await pieceFiles()).toBe(50 - expectedGone.length)
    expect(logLines.some((l) => l.includes('info') && l.includes(`"deleted":${expectedGone.length}`))).toBe(true)

    // The counters survive a restart (recounted from disk) and a second identical pass deletes nothing.
    await store.stop()
    await store.start()
    expect(store.usage()).toEqual({ pieces: 50 - expectedGone.length, usedBytes: usedBefore - expectedGoneBytes })
    expect(await client.retain(url, node.id, signed(filter, Date.now() + 1000))).toMatchObject({ deleted: 0, kept: 50 - expectedGone.length })
  })

  it('keeps a piece stored after createdBefore even when the set does not hold it', async () => {
    const old = await put(randomBytes(2000))
    await sleep(CLOCK_MARGIN_MS)
    const createdBefore = Date.now()
    await sleep(CLOCK_MARGIN_MS)
    const fresh = await put(randomBytes(2000))
    expect((await stat(join(dir, 'pieces', fresh.slice(0, 2), fresh.slice(2, 4), fresh))).ctimeMs).toBeGreaterThan(createdBefore)
    const result = await client.retain(url, node.id, signed(retainSet([]), createdBefore))
    expect(result).toEqual({ scanned: 2, deleted: 1, deletedBytes: PIECE_HEADER_BYTES + 2000, kept: 1 })
    expect((await get(old)).status).toBe(404)
    expect((await get(fresh)).status).toBe(200)
  })

  it('never touches an upload in flight', async () => {
    const pieceId = newPieceId()
    const data = randomBytes(200_000)
    let finish: (() => void) | undefined
    const uploaded = new Promise<number>((resolve, reject) => {
      const req = request(`${url}/pieces/${pieceId}`, { method: 'PUT', headers: { ...auth(pieceId, 'put'), 'content-length': String(data.length) } }, (res) => {
        res.resume()
        res.on('end', () => { resolve(res.statusCode ?? 0) })
      })
      req.on('error', reject)
      req.write(data.subarray(0, 100_000))
      finish = () => { req.end(data.subarray(100_000)) }
    })
    let tmp: string[] = []
    for (let i = 0; i < 200 && tmp.length === 0; i++) {
      tmp = await readdir(join(dir, 'tmp'))
      if (tmp.length === 0) await sleep(10)
    }
    expect(tmp).toHaveLength(1)
    const result = await client.retain(url, node.id, signed(retainSet([]), Date.now() + 1000))
    expect(result).toEqual({ scanned: 0, deleted: 0, deletedBytes: 0, kept: 0 })
    expect(await readdir(join(dir, 'tmp'))).toEqual(tmp)
    finish!()
    expect(await uploaded).toBe(201)
    expect((await get(pieceId)).body.equals(data)).toBe(true)
  })

  it('refuses unsigned, forged, tampered, foreign and malformed requests, deleting nothing', async () => {
    const ids: string[] = []
    for (let i = 0; i < 5; i++) ids.push(await put(randomBytes(500)))
    const empty = retainSet([])
    const createdBefore = Date.now() + 1000
    const good = signed(empty, createdBefore)
    const other = Identity.generate()
    const tampered = Buffer.from(good.body)
    tampered[tampered.length - 1] ^= 0x01
    const garbageFilter = signRetainRequest(coordinator, { version: 1, nodeId: node.id, createdBefore, filter: Buffer.from('not a filter') })
    const badMagic = Buffer.from(good.body)
    badMagic[0] ^= 0x20
    const foreign = signed(empty, createdBefore, coordinator, other.id)
    const future = signed(empty, Date.now() + 10 * 60_000)
    const cases: Array<[string, Buffer, string | undefined, number, string]> = [
      ['no signature', good.body, undefined, 401, 'missing-signature'],
      ['signed by someone else', good.body, signed(empty, createdBefore, other).signature, 403, 'bad-signature'],
      ['garbage signature', good.body, 'AAAA', 403, 'bad-signature'],
      ['body changed after signing', tampered, good.signature, 403, 'bad-signature'],
      ['for another node', foreign.body, foreign.signature, 403, 'wrong-node'],
      ['a filter that is not one', garbageFilter.body, garbageFilter.signature, 400, 'malformed'],
      ['not a retain request', badMagic, coordinator.sign(badMagic).toString('base64url'), 400, 'malformed'],
      ['createdBefore in the future', future.body, future.signature, 400, 'future']
    ]
    for (const [what, body, signature, status, reason] of cases) {
      const reply = await postRetain(body, signature)
      expect(reply.status, what).toBe(status)
      expect(errorOf(reply), what).toMatchObject({ name: 'RetainRequestError', reason })
    }
    // Through the client: a 'refused' error carrying the status.
    await expect(client.retain(url, node.id, { body: good.body, signature: signed(empty, createdBefore, other).signature }))
      .rejects.toMatchObject({ name: 'PieceTransferError', kind: 'refused', status: 403 })
    expect(store.usage().pieces).toBe(5)
    for (const id of ids) expect((await get(id)).status, id).toBe(200)
    // The genuine request still works afterwards.
    expect(await client.retain(url, node.id, good)).toMatchObject({ deleted: 5 })
    expect((await send(`${url}/retain`)).status).toBe(405)
  })

  it('refuses a body over the limit with 413 without reading it', async () => {
    const reply = await new Promise<Reply>((resolve, reject) => {
      const req = request(`${url}/retain`, { method: 'POST', headers: { 'content-length': String(MAX_RETAIN_BODY_BYTES + 1), [SIGNATURE_HEADER]: 'x' } }, (res) => {
        const parts: Buffer[] = []
        res.on('data', (c: Buffer) => parts.push(c))
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }); req.destroy() })
      })
      req.on('error', reject)
      req.write(Buffer.alloc(1000))
    })
    expect(reply.status).toBe(413)
    expect(errorOf(reply)).toMatchObject({ name: 'RequestTooLargeError', reason: 'request-too-large' })
  })

  it('handles one retain at a time: a second one meanwhile gets 409', async () => {
    const id = await put(randomBytes(100))
    const { body, signature } = signed(retainSet([id]), Date.now() + 1000)
    // The first request is under way (its body half sent) when the second arrives.
    let finish: (() => void) | undefined
    const first = new Promise<Reply>((resolve, reject) => {
      const req = request(`${url}/retain`, { method: 'POST', headers: { 'content-length': String(body.length), [SIGNATURE_HEADER]: signature } }, (res) => {
        const parts: Buffer[] = []
        res.on('data', (c: Buffer) => parts.push(c))
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }) })
      })
      req.on('error', reject)
      req.write(body.subarray(0, 10))
      finish = () => { req.end(body.subarray(10)) }
    })
    await sleep(50)
    const second = await postRetain(body, signature)
    expect(second.status).toBe(409)
    expect(errorOf(second)).toMatchObject({ name: 'RetainInProgressError', reason: 'retain-in-progress' })
    finish!()
    const done = await first
    expect(done.status).toBe(200)
    expect(JSON.parse(done.body.toString('utf8'))).toEqual({ scanned: 1, deleted: 0, deletedBytes: 0, kept: 1 })
    // Once the first is done, the next one runs.
    expect((await postRetain(body, signature)).status).toBe(200)
  })

  it('stops between pieces when aborted, leaving the counters right', async () => {
    for (let i = 0; i < 10; i++) await put(randomBytes(100))
    const controller = new AbortController()
    controller.abort(new Error('stop'))
    await expect(store.retain(retainSet([]), Date.now() + 1000, { signal: controller.signal })).rejects.toThrow('stop')
    expect(store.usage().pieces).toBe(10)
    expect(await pieceFiles()).toBe(10)
  })
})

describe('retain requests', () => {
  it('encode to the documented layout and verify only for the named node and trusted key', () => {
    const coordinator = Identity.generate()
    const nodeId = 'ab'.repeat(20)
    const filter = BloomFilter.forCount(3, 0.1, Buffer.alloc(16, 9))
    filter.add('x')
    const req = { version: 1 as const, nodeId, createdBefore: 1_700_000_000_123, filter: filter.encode() }
    const body = encodeRetainRequest(req)
    expect(body.subarray(0, 16).toString('latin1')).toBe('shoal-retain:v1\n')
    expect(RETAIN_MAGIC.length).toBe(16)
    expect(body.subarray(16, 36).toString('hex')).toBe(nodeId)
    expect(body.readBigUInt64BE(36)).toBe(1_700_000_000_123n)
    expect(body.subarray(44).equals(filter.encode())).toBe(true)
    const { body: signedBody, signature } = signRetainRequest(coordinator, req)
    expect(signedBody.equals(body)).toBe(true)
    expect(verifyRetainRequest(body, signature, { coordinatorKey: coordinator.publicKey, nodeId, now: 1_700_000_000_000 })).toEqual(req)
    expect(() => verifyRetainRequest(body, signature, { coordinatorKey: coordinator.publicKey, nodeId: 'cd'.repeat(20) }))
      .toThrow(expect.objectContaining({ name: 'RetainRequestError', reason: 'wrong-node' }))
    expect(() => verifyRetainRequest(body, signature, { coordinatorKey: Identity.generate().publicKey, nodeId }))
      .toThrow(expect.objectContaining({ reason: 'bad-signature' }))
    expect(() => verifyRetainRequest(body, signature, { coordinatorKey: 'bm90IGEga2V5', nodeId }))
      .toThrow(expect.objectContaining({ reason: 'bad-signature' }))
    expect(() => verifyRetainRequest(body, signature, { coordinatorKey: coordinator.publicKey, nodeId, now: 1_600_000_000_000 }))
      .toThrow(expect.objectContaining({ reason: 'future' }))
    for (const cut of [0, 15, 43, body.length - 1]) {
      const short = body.subarray(0, cut)
      expect(() => verifyRetainRequest(short, coordinator.sign(short).toString('base64url'), { coordinatorKey: coordinator.publicKey, nodeId }), String(cut))
        .toThrow(expect.objectContaining({ reason: 'malformed' }))
    }
    expect(() => encodeRetainRequest({ ...req, nodeId: 'AB' })).toThrow(RangeError)
    expect(() => encodeRetainRequest({ ...req, createdBefore: -1 })).toThrow(RangeError)
  })
})
