import { randomBytes } from 'node:crypto'
import { mkdtemp, open, readFile, readdir, rm } from 'node:fs/promises'
import { type IncomingHttpHeaders, type Server, createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Identity, idFromPublicKey, verifySignature } from '../../src/crypto/identity.js'
import { MERKLE_BLOCK_SIZE, merkleRoot } from '../../src/crypto/merkle.js'
import {
  ORDER_LIMIT_HEADER, ORDER_LIMIT_TTL_MS, ORDER_PROOF_HEADER, type OrderLimit, type PieceAction, encodeOrderLimit,
  newPieceId, newSerial, signOrderLimit, signOrderProof
} from '../../src/crypto/order-limit.js'
import { READ_CHUNK_BYTES } from '../../src/node/file-piece-store.js'
import { NodeAgent, type NodeAgentInit } from '../../src/node/node-agent.js'
import {
  HEARTBEAT_PATH, IDENTITY_PATH, PIECE_HASH_HEADER, SIGNATURE_HEADER, type HeartbeatMessage, type PieceReceipt, verifyReceipt
} from '../../src/node/protocol.js'
import { createLogger, silentLogger } from '../../src/util/logger.js'

function rootOf (data: Buffer): string {
  const blocks: Buffer[] = []
  for (let off = 0; off < data.length; off += MERKLE_BLOCK_SIZE) blocks.push(data.subarray(off, off + MERKLE_BLOCK_SIZE))
  return merkleRoot(blocks).toString('hex')
}

interface Reply {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
  complete: boolean
  error?: Error
}

/** A plain node:http client; resolves with whatever arrived, also when the connection is cut. */
async function send (url: string, options: { method?: string, headers?: Record<string, string>, body?: Buffer, chunked?: boolean } = {}): Promise<Reply> {
  return await new Promise((resolve, reject) => {
    const headers = { ...options.headers }
    if (options.body !== undefined && options.chunked !== true) headers['content-length'] = String(options.body.length)
    const req = request(url, { method: options.method ?? 'GET', headers }, (res) => {
      const parts: Buffer[] = []
      let error: Error | undefined
      res.on('data', (c: Buffer) => parts.push(c))
      res.on('error', (err) => { error = err })
      res.on('close', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts), complete: res.complete, error })
      })
    })
    req.on('error', reject)
    if (options.body !== undefined && options.chunked === true) {
      // Several writes without a Content-Length: the node must enforce the limit while reading.
      for (let off = 0; off < options.body.length; off += 1000) req.write(options.body.subarray(off, off + 1000))
      req.end()
    } else {
      req.end(options.body)
    }
  })
}

function errorOf (reply: Reply): { name: string, reason?: string, message: string } {
  return JSON.parse(reply.body.toString('utf8')).error
}

/** A stand-in coordinator: serves its identity and records heartbeats. */
class FakeCoordinator {
  readonly identity: Identity
  readonly heartbeats: Array<{ body: Buffer, signature: string }> = []
  heartbeatStatus = 200
  readonly #server: Server
  url = ''

