/**
 * Bit rot on a node's disk: bytes flipped in stored piece files are caught (the node's own check on
 * read, the gateway's Merkle check), the failing node is reported, and the object still reads back
 * byte-exact from the other pieces.
 */
import { open, readdir } from 'node:fs/promises'
import { request } from 'node:http'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { getBytes, LocalNetwork, pseudoRandom, putStream, randomName } from './harness.js'

async function pieceFiles (dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && /^[0-9a-f]{64}$/.test(entry.name)) out.push(join(entry.parentPath, entry.name))
  }
  return out
}

describe('corrupted pieces', () => {
  let net: LocalNetwork
  beforeAll(async () => { net = await LocalNetwork.start() })
  afterAll(async () => { await net?.stop() })

  it('are detected and routed around; the object reads back exact', async () => {
    const bucket = randomName()
    await net.json('mb', bucket)
    const data = pseudoRandom(3 * 1024 * 1024 + 1000, 31)
    const put = await putStream(net.network.coordinator.url, bucket, 'rotting', data.length, (async function * () { yield data })())
    expect('status' in put && put.status).toBe(201)
    // Corrupt every piece on the nodes holding data pieces 0 and 1 of segment 0: reads try data pieces
    // first, so both are certainly asked, and no segment loses more than 2 of its 7 pieces.
    const located = await new Promise<any>((resolve, reject) => {
      request(`${net.network.coordinator.url}/api/objects/${bucket}/rotting?locate`, (res) => {
        let t = ''
        res.on('data', (d) => { t += d })
        res.once('end', () => { resolve(JSON.parse(t)) })
      }).once('error', reject).end()
    })
    expect(located.segments).toHaveLength(4)
    const victimIds = new Set<string>()
    for (const p of located.segments[0].pieces) if (p.index <= 1) victimIds.add(p.nodeId)
    const victims = net.network.nodes.filter((n) => victimIds.has(n.id))
    expect(victims).toHaveLength(2)
    let flipped = 0
    for (const node of victims) {
      for (const file of await pieceFiles(join(node.dataDir, 'pieces'))) {
        const fh = await open(file, 'r+')
        const b = Buffer.alloc(1)
        await fh.read(b, 0, 1, 64 + 100)
        b[0] ^= 0xff
        await fh.write(b, 0, 1, 64 + 100)
        await fh.close()
        flipped++
      }
    }
    expect(flipped).toBeGreaterThan(0)
    const got = await getBytes(net.network.coordinator.url, bucket, 'rotting')
    expect(got.status).toBe(200)
    expect(Buffer.compare(got.body, data)).toBe(0)
    // Only 3 intact pieces are asked at first (k + 1 = 5 requests, 2 of them to victims), so the 4th intact
    // piece is requested only after a victim's failure was seen: at least one victim is always reported,
    // and nobody else is.
    const status = await net.json('status')
    const reported = status.nodes.filter((n: any) => n.failures > 0).map((n: any) => n.id)
    expect(reported.length).toBeGreaterThan(0)
    for (const id of reported) expect([...victimIds]).toContain(id)
  })
})
