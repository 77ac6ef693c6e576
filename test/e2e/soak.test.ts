/**
 * A bounded soak: for SOAK_SECONDS, random nodes are killed (kill -9) and started again while objects
 * are written and read, with audits, repair and garbage collection running on short timers. Then every
 * object whose write was acknowledged must read back byte-exact, and none may be lost.
 */
import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { getBytes, LocalNetwork, pseudoRandom, putStream, randomName, sleep, type NetworkNode } from './harness.js'

const SOAK_SECONDS = Number(process.env.SHOAL_SOAK_SECONDS ?? 40)
/** At most this many nodes are down at once (m = 2: reads never need repair to succeed). */
const MAX_DOWN = 2

describe('soak: random node kills and restarts under load', () => {
  let net: LocalNetwork
  beforeAll(async () => {
    net = await LocalNetwork.start({ args: ['--audit-interval', '1s', '--repair-interval', '1s', '--repair-grace', '3s', '--gc-interval', '5s', '--gc-grace', '20s'] })
  })
  afterAll(async () => { await net?.stop() })

  it('loses no acknowledged object', async () => {
    const bucket = randomName()
    await net.json('mb', bucket)
    const acked = new Map<string, string>()
    const deadline = Date.now() + SOAK_SECONDS * 1000
    let writes = 0
    let failedWrites = 0
    let reads = 0
    let failedReads = 0
    let kills = 0
    const down = new Set<string>()
    let seed = 1

    const writer = async (): Promise<void> => {
      while (Date.now() < deadline) {
        const key = `k-${seed}`
        const data = pseudoRandom(64 * 1024 + (seed * 7919) % (1536 * 1024), seed++)
        const r = await putStream(net.network.coordinator.url, bucket, key, data.length, (async function * () { yield data })())
        writes++
        if ('status' in r && r.status === 201) acked.set(key, createHash('sha256').update(data).digest('hex'))
        else failedWrites++
      }
    }
    const reader = async (): Promise<void> => {
      while (Date.now() < deadline) {
        const keys = [...acked.keys()]
        if (keys.length === 0) { await sleep(100); continue }
        const key = keys[Math.floor(Math.random() * keys.length)]
        const got = await getBytes(net.network.coordinator.url, bucket, key)
        reads++
        if (got.status !== 200 || createHash('sha256').update(got.body).digest('hex') !== acked.get(key)) failedReads++
      }
    }
    const chaos = async (): Promise<void> => {
      while (Date.now() < deadline) {
        await sleep(1500 + Math.random() * 1500)
        const up = net.network.nodes.filter((n) => !down.has(n.id))
        if (down.size < MAX_DOWN && Math.random() < 0.6) {
          const victim = up[Math.floor(Math.random() * up.length)]
          process.kill(victim.pid, 'SIGKILL')
          down.add(victim.id)
          kills++
        } else if (down.size > 0) {
          const back: NetworkNode = net.network.nodes.find((n) => n.id === [...down][0])!
          await net.restartNode(back)
          down.delete(back.id)
        }
      }
      for (const id of [...down]) {
        await net.restartNode(net.network.nodes.find((n) => n.id === id)!)
        down.delete(id)
      }
    }
    await Promise.all([writer(), reader(), chaos()])
    process.stdout.write(`soak: ${SOAK_SECONDS} s, ${kills} kills, ${writes} writes (${failedWrites} refused), ${reads} reads (${failedReads} failed)\n`)
    expect(kills).toBeGreaterThan(0)
    expect(acked.size).toBeGreaterThan(0)
    // Reads of acknowledged objects never fail while at most m nodes are down.
    expect(failedReads).toBe(0)
    await net.waitOnline(net.network.nodes.length, 30_000)
    let lost = 0
    for (const [key, sha] of acked) {
      const got = await getBytes(net.network.coordinator.url, bucket, key)
      if (got.status !== 200 || createHash('sha256').update(got.body).digest('hex') !== sha) lost++
    }
    expect(lost).toBe(0)
  })
})
