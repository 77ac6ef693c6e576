/**
 * The promise: no single provider or region can take data down. Real node processes are killed
 * (SIGKILL) or frozen (SIGSTOP) by whole failure domains; every object still reads back byte-exact
 * with no error visible to the user, and writes keep working under the strongest placement possible.
 */
import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { getBytes, LocalNetwork, pseudoRandom, pseudoRandomChunks, putStream, randomName, sleep } from './harness.js'

const MiB = 1024 * 1024

describe('failure-domain outages', () => {
  let net: LocalNetwork
  const bucket = randomName()
  const strict = randomName('strict')
  const objects = new Map<string, Buffer>()

  async function put (key: string, data: Buffer, b = bucket): Promise<{ status: number, body: any }> {
    const r = await putStream(net.network.coordinator.url, b, key, data.length, (async function * () { yield data })())
    if ('error' in r) throw r.error
    return r
  }

  async function expectAllReadable (): Promise<void> {
    for (const [key, data] of objects) {
      const got = await getBytes(net.network.coordinator.url, bucket, key)
      expect(got.status, key).toBe(200)
      expect(Buffer.compare(got.body, data), key).toBe(0)
    }
  }

  beforeAll(async () => {
    net = await LocalNetwork.start()
    await net.json('mb', bucket)
    await net.json('mb', strict, '--refuse-under-placed')
    for (let i = 0; i < 6; i++) {
      const data = pseudoRandom([3000, 700_000, 3 * MiB + 17, 8 * MiB, 1, 2 * MiB][i], 100 + i)
      objects.set(`before/${i}`, data)
      expect((await put(`before/${i}`, data)).status).toBe(201)
    }
  })

  afterAll(async () => { await net?.stop() })

  it('places every segment so that no provider or region holds more than m pieces', async () => {
    const status = await net.json('status')
    expect(status.underPlacedSegments).toBe(0)
    // 4+2 (+1 spare): each provider and each region may hold at most 3 of 7 pieces per segment, and
    // across all segments no provider holds more than 3/7 of all pieces.
    const total = status.nodes.reduce((a: number, n: any) => a + n.pieces, 0)
    for (const dim of ['provider', 'region']) {
      for (const [name, s] of Object.entries(status.spread[dim] as Record<string, { pieces: number }>)) {
        expect(s.pieces / total, `${dim} ${name}`).toBeLessThanOrEqual(3 / 7 + 1e-9)
      }
    }
  })

  it('reads everything byte-exact with a whole provider killed, and keeps writing', async () => {
    const aws = net.nodesWhere((n) => n.provider === 'aws')
    net.signal(aws, 'SIGKILL')
    // Immediately, before the coordinator has noticed: reads must route around the dead nodes.
    await expectAllReadable()
    const during = pseudoRandom(4 * MiB + 5, 7)
    const w = await put('during/aws-down', during)
    expect(w.status).toBe(201)
    objects.set('during/aws-down', during)
    await net.waitOnline(6)
    const status = await net.json('status')
    expect(status.underPlacedSegments).toBeGreaterThan(0)
    expect(status.nodes.filter((n: any) => !n.online).map((n: any) => n.provider)).toEqual(['aws', 'aws', 'aws'])
    // The strict bucket refuses instead, saying why.
    const refused = await put('x', pseudoRandom(2 * MiB, 8), strict)
    expect(refused.status).toBe(503)
    expect(refused.body.error.message).toMatch(/policy needs 3 providers; 2 are online: hetzner, home:as3320/)
    await expectAllReadable()
    for (const n of aws) await net.restartNode(n)
    await net.waitOnline(9)
    await expectAllReadable()
  })

  it('reads everything byte-exact with a whole region killed', async () => {
    const region = net.nodesWhere((n) => n.region === 'us-east-1')
    net.signal(region, 'SIGKILL')
    await expectAllReadable()
    const w = await put('during/region-down', pseudoRandom(MiB, 9))
    expect(w.status).toBe(201)
    objects.set('during/region-down', pseudoRandom(MiB, 9))
    await expectAllReadable()
    for (const n of region) await net.restartNode(n)
    await net.waitOnline(9)
  })

  it('finishes a read when a provider freezes mid-transfer (processes stopped, sockets open)', async () => {
    const size = 24 * MiB
    const key = 'frozen/big'
    const r = await putStream(net.network.coordinator.url, bucket, key, size, pseudoRandomChunks(size, 77))
    expect('status' in r && r.status).toBe(201)
    const expected = createHash('sha256')
    for await (const c of pseudoRandomChunks(size, 77)) expected.update(c)
    const hetzner = net.nodesWhere((n) => n.provider === 'hetzner')
    const reading = getBytes(net.network.coordinator.url, bucket, key)
    await sleep(150)
    net.signal(hetzner, 'SIGSTOP')
    try {
      const got = await reading
      expect(got.status).toBe(200)
      expect(got.body.length).toBe(size)
      expect(createHash('sha256').update(got.body).digest('hex')).toBe(expected.digest('hex'))
    } finally {
      net.signal(hetzner, 'SIGCONT')
    }
  })
})
