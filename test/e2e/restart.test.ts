/**
 * `shoal up` started again on the same folder resumes with the same data: same node identities,
 * objects still readable; Ctrl-C stops every process it started and removes network.json.
 */
import { access, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { getBytes, LocalNetwork, pseudoRandom, putStream, randomName } from './harness.js'

describe('restarting the local network', () => {
  it('resumes with the same nodes and data after Ctrl-C', async () => {
    const first = await LocalNetwork.start()
    const dir = first.dir
    const bucket = randomName()
    const data = pseudoRandom(3 * 1024 * 1024 + 3, 5)
    let second: LocalNetwork | undefined
    try {
      await first.json('mb', bucket)
      const put = await putStream(first.network.coordinator.url, bucket, 'kept', data.length, (async function * () { yield data })())
      expect('status' in put && put.status).toBe(201)
      const ids = first.network.nodes.map((n) => n.id)
      const s3 = first.network.s3
      const pids = [first.network.coordinator.pid, ...first.network.nodes.map((n) => n.pid)]
      await first.stop({ keepDir: true })
      for (const pid of pids) expect(() => { process.kill(pid, 0) }, `pid ${pid} still running`).toThrow()
      await expect(access(join(dir, 'network.json'))).rejects.toThrow()

      second = await LocalNetwork.start({ dir })
      expect(second.network.nodes.map((n) => n.id)).toEqual(ids)
      // The default S3 key survives the restart (kept in DIR/s3-credentials.json), so scripts keep working.
      expect(second.network.s3?.accessKeyId).toBe(s3?.accessKeyId)
      expect(second.network.s3?.secretAccessKey).toBe(s3?.secretAccessKey)
      const got = await getBytes(second.network.coordinator.url, bucket, 'kept')
      expect(got.status).toBe(200)
      expect(Buffer.compare(got.body, data)).toBe(0)
      const file = JSON.parse(await readFile(join(dir, 'network.json'), 'utf8'))
      expect(file.coordinator.pid).toBe(second.network.coordinator.pid)
    } finally {
      await second?.stop()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
