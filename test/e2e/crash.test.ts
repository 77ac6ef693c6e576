/**
 * Crash safety with real processes and SIGKILL: a coordinator killed mid-upload leaves no partial
 * object and loses nothing committed; nodes killed mid-upload are routed around, or the upload fails
 * with a clear error and nothing half-written becomes visible.
 */
import { createHash } from 'node:crypto'
import { request } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { getBytes, LocalNetwork, pseudoRandom, pseudoRandomChunks, putStream, randomName, sleep } from './harness.js'

const MiB = 1024 * 1024

async function sha (chunks: AsyncIterable<Buffer>): Promise<string> {
  const h = createHash('sha256')
  for await (const c of chunks) h.update(c)
  return h.digest('hex')
}

/** Yields the seeded stream slowly and calls `at` once `after` bytes have gone out. */
async function * slowly (size: number, seed: number, after: number, at: () => void | Promise<void>): AsyncGenerator<Buffer> {
  let sent = 0
  let fired = false
  for await (const c of pseudoRandomChunks(size, seed, 256 * 1024, 20)) {
    yield c
    sent += c.length
    if (!fired && sent >= after) { fired = true; await at() }
  }
}

describe('crash safety', () => {
  let net: LocalNetwork | undefined
  afterEach(async () => { await net?.stop(); net = undefined })

  it('survives kill -9 of the coordinator mid-upload: no partial object, committed ones intact, retry works', async () => {
    net = await LocalNetwork.start()
    const n = net
    const bucket = randomName()
    await n.json('mb', bucket)
    const committed = new Map<string, Buffer>()
    for (let i = 0; i < 3; i++) {
      const data = pseudoRandom([2500, 3 * MiB + 1, MiB][i], 200 + i)
      const r = await putStream(n.network.coordinator.url, bucket, `kept/${i}`, data.length, (async function * () { yield data })())
      expect('status' in r && r.status).toBe(201)
      committed.set(`kept/${i}`, data)
    }
    const size = 12 * MiB
    // Kill the coordinator once 5 MiB (several 1 MiB segments) have been sent and stored.
    const upload = await putStream(n.network.coordinator.url, bucket, 'partial', size, slowly(size, 300, 5 * MiB, async () => { await n.killCoordinator() }))
    expect('error' in upload).toBe(true)
    await n.restartCoordinator()
    await n.waitOnline(9)
    const listing = await n.json('ls', `${bucket}/`, '-r')
    expect(listing.objects.map((o: any) => o.key).sort()).toEqual(['kept/0', 'kept/1', 'kept/2'])
    const missing = await getBytes(n.network.coordinator.url, bucket, 'partial')
    expect(missing.status).toBe(404)
    for (const [key, data] of committed) {
      const got = await getBytes(n.network.coordinator.url, bucket, key)
      expect(got.status).toBe(200)
      expect(Buffer.compare(got.body, data)).toBe(0)
    }
    const retry = await putStream(n.network.coordinator.url, bucket, 'partial', size, pseudoRandomChunks(size, 300))
    expect('status' in retry && retry.status).toBe(201)
    const got = await getBytes(n.network.coordinator.url, bucket, 'partial')
    expect(createHash('sha256').update(got.body).digest('hex')).toBe(await sha(pseudoRandomChunks(size, 300)))
  })

  it('finishes an upload when nodes of two providers die mid-upload', async () => {
    net = await LocalNetwork.start()
    const n = net
    const bucket = randomName()
    await n.json('mb', bucket)
    const victims = [n.network.nodes.find((x) => x.provider === 'aws')!, n.network.nodes.find((x) => x.provider === 'hetzner')!]
    const size = 10 * MiB
    const r = await putStream(n.network.coordinator.url, bucket, 'survivor', size, slowly(size, 400, 3 * MiB, () => { n.signal(victims, 'SIGKILL') }))
    expect('status' in r && r.status).toBe(201)
    const got = await getBytes(n.network.coordinator.url, bucket, 'survivor')
    expect(got.status).toBe(200)
    expect(createHash('sha256').update(got.body).digest('hex')).toBe(await sha(pseudoRandomChunks(size, 400)))
  })

  it('fails with a clear error, and shows nothing, when too few nodes remain mid-upload', async () => {
    net = await LocalNetwork.start()
    const n = net
    const bucket = randomName()
    await n.json('mb', bucket)
    const victims = n.network.nodes.slice(0, 5) // 4 left: fewer than the 6 pieces a segment needs
    const size = 10 * MiB
    const r = await putStream(n.network.coordinator.url, bucket, 'doomed', size, slowly(size, 500, 3 * MiB, () => { n.signal(victims, 'SIGKILL') }))
    expect('status' in r && r.status).toBe(503)
    if ('status' in r) expect(r.body.error.message).toMatch(/stored \d of the 6 pieces needed|needs 6 nodes; \d are online/)
    await sleep(100)
    expect((await n.json('ls', `${bucket}/`, '-r')).objects).toEqual([])
    expect((await getBytes(n.network.coordinator.url, bucket, 'doomed')).status).toBe(404)
  })

  it('abandons an upload whose client hangs up mid-body: nothing visible, its pieces deleted, coordinator keeps serving', async () => {
    net = await LocalNetwork.start()
    const n = net
    const bucket = randomName()
    await n.json('mb', bucket)
    const used = async (): Promise<number> => (await n.json('status')).nodes.reduce((a: number, x: any) => a + x.usedBytes, 0)
    await sleep(1500) // a heartbeat after start, so usedBytes is current
    const before = await used()
    await new Promise<void>((resolve) => {
      const req = request(`${n.network.coordinator.url}/api/objects/${bucket}/hangup`, { method: 'PUT', headers: { 'content-length': 20 * MiB } })
      req.on('error', () => { resolve() })
      void (async () => {
        for await (const c of pseudoRandomChunks(5 * MiB, 600, 256 * 1024, 10)) req.write(c)
        await sleep(500) // let the coordinator store the first segments
        req.destroy()
        resolve()
      })()
    })
    // The aborted upload's pieces are deleted: node usage returns to where it was, give or take the
    // spare pieces of cut uploads that finished just before their cancel (at most 1 per segment).
    const slack = 5 * 300 * 1024
    const deadline = Date.now() + 15_000
    let after = await used()
    while (after > before + slack && Date.now() < deadline) { await sleep(250); after = await used() }
    expect(after).toBeLessThanOrEqual(before + slack)
    expect((await n.json('ls', `${bucket}/`, '-r')).objects).toEqual([])
    const ok = await putStream(n.network.coordinator.url, bucket, 'after', MiB, pseudoRandomChunks(MiB, 601))
    expect('status' in ok && ok.status).toBe(201)
  })
})