  constructor (identity: Identity) {
    this.identity = identity
    this.#server = createServer((req, res) => {
      const parts: Buffer[] = []
      req.on('data', (c: Buffer) => parts.push(c))
      req.on('end', () => {
        if (req.url === IDENTITY_PATH) {
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: this.identity.id, publicKey: this.identity.publicKey }))
        } else if (req.url === HEARTBEAT_PATH && req.method === 'POST') {
          this.heartbeats.push({ body: Buffer.concat(parts), signature: String(req.headers[SIGNATURE_HEADER]) })
          res.writeHead(this.heartbeatStatus, { 'content-type': 'application/json' })
            .end(JSON.stringify({ coordinatorId: this.identity.id, publicKey: this.identity.publicKey, offlineAfterMs: 5000 }))
        } else {
          res.writeHead(404).end()
        }
      })
    })
  }

  async start (): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`
  }

  async stop (): Promise<void> {
    this.#server.closeAllConnections()
    await new Promise((resolve) => this.#server.close(resolve))
  }
}

async function waitFor (check: () => boolean, what: string, ms = 5000): Promise<void> {
  const until = Date.now() + ms
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe('piece server', () => {
  let dir: string
  let coordinator: FakeCoordinator
  let gateway: Identity
  let agent: NodeAgent
  let init: NodeAgentInit

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-node-'))
    coordinator = new FakeCoordinator(Identity.generate())
    await coordinator.start()
    gateway = Identity.generate()
    init = {
      dataDir: dir,
      port: 0,
      coordinatorUrl: coordinator.url,
      coordinatorKey: coordinator.identity.publicKey,
      labels: { provider: 'aws', region: 'us-east-1', operator: 'op-1', country: 'US' },
      capacityBytes: 1024 ** 3,
      heartbeatIntervalMs: 50
    }
    agent = new NodeAgent(init, { logger: silentLogger })
    await agent.start()
  })

  afterEach(async () => {
    await agent.stop()
    await coordinator.stop()
    await rm(dir, { recursive: true, force: true })
  })

  function limitFor (pieceId: string, action: PieceAction, overrides: Partial<OrderLimit> = {}): OrderLimit {
    const now = Date.now()
    return {
      version: 1,
      serial: newSerial(),
      coordinatorId: coordinator.identity.id,
      nodeId: agent.id,
      pieceId,
      action,
      maxBytes: 1024 * 1024,
      issuedAt: now,
      expiresAt: now + ORDER_LIMIT_TTL_MS,
      downloaderKey: gateway.publicKey,
      ...overrides
    }
  }

  function auth (limit: OrderLimit, signer = coordinator.identity, holder = gateway): Record<string, string> {
    return { [ORDER_LIMIT_HEADER]: signOrderLimit(signer, limit), [ORDER_PROOF_HEADER]: signOrderProof(holder, limit) }
  }

  async function put (pieceId: string, data: Buffer, extra: Record<string, string> = {}): Promise<Reply> {
    return await send(`${agent.url}/pieces/${pieceId}`, { method: 'PUT', headers: { ...auth(limitFor(pieceId, 'put')), ...extra }, body: data })
  }

  async function get (pieceId: string): Promise<Reply> {
    return await send(`${agent.url}/pieces/${pieceId}`, { headers: auth(limitFor(pieceId, 'get')) })
  }

  it('stores, serves and deletes a piece, with a receipt signed by the node', async () => {
    const pieceId = newPieceId()
    const data = randomBytes(200_000)
    const stored = await put(pieceId, data, { [PIECE_HASH_HEADER]: rootOf(data) })
    expect(stored.status).toBe(201)
    const receipt = JSON.parse(stored.body.toString('utf8')) as PieceReceipt
    expect(receipt).toMatchObject({ pieceId, nodeId: agent.id, size: data.length, hash: rootOf(data) })
    expect(verifyReceipt(receipt, agent.publicKey)).toBe(true)
    expect(verifyReceipt({ ...receipt, size: receipt.size + 1 }, agent.publicKey)).toBe(false)
    expect(verifyReceipt(receipt, gateway.publicKey)).toBe(false)
    expect(idFromPublicKey(agent.publicKey)).toBe(agent.id)

    const got = await get(pieceId)
    expect(got.status).toBe(200)
    expect(got.headers['content-length']).toBe(String(data.length))
    expect(got.headers[PIECE_HASH_HEADER]).toBe(rootOf(data))
    expect(got.body.equals(data)).toBe(true)

    const info = await send(`${agent.url}/info`)
    expect(info.status).toBe(200)
    expect(JSON.parse(info.body.toString('utf8'))).toMatchObject({
      id: agent.id,
      publicKey: agent.publicKey,
      labels: init.labels,
      pieces: 1,
      version: expect.any(String),
      capacity: { capacityBytes: 1024 ** 3, usedBytes: data.length + 64, freeBytes: expect.any(Number) }
    })

    const deleted = await send(`${agent.url}/pieces/${pieceId}`, { method: 'DELETE', headers: auth(limitFor(pieceId, 'delete')) })
    expect(deleted.status).toBe(204)
    const gone = await get(pieceId)
    expect(gone.status).toBe(404)
    expect(errorOf(gone)).toMatchObject({ name: 'PieceNotFoundError', reason: 'not-found' })
  })

  it('refuses each bad order limit with its status and reason', async () => {
    const pieceId = newPieceId()
    const data = randomBytes(1000)
    const url = `${agent.url}/pieces/${pieceId}`
    const other = Identity.generate()
    const cases: Array<[string, Record<string, string>, number, string]> = []

    cases.push(['no limit', {}, 401, 'missing'])
    cases.push(['garbage limit', { [ORDER_LIMIT_HEADER]: 'not-a-limit', [ORDER_PROOF_HEADER]: 'x' }, 403, 'malformed'])
    const forged = limitFor(pieceId, 'put')
    const forgedBytes = encodeOrderLimit(forged)
    cases.push(['signed by another key', {
      [ORDER_LIMIT_HEADER]: `${forgedBytes.toString('base64url')}.${other.sign(forgedBytes).toString('base64url')}`,
      [ORDER_PROOF_HEADER]: signOrderProof(gateway, forged)
    }, 403, 'bad-signature'])
    cases.push(['untrusted coordinator', auth(limitFor(pieceId, 'put', { coordinatorId: other.id }), other), 403, 'untrusted-coordinator'])
    const past = Date.now() - 120_000
    cases.push(['expired', auth(limitFor(pieceId, 'put', { issuedAt: past, expiresAt: past + 60_000 })), 403, 'expired'])
    cases.push(['wrong node', auth(limitFor(pieceId, 'put', { nodeId: other.id })), 403, 'wrong-node'])
    cases.push(['wrong piece', auth(limitFor(newPieceId(), 'put')), 403, 'wrong-piece'])
    cases.push(['wrong action', auth(limitFor(pieceId, 'get')), 403, 'wrong-action'])
    cases.push(['proof by the wrong key', auth(limitFor(pieceId, 'put'), coordinator.identity, other), 403, 'bad-request-signature'])
    const noProof = auth(limitFor(pieceId, 'put'))
    delete noProof[ORDER_PROOF_HEADER]
    cases.push(['no proof', noProof, 403, 'bad-request-signature'])

    for (const [what, headers, status, reason] of cases) {
      const reply = await send(url, { method: 'PUT', headers, body: data })
      expect(reply.status, what).toBe(status)
      const error = errorOf(reply)
      expect(error, what).toMatchObject({ name: 'OrderLimitError', reason })
      expect(Object.keys(error).sort(), what).toEqual(['message', 'name', 'reason'])
      expect(error.message, what).not.toMatch(/\n\s+at /) // no stack
    }
    // None of them stored anything.
    expect((await get(pieceId)).status).toBe(404)
    expect(await readdir(join(dir, 'tmp'))).toEqual([])
  })

  it('refuses a body larger than the limit, mid-stream, keeping nothing', async () => {
    const pieceId = newPieceId()
    const limit = limitFor(pieceId, 'put', { maxBytes: 4000 })
    for (const chunked of [false, true]) {
      const reply = await send(`${agent.url}/pieces/${pieceId}`, {
        method: 'PUT', headers: auth({ ...limit, serial: newSerial() }), body: randomBytes(10_000), chunked
      })
      expect(reply.status, `chunked: ${chunked}`).toBe(413)
      expect(errorOf(reply)).toMatchObject({ name: 'PieceTooLargeError', reason: 'too-large' })
    }
    expect((await get(pieceId)).status).toBe(404)
    expect(await readdir(join(dir, 'tmp'))).toEqual([])
    // A body of exactly maxBytes is fine.
    const exact = await send(`${agent.url}/pieces/${pieceId}`, { method: 'PUT', headers: auth({ ...limit, serial: newSerial() }), body: randomBytes(4000), chunked: true })
    expect(exact.status).toBe(201)
  })

  it('refuses to serve a piece larger than the get limit allows', async () => {
    const pieceId = newPieceId()
    expect((await put(pieceId, randomBytes(5000))).status).toBe(201)
    const reply = await send(`${agent.url}/pieces/${pieceId}`, { headers: auth(limitFor(pieceId, 'get', { maxBytes: 4999 })) })
    expect(reply.status).toBe(403)
    expect(errorOf(reply)).toMatchObject({ name: 'OrderLimitError', reason: 'too-large' })
  })

  it('refuses a replayed serial, also after a restart', async () => {
    const pieceId = newPieceId()
    const headers = auth(limitFor(pieceId, 'put'))
    const data = randomBytes(3000)
    expect((await send(`${agent.url}/pieces/${pieceId}`, { method: 'PUT', headers, body: data })).status).toBe(201)
    const getHeaders = auth(limitFor(pieceId, 'get'))
    expect((await send(`${agent.url}/pieces/${pieceId}`, { headers: getHeaders })).status).toBe(200)

    const again = await send(`${agent.url}/pieces/${pieceId}`, { headers: getHeaders })
    expect(again.status).toBe(403)
    expect(errorOf(again)).toMatchObject({ name: 'OrderLimitError', reason: 'replayed' })

    await agent.stop()
    agent = new NodeAgent(init, { logger: silentLogger })
    await agent.start()
    for (const [method, h] of [['GET', getHeaders], ['PUT', headers]] as const) {
      const replay = await send(`${agent.url}/pieces/${pieceId}`, { method, headers: h, body: method === 'PUT' ? data : undefined })
      expect(replay.status, method).toBe(403)
      expect(errorOf(replay), method).toMatchObject({ reason: 'replayed' })
    }
    // A fresh limit still works after the restart, and the piece survived it.
    expect((await get(pieceId)).body.equals(data)).toBe(true)
  })

  it('refuses a piece whose bytes do not match the announced hash, and malformed hashes or ids', async () => {
    const pieceId = newPieceId()
    const data = randomBytes(9000)
    const mismatch = await put(pieceId, data, { [PIECE_HASH_HEADER]: rootOf(randomBytes(9000)) })
    expect(mismatch.status).toBe(400)
    expect(errorOf(mismatch)).toMatchObject({ name: 'PieceHashMismatchError', reason: 'hash-mismatch' })
    expect((await get(pieceId)).status).toBe(404)

    const malformed = await put(pieceId, data, { [PIECE_HASH_HEADER]: 'abc' })
    expect(malformed.status).toBe(400)
    expect(errorOf(malformed)).toMatchObject({ name: 'InvalidPieceHashError', reason: 'invalid-piece-hash' })

    for (const bad of ['..%2F..%2Fetc%2Fpasswd', 'ABC', 'a'.repeat(63)]) {
      const reply = await send(`${agent.url}/pieces/${bad}`, { headers: auth(limitFor(pieceId, 'get')) })
      expect(reply.status, bad).toBe(400)
      expect(errorOf(reply)).toMatchObject({ name: 'InvalidPieceIdError', reason: 'invalid-piece-id' })
    }
    expect((await put(pieceId, data)).status).toBe(201)
    const twice = await put(pieceId, data)
    expect(twice.status).toBe(409)
    expect(errorOf(twice)).toMatchObject({ name: 'PieceExistsError', reason: 'exists' })

    const route = await send(`${agent.url}/nope`)
    expect(route.status).toBe(404)
    expect(errorOf(route)).toMatchObject({ name: 'RouteNotFoundError' })
    const method = await send(`${agent.url}/pieces/${pieceId}`, { method: 'POST', headers: auth(limitFor(pieceId, 'get')) })
    expect(method.status).toBe(405)
  })

  it('refuses a corrupted piece before sending a byte when the damage is in its first chunk', async () => {
    const pieceId = newPieceId()
    const data = randomBytes(300_000)
    expect((await put(pieceId, data)).status).toBe(201)
    const file = join(dir, 'pieces', pieceId.slice(0, 2), pieceId.slice(2, 4), pieceId)
    const fh = await open(file, 'r+')
    await fh.write(Buffer.from([data[250_000] ^ 0xff]), 0, 1, 64 + 250_000)
    await fh.close()
    const reply = await get(pieceId)
    expect(reply.status).toBe(500)
    expect(JSON.parse(reply.body.toString()).error.name).toBe('PieceCorruptedError')
  })

  it('cuts a download short when the damage is found after the first chunk went out', async () => {
    const pieceId = newPieceId()
    const data = randomBytes(3 * READ_CHUNK_BYTES)
    const big = { maxBytes: data.length }
    const stored = await send(`${agent.url}/pieces/${pieceId}`, { method: 'PUT', headers: auth(limitFor(pieceId, 'put', big)), body: data })
    expect(stored.status).toBe(201)
    const file = join(dir, 'pieces', pieceId.slice(0, 2), pieceId.slice(2, 4), pieceId)
    const at = 2 * READ_CHUNK_BYTES + 1000
    const fh = await open(file, 'r+')
    await fh.write(Buffer.from([data[at] ^ 0xff]), 0, 1, 64 + at)
    await fh.close()
    const reply = await send(`${agent.url}/pieces/${pieceId}`, { headers: auth(limitFor(pieceId, 'get', big)) })
    expect(reply.status).toBe(200) // headers went out before the damage was found...
    expect(reply.complete).toBe(false) // ...but the body never completes
    expect(reply.body.length).toBeLessThan(data.length)
  })

  it('cuts off a client that stalls mid-upload and removes its temp file', async () => {
    await agent.stop()
    agent = new NodeAgent({ ...init, idleTimeoutMs: 300 }, { logger: silentLogger })
    await agent.start()
    const pieceId = newPieceId()
    const tmpDir = join(dir, 'tmp')
    let tmp: string[] = []
    const closed = new Promise<string>((resolve) => {
      const req = request(`${agent.url}/pieces/${pieceId}`, {
        method: 'PUT', headers: { ...auth(limitFor(pieceId, 'put')), 'content-length': '100000' }
      })
      req.on('error', (err) => { resolve(err.message) })
      req.on('response', (res) => { resolve(`status ${res.statusCode}`) })
      req.write(randomBytes(20_000)) // then nothing more
    })
    // The upload is under way: its temp file exists.
    for (let i = 0; i < 100 && tmp.length === 0; i++) {
      tmp = await readdir(tmpDir)
      if (tmp.length === 0) await new Promise((resolve) => setTimeout(resolve, 10))
    }
    expect(tmp).toHaveLength(1)
    const started = Date.now()
    expect(await closed).not.toBe('status 201')
    expect(Date.now() - started).toBeLessThan(5000)
    for (let i = 0; i < 100 && tmp.length > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20))
      tmp = await readdir(tmpDir)
    }
    expect(tmp).toEqual([])
    expect((await get(pieceId)).status).toBe(404)
  })

  it('sends signed heartbeats that describe the node', async () => {
    await waitFor(() => coordinator.heartbeats.length >= 2, 'two heartbeats')
    const { body, signature } = coordinator.heartbeats[coordinator.heartbeats.length - 1]
    expect(verifySignature(agent.publicKey, body, Buffer.from(signature, 'base64url'))).toBe(true)
    const message = JSON.parse(body.toString('utf8')) as HeartbeatMessage
    expect(message).toMatchObject({
      version: 1, id: agent.id, publicKey: agent.publicKey, url: agent.url, labels: init.labels, capacityBytes: 1024 ** 3, pieces: 0
    })
    expect(Math.abs(message.timestamp - Date.now())).toBeLessThan(5000)
  })

  it('logs coordinator outages once per transition', async () => {
    await agent.stop()
    const lines: string[] = []
    const logger = createLogger('test', { level: 'info', write: (line) => { lines.push(line) } })
    agent = new NodeAgent(init, { logger })
    await agent.start()
    await waitFor(() => agent.coordinatorReachable === true, 'registration')
    coordinator.heartbeatStatus = 503
    await waitFor(() => agent.coordinatorReachable === false, 'outage')
    const failedSoFar = coordinator.heartbeats.length
    await waitFor(() => coordinator.heartbeats.length >= failedSoFar + 5, 'more failed beats')
    coordinator.heartbeatStatus = 200
    await waitFor(() => agent.coordinatorReachable === true, 'recovery')
    expect(lines.filter((l) => l.includes('unreachable'))).toHaveLength(1)
    expect(lines.filter((l) => l.includes('reachable again'))).toHaveLength(1)
  })

  it('stops twice safely and validates its settings', async () => {
    await agent.stop()
    await agent.stop()
    expect(() => agent.id).toThrow(expect.objectContaining({ name: 'NotStartedError' }))
    const bad: Array<[Partial<NodeAgentInit>, string]> = [
      [{ dataDir: '' }, 'dataDir'],
      [{ port: 70_000 }, 'port'],
      [{ coordinatorUrl: 'ftp://x' }, 'coordinatorUrl'],
      [{ coordinatorKey: 'bm90IGEga2V5' }, 'coordinatorKey'],
      [{ capacityBytes: -1 }, 'capacityBytes'],
      [{ labels: { ...init.labels, provider: '' } }, 'labels.provider'],
      [{ labels: { ...init.labels, country: 'usa' } }, 'labels.country']
    ]
    for (const [patch, field] of bad) {
      expect(() => new NodeAgent({ ...init, ...patch }, { logger: silentLogger }), field)
        .toThrow(expect.objectContaining({ name: 'NodeConfigError', field }))
    }
    await agent.start() // restartable after stop
    expect((await send(`${agent.url}/info`)).status).toBe(200)
  })

  it('pins the coordinator key on first use and refuses a different one later', async () => {
    await agent.stop()
    const tofu = { ...init, coordinatorKey: undefined }
    agent = new NodeAgent(tofu, { logger: silentLogger })
    await agent.start()
    const pin = JSON.parse(await readFile(join(dir, 'coordinator.json'), 'utf8'))
    expect(pin).toMatchObject({ id: coordinator.identity.id, publicKey: coordinator.identity.publicKey })
    // Limits from the pinned coordinator work.
    const pieceId = newPieceId()
    expect((await put(pieceId, randomBytes(100))).status).toBe(201)
    await agent.stop()

    // The coordinator comes back with another key: the node refuses to start and says how to re-pin.
    await coordinator.stop()
    const impostor = new FakeCoordinator(Identity.generate())
    await impostor.start()
    agent = new NodeAgent({ ...tofu, coordinatorUrl: impostor.url }, { logger: silentLogger })
    await expect(agent.start()).rejects.toMatchObject({ name: 'CoordinatorTrustError', message: expect.stringContaining('delete') })
    await impostor.stop()
    coordinator = new FakeCoordinator(coordinator.identity)
    await coordinator.start()
  })

  it('waits for a coordinator that is not up yet (abortable by stop)', async () => {
    await agent.stop()
    await rm(join(dir, 'coordinator.json'), { force: true })
    const down = new NodeAgent({ ...init, coordinatorKey: undefined, coordinatorUrl: 'http://127.0.0.1:9' }, { logger: silentLogger })
    const starting = down.start()
    await new Promise((resolve) => setTimeout(resolve, 300))
    await down.stop()
    await expect(starting).rejects.toMatchObject({ name: 'NotStartedError' })
  })
})
