/**
 * Durability end to end, on a real local network: audits catch bit rot and dropped pieces within a
 * bounded number of rounds, the node is penalised and the segment repaired; a provider outage is
 * repaired back to full redundancy and re-spread when the provider returns; garbage collection
 * removes what nothing references (and nothing else, even while deletes and repairs race); a node
 * exits gracefully. Timers are off (interval 0): the test runs each pass with the CLI, so every
 * step is deterministic.
 */
import { open, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { getBytes, LocalNetwork, pseudoRandom, putStream, randomName, sleep, type NetworkNode } from './harness.js'

const MiB = 1024 * 1024

async function pieceFiles (node: NetworkNode): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (const entry of await readdir(join(node.dataDir, 'pieces'), { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && /^[0-9a-f]{64}$/.test(entry.name)) out.set(entry.name, join(entry.parentPath, entry.name))
  }
  return out
}

interface Located { segments: Array<{ index: number, k: number, m: number, underPlaced: boolean, pieces: Array<{ index: number, nodeId: string, pieceId: string, provider: string, online: boolean }> }> }

describe('durability', () => {
  let net: LocalNetwork
  const objects = new Map<string, Buffer>()
  let bucket: string

  const locate = async (key: string): Promise<Located> => await net.json('locate', `${bucket}/${key}`)
  const node = (id: string): NetworkNode => net.network.nodes.find((n) => n.id === id)!
  const expectAllExact = async (): Promise<void> => {
    for (const [key, data] of objects) {
      const got = await getBytes(net.network.coordinator.url, bucket, key)
      expect(got.status, key).toBe(200)
      expect(Buffer.compare(got.body, data), key).toBe(0)
    }
  }
  const put = async (key: string, data: Buffer): Promise<void> => {
    const r = await putStream(net.network.coordinator.url, bucket, key, data.length, (async function * () { yield data })())
    expect('status' in r && r.status).toBe(201)
    objects.set(key, data)
  }

  beforeAll(async () => {
    net = await LocalNetwork.start({ args: ['--audit-interval', '0', '--repair-interval', '0', '--gc-interval', '0', '--repair-grace', '1s', '--gc-grace', '1s'] })
    bucket = randomName()
    await net.json('mb', bucket)
    for (let i = 0; i < 4; i++) await put(`obj-${i}`, pseudoRandom(2 * MiB + 1000 * i, 100 + i))
  })
  afterAll(async () => { await net?.stop() })

  it('audits find a rotten piece within the bounded number of rounds; the node is penalised and the segment repaired', async () => {
    const located = await locate('obj-0')
    const victim = located.segments[0].pieces[0]
    const files = await pieceFiles(node(victim.nodeId))
    const fh = await open(files.get(victim.pieceId)!, 'r+')
    const b = Buffer.alloc(1)
    await fh.read(b, 0, 1, 64 + 5000)
    b[0] ^= 0x5a
    await fh.write(b, 0, 1, 64 + 5000)
    await fh.close()
    // Each round audits AUDIT_PIECES_PER_ROUND (2) pieces per node, walking all of them: the bound.
    const bound = Math.ceil(files.size / 2)
    let rounds = 0
    let found: any
    while (found === undefined && rounds < bound) {
      const report = await net.json('audit')
      rounds++
      found = report.failed.find((f: any) => f.pieceId === victim.pieceId)
      expect(report.failed.filter((f: any) => f.pieceId !== victim.pieceId)).toEqual([])
    }
    expect(found, `not found within ${bound} rounds`).toBeDefined()
    const status = await net.json('status')
    const penalised = status.nodes.find((n: any) => n.id === victim.nodeId)
    expect(penalised.auditFailures).toBe(1)
    expect(penalised.auditScore).toBeLessThan(1)
    const repair = await net.json('repair')
    expect(repair.repaired).toBeGreaterThanOrEqual(1)
    const after = await locate('obj-0')
    expect(after.segments[0].pieces.length).toBeGreaterThanOrEqual(6)
    expect(after.segments[0].pieces.some((p) => p.pieceId === victim.pieceId)).toBe(false)
    await expectAllExact()
  })

  it('a node that drops a piece is caught by audits too', async () => {
    const located = await locate('obj-1')
    const victim = located.segments[1].pieces[2]
    const files = await pieceFiles(node(victim.nodeId))
    await rm(files.get(victim.pieceId)!)
    let found = false
    for (let round = 0; round < Math.ceil(files.size / 2) && !found; round++) {
      found = (await net.json('audit')).failed.some((f: any) => f.pieceId === victim.pieceId)
    }
    expect(found).toBe(true)
    expect((await net.json('repair')).repaired).toBeGreaterThanOrEqual(1)
    expect((await locate('obj-1')).segments[1].pieces.length).toBeGreaterThanOrEqual(6)
    await expectAllExact()
  })

  it('repairs a provider outage back to full redundancy, then re-spreads and collects stale pieces when it returns', async () => {
    const provider = net.network.nodes[0].provider
    const down = net.nodesWhere((n) => n.provider === provider)
    net.signal(down, 'SIGSTOP')
    try {
      await net.waitOnline(net.network.nodes.length - down.length)
      await sleep(1200) // past the 1 s repair grace
      const repair = await net.json('repair')
      expect(repair.repaired).toBeGreaterThan(0)
      expect(repair.failed).toBe(0)
      // A rebuilt piece whose upload times out, or a node that missed a heartbeat (this machine under
      // load), leaves its segment for the next pass, as the repair timer would. (A pass's atRisk counts
      // what was at risk when it started.)
      for (let pass = 0; pass < 5 && (await net.json('repair')).atRisk > 0; pass++) await sleep(500)
      for (const key of objects.keys()) {
        for (const s of (await locate(key)).segments) {
          expect(s.pieces.filter((p) => p.online && p.provider !== provider).length, `${key} segment ${s.index}: ${JSON.stringify(s.pieces.map((p) => [p.index, p.provider, p.online]))}`).toBeGreaterThanOrEqual(6)
          expect(s.underPlaced).toBe(true) // two providers can't meet a three-provider policy
        }
      }
      await expectAllExact()
    } finally {
      net.signal(down, 'SIGCONT')
    }
    await net.waitOnline(net.network.nodes.length)
    // Back: stale pieces on the returned nodes are garbage; under-placed segments are re-spread.
    const gc = await net.json('gc')
    expect(gc.deletedPieces).toBeGreaterThan(0)
    // Re-spread (or, where the stale pieces still meet the policy, just clear the flag).
    await net.json('repair')
    const status = await net.json('status')
    expect(status.underPlacedSegments).toBe(0)
    for (const key of objects.keys()) {
      for (const s of (await locate(key)).segments) {
        // The policy: losing the provider holding most pieces still leaves k.
        const perProvider = new Map<string, number>()
        for (const p of s.pieces) perProvider.set(p.provider, (perProvider.get(p.provider) ?? 0) + 1)
        expect(s.pieces.length - Math.max(...perProvider.values())).toBeGreaterThanOrEqual(s.k)
        expect(perProvider.size).toBe(3)
      }
    }
    await expectAllExact()
  })

  it('garbage collection deletes only unreferenced pieces, even while deletes and repairs race', async () => {
    for (let i = 0; i < 6; i++) await put(`race-${i}`, pseudoRandom(MiB + 17 * i, 300 + i))
    // Take one node down past the grace so repair has work, then delete, repair and collect at once.
    const target = net.network.nodes[4]
    net.signal([target], 'SIGSTOP')
    try {
      await net.waitOnline(net.network.nodes.length - 1)
      await sleep(1200)
      const t0 = Date.now()
      const deleted = ['race-0', 'race-2', 'race-4']
      await Promise.all([
        ...deleted.map(async (key) => { await net.json('rm', `${bucket}/${key}`); objects.delete(key) }),
        net.json('repair'),
        net.json('gc'),
        net.json('repair')
      ])
      process.stdout.write(`race took ${Date.now() - t0} ms\n`)
    } finally {
      net.signal([target], 'SIGCONT')
    }
    await net.waitOnline(net.network.nodes.length)
    await sleep(1200) // every piece written by the race is now older than the GC grace
    await net.json('repair')
    await net.json('gc')
    // Every piece a remaining object references is on its node; nothing else is.
    const referenced = new Map<string, Set<string>>()
    for (const key of objects.keys()) {
      for (const s of (await locate(key)).segments) {
        for (const p of s.pieces) {
          const set = referenced.get(p.nodeId) ?? new Set<string>()
          set.add(p.pieceId)
          referenced.set(p.nodeId, set)
        }
      }
    }
    let stray = 0
    for (const n of net.network.nodes) {
      const files = await pieceFiles(n)
      for (const id of referenced.get(n.id) ?? []) expect(files.has(id), `piece ${id} on ${n.id}`).toBe(true)
      for (const id of files.keys()) if (!(referenced.get(n.id)?.has(id) ?? false)) stray++
    }
    // A Bloom filter with 10% false positives may keep a few unreferenced pieces for a later pass.
    const total = [...referenced.values()].reduce((a, s) => a + s.size, 0)
    expect(stray).toBeLessThanOrEqual(Math.ceil(0.25 * total))
    await expectAllExact()
  })

  it('a node exits gracefully: its pieces move first, then it is marked exited', async () => {
    const leaving = net.network.nodes[7]
    const result = await net.json('node', 'exit', leaving.id.slice(0, 10), '--wait', '--timeout', '60s')
    expect(result).toEqual({ node: leaving.id, exitState: 'exited' })
    for (const key of objects.keys()) {
      for (const s of (await locate(key)).segments) {
        expect(s.pieces.some((p) => p.nodeId === leaving.id)).toBe(false)
        expect(s.pieces.length).toBeGreaterThanOrEqual(6)
      }
    }
    const status = await net.json('status')
    expect(status.nodes.find((n: any) => n.id === leaving.id).exitState).toBe('exited')
    // Then it leaves: told by its next heartbeat reply, the agent stops by itself.
    let gone = false
    for (let i = 0; i < 40 && !gone; i++) {
      try { process.kill(leaving.pid, 0); await sleep(250) } catch { gone = true }
    }
    expect(gone).toBe(true)
    await expectAllExact()
  })
})
