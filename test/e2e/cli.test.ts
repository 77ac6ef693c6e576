/**
 * The user's view: `shoal up` brings up a real network of processes, and the CLI stores, lists, reads
 * and deletes objects through it, byte-exact, with --json output for scripts and clear errors.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LocalNetwork, pseudoRandom, randomName, shoal } from './harness.js'

describe('shoal CLI against a local network', () => {
  let net: LocalNetwork
  let work: string

  beforeAll(async () => {
    net = await LocalNetwork.start()
    work = await mkdtemp(join(tmpdir(), 'shoal-cli-'))
  })

  afterAll(async () => {
    await net?.stop()
    if (work !== undefined) await rm(work, { recursive: true, force: true })
  })

  it('writes network.json in the shape DESIGN.md gives', async () => {
    const file = JSON.parse(await readFile(join(net.dir, 'network.json'), 'utf8'))
    expect(Object.keys(file).sort()).toEqual(['coordinator', 'nodes', 's3'])
    expect(Object.keys(file.coordinator).sort()).toEqual(['pid', 'url'])
    expect(Object.keys(file.s3).sort()).toEqual(['accessKeyId', 'endpoint', 'region', 'secretAccessKey'])
    expect(file.s3.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(file.s3.region).toBe('us-east-1')
    expect(file.nodes).toHaveLength(9)
    for (const n of file.nodes) {
      expect(Object.keys(n).sort()).toEqual(['dataDir', 'id', 'operator', 'pid', 'provider', 'region', 'url'])
      expect(n.id).toMatch(/^[0-9a-f]{40}$/)
      expect(() => { process.kill(n.pid, 0) }).not.toThrow()
    }
    expect(new Set(file.nodes.map((n: any) => n.provider))).toEqual(new Set(['aws', 'hetzner', 'home:as3320']))
    expect(new Set(file.nodes.map((n: any) => n.region)).size).toBe(3)
    expect(new Set(file.nodes.map((n: any) => n.operator)).size).toBe(9)
  })

  it('round-trips objects of many sizes byte-exact, multi-segment and inline', async () => {
    const bucket = randomName()
    expect((await net.json('mb', bucket)).bucket.name).toBe(bucket)
    // 1 MiB segments in this network: 0 B and 1 KiB are inline; the others span 1 to 6 segments,
    // including exact segment multiples and the boundary ±1.
    const sizes = [0, 1024, 4097, 1024 * 1024 - 1, 1024 * 1024, 1024 * 1024 + 1, 5 * 1024 * 1024 + 12345]
    for (const [i, size] of sizes.entries()) {
      const data = pseudoRandom(size, i + 10)
      const src = join(work, `in-${i}`)
      await writeFile(src, data)
      const put = await net.json('put', src, `${bucket}/dir/obj-${i}`)
      expect(put.size).toBe(size)
      const dest = join(work, `out-${i}`)
      const got = await net.json('get', `${bucket}/dir/obj-${i}`, dest)
      expect(got.size).toBe(size)
      expect(Buffer.compare(await readFile(dest), data)).toBe(0)
    }
    // Where the pieces went: every segment on distinct nodes, at least k+m of them, and no provider,
    // region or operator holding more than total − k pieces of it (losing any one leaves ≥ k).
    const located = await net.json('locate', `${bucket}/dir/obj-6`)
    expect(located.segments).toHaveLength(6)
    for (const seg of located.segments) {
      expect(seg.pieces.length).toBeGreaterThanOrEqual(6)
      expect(new Set(seg.pieces.map((p: any) => p.nodeId)).size).toBe(seg.pieces.length)
      for (const dim of ['provider', 'region', 'operator']) {
        const counts = new Map<string, number>()
        for (const p of seg.pieces) counts.set(p[dim], (counts.get(p[dim]) ?? 0) + 1)
        expect(Math.max(...counts.values()), dim).toBeLessThanOrEqual(seg.pieces.length - 4)
      }
      expect(seg.underPlaced).toBe(false)
    }
    expect((await net.json('locate', `${bucket}/dir/obj-1`)).segments).toEqual([])
    const listing = await net.json('ls', `${bucket}/dir/`)
    expect(listing.objects.map((o: any) => o.key).sort()).toEqual(sizes.map((_, i) => `dir/obj-${i}`).sort())
    const top = await net.json('ls', `${bucket}/`)
    expect(top.prefixes).toEqual(['dir/'])
    expect(top.objects).toEqual([])
  })

  it('never lets plaintext reach a node, nor the metadata store', async () => {
    const bucket = randomName()
    await net.json('mb', bucket)
    const marker = Buffer.from('SHOAL-PLAINTEXT-MARKER-7f3a9c')
    for (const [name, size] of [['tiny', 600], ['large', 3 * 1024 * 1024]] as const) {
      const src = join(work, `plain-${name}`)
      await writeFile(src, Buffer.concat(Array.from({ length: Math.ceil(size / marker.length) }, () => marker)).subarray(0, size))
      await net.json('put', src, `${bucket}/${name}`)
    }
    const files = [join(net.dir, 'coordinator', 'metadata.db'), join(net.dir, 'coordinator', 'metadata.db-wal')]
    for (const n of net.network.nodes) {
      for (const e of await readdir(n.dataDir, { withFileTypes: true, recursive: true })) if (e.isFile()) files.push(join(e.parentPath, e.name))
    }
    let scanned = 0
    for (const f of files) {
      const bytes = await readFile(f).catch(() => Buffer.alloc(0))
      scanned += bytes.length
      expect(bytes.includes(marker), f).toBe(false)
    }
    expect(scanned).toBeGreaterThan(3 * 1024 * 1024) // the pieces were really there to scan
  })

  it('lists buckets, deletes objects, refuses to remove a non-empty bucket', async () => {
    const bucket = randomName()
    await net.json('mb', bucket)
    const src = join(work, 'rm-me')
    await writeFile(src, pseudoRandom(3000, 99))
    await net.json('put', src, `${bucket}/`)
    expect((await net.json('ls')).buckets.map((b: any) => b.name)).toContain(bucket)
    const rb = await net.cli('rb', bucket)
    expect(rb.code).toBe(1)
    expect(rb.stderr).toMatch(/still holds objects/)
    await net.json('rm', `${bucket}/rm-me`)
    expect((await net.json('ls', `${bucket}/`)).objects).toEqual([])
    const gone = await net.cli('get', `${bucket}/rm-me`, join(work, 'never'))
    expect(gone.code).toBe(1)
    expect(gone.stderr).toMatch(/does not exist/)
    await expect(readFile(join(work, 'never'))).rejects.toThrow()
    await net.json('rb', bucket)
    expect((await net.json('ls')).buckets.map((b: any) => b.name)).not.toContain(bucket)
  })

  it('stores keys as opaque names: path-like, unicode, spaces, percent signs', async () => {
    const bucket = randomName()
    await net.json('mb', bucket)
    const src = join(work, 'opaque')
    await writeFile(src, pseudoRandom(5000, 3))
    const keys = ['../../etc/passwd', 'ünï cödé/ファイル.txt', 'a%20b%zz', 'dir//double', '.hidden']
    for (const key of keys) {
      await net.json('put', src, `${bucket}/${key}`)
      const out = join(work, 'opaque-out')
      await net.json('get', `${bucket}/${key}`, out)
      expect(Buffer.compare(await readFile(out), await readFile(src)), key).toBe(0)
    }
    const listed = (await net.json('ls', `${bucket}/`, '-r')).objects.map((o: any) => o.key)
    expect(listed.sort()).toEqual([...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))))
  })

  it('overwrites an object with a new version', async () => {
    const bucket = randomName()
    await net.json('mb', bucket)
    const a = join(work, 'v1')
    const b = join(work, 'v2')
    await writeFile(a, pseudoRandom(2 * 1024 * 1024, 1))
    await writeFile(b, pseudoRandom(1500, 2))
    await net.json('put', a, `${bucket}/k`)
    await net.json('put', b, `${bucket}/k`)
    await net.json('get', `${bucket}/k`, join(work, 'v-out'))
    expect(Buffer.compare(await readFile(join(work, 'v-out')), await readFile(b))).toBe(0)
    expect((await net.json('ls', `${bucket}/`)).objects).toHaveLength(1)
  })

  it('shows every node, its labels, capacity and the spread of pieces in status', async () => {
    const status = await net.json('status')
    expect(status.nodes).toHaveLength(9)
    for (const n of status.nodes) {
      expect(n.online).toBe(true)
      expect(n.capacityBytes).toBeGreaterThan(0)
      expect(n.freeBytes).toBeGreaterThan(0)
    }
    expect(Object.keys(status.spread.provider).sort()).toEqual(['aws', 'hetzner', 'home:as3320'])
    const pieces = status.nodes.reduce((a: number, n: any) => a + n.pieces, 0)
    expect(pieces).toBeGreaterThan(0)
    expect(status.underPlacedSegments).toBe(0)
    const text = await net.cli('status')
    expect(text.stdout).toMatch(/under-placed segments 0/)
    expect(text.stdout).toMatch(/home:as3320/)
  })

  it('gives clear errors for bad input', async () => {
    const noBucket = await net.cli('put', join(work, 'in-1'), 'no-such-bucket-x/k')
    expect(noBucket.code).toBe(1)
    expect(noBucket.stderr).toMatch(/bucket no-such-bucket-x does not exist/)
    const badName = await net.cli('mb', 'Bad_Name')
    expect(badName.code).toBe(1)
    expect(badName.stderr).toMatch(/lowercase/)
    const missingFile = await net.cli('put', join(work, 'nope'), 'x/y')
    expect(missingFile.code).toBe(2)
    expect(missingFile.stderr).toMatch(/does not exist/)
    const json = await net.cli('--json', 'get', 'no-such-bucket-x/k', join(work, 'z'))
    expect(JSON.parse(json.stdout).error.name).toBe('NoSuchObjectError')
    const taken = await shoal(['up', '--dir', join(work, 'second'), '--port', new URL(net.network.coordinator.url).port, '--nodes', '1'])
    expect(taken.code).toBe(1)
    expect(taken.stderr).toMatch(/coordinator failed to start: .*EADDRINUSE/)
    const noNet = await shoal(['--dir', join(work, 'empty'), 'ls'])
    expect(noNet.code).toBe(1)
    expect(noNet.stderr).toMatch(/no Shoal network found/)
    const badSettings = await net.cli('mb', randomName(), '--k', '30')
    expect(badSettings.code).toBe(1)
    expect(badSettings.stderr).toMatch(/k must be an integer from 1 to 24/)
  })
})
