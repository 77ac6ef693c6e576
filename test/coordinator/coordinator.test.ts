/**
 * The coordinator as a process would run it (real SQLite, real HTTP on loopback): idempotent
 * lifecycle, identity kept across restarts, and heartbeats validated as the untrusted input they are.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Coordinator } from '../../src/coordinator/coordinator.js'
import { Identity } from '../../src/crypto/identity.js'
import { HEARTBEAT_PATH, SIGNATURE_HEADER, type HeartbeatMessage } from '../../src/node/protocol.js'
import { silentLogger } from '../../src/util/logger.js'

describe('Coordinator', () => {
  let dir: string
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'shoal-coord-')) })
  afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

  it('starts, stops twice safely, and keeps its identity across restarts', async () => {
    const a = new Coordinator({ dataDir: dir, port: 0 }, { logger: silentLogger })
    await a.start()
    const id = a.id
    expect(id).toMatch(/^[0-9a-f]{40}$/)
    await a.stop()
    await a.stop()
    const b = new Coordinator({ dataDir: dir, port: 0 }, { logger: silentLogger })
    await b.start()
    expect(b.id).toBe(id)
    await b.stop()
  })

  describe('heartbeats', () => {
    let c: Coordinator
    const node = Identity.generate()
    beforeAll(async () => {
      c = new Coordinator({ dataDir: join(dir, 'hb'), port: 0 }, { logger: silentLogger })
      await c.start()
    })
    afterAll(async () => { await c.stop() })

    const message = (over: Partial<HeartbeatMessage> = {}): HeartbeatMessage => ({
      version: 1, id: node.id, publicKey: node.publicKey, url: 'http://127.0.0.1:9', labels: { provider: 'aws', region: 'us-east-1', operator: 'op-x', country: 'US' },
      capacityBytes: 1000, usedBytes: 10, freeBytes: 990, pieces: 1, timestamp: Date.now(), ...over
    })
    const send = async (body: Buffer, signature?: string): Promise<{ status: number, json: any }> => {
      const res = await fetch(c.url + HEARTBEAT_PATH, { method: 'POST', body, headers: signature === undefined ? {} : { [SIGNATURE_HEADER]: signature } })
      return { status: res.status, json: await res.json() }
    }
    const signed = (msg: unknown, by = node): [Buffer, string] => {
      const body = Buffer.from(JSON.stringify(msg))
      return [body, by.sign(body).toString('base64url')]
    }

    it('accepts a signed heartbeat and lists the node online', async () => {
      const r = await send(...signed(message()))
      expect(r.status).toBe(200)
      expect(r.json.coordinatorId).toBe(c.id)
      const status = await (await fetch(c.url + '/api/status')).json() as { nodes: any[] }
      const listed = status.nodes.find((n: any) => n.id === node.id)
      expect(listed).toMatchObject({ online: true, provider: 'aws', region: 'us-east-1', subnet: '127.0.0.0/24', freeBytes: 990 })
    })

    it('refuses unsigned, wrongly signed, impersonating, stale and malformed heartbeats', async () => {
      const other = Identity.generate()
      const cases: Array<[string, Buffer, string | undefined, RegExp]> = [
        ['unsigned', Buffer.from(JSON.stringify(message())), undefined, /signature does not verify/],
        ['signed by another key', ...signed(message(), other), /signature does not verify/],
        ['id of another node', ...signed(message({ id: other.id }), node), /does not derive from its public key/],
        ['stale', ...signed(message({ timestamp: Date.now() - 3_600_000 })), /off the coordinator's clock/],
        ['bad url', ...signed(message({ url: 'file:///etc/passwd' })), /field url/],
        ['bad label', ...signed(message({ labels: { provider: 'a b', region: 'r', operator: 'o', country: '' } })), /labels.provider/],
        ['negative capacity', ...signed(message({ freeBytes: -1 })), /freeBytes/],
        ['not JSON', Buffer.from('{nope'), 'x', /not valid JSON/]
      ]
      for (const [what, body, sig, expected] of cases) {
        const r = await send(body, sig)
        expect(r.status, what).toBe(401)
        expect(r.json.error.name, what).toBe('InvalidHeartbeatError')
        expect(r.json.error.message, what).toMatch(expected)
      }
      const big = await send(Buffer.alloc(100_000, 32), 'x')
      expect(big.status).toBe(413)
    })
  })
})
