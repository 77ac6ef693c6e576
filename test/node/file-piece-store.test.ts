import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, open, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { MERKLE_BLOCK_SIZE, merkleRoot } from '../../src/crypto/merkle.js'
import { newPieceId } from '../../src/crypto/order-limit.js'
import { FilePieceStore, PIECE_HEADER_BYTES, READ_CHUNK_BYTES } from '../../src/node/file-piece-store.js'
import { silentLogger } from '../../src/util/logger.js'

/** The expected root, from merkleRoot over explicit blocks (not the streaming hasher the store uses). */
function rootOf (data: Buffer): string {
  const blocks: Buffer[] = []
  for (let off = 0; off < data.length; off += MERKLE_BLOCK_SIZE) blocks.push(data.subarray(off, off + MERKLE_BLOCK_SIZE))
  return merkleRoot(blocks).toString('hex')
}

async function * chunked (data: Buffer, sizes: () => number): AsyncGenerator<Buffer> {
  for (let off = 0; off < data.length;) {
    const n = Math.max(1, sizes())
    yield data.subarray(off, off + n)
    off += n
  }
}

async function collect (stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const chunk of stream) parts.push(chunk)
  return Buffer.concat(parts)
}

function pathOf (dir: string, id: string): string {
  return join(dir, 'pieces', id.slice(0, 2), id.slice(2, 4), id)
}

const GiB = 1024 ** 3

describe('FilePieceStore', () => {
  let dir: string
  let store: FilePieceStore

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-store-'))
    store = new FilePieceStore({ dir, capacityBytes: GiB }, { logger: silentLogger })
    await store.start()
  })

  afterEach(async () => {
    await store.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('round-trips pieces of many sizes under many chunkings', async () => {
    const sizes = [0, 1, MERKLE_BLOCK_SIZE - 1, MERKLE_BLOCK_SIZE, MERKLE_BLOCK_SIZE + 1, READ_CHUNK_BYTES + 3, 300_001]
    const chunkings: Array<[string, () => number]> = [
      ['whole', () => Number.MAX_SAFE_INTEGER],
      ['7 bytes', () => 7],
      ['block', () => MERKLE_BLOCK_SIZE],
      ['random', () => 1 + Math.floor(Math.random() * 20_000)]
    ]
    for (const size of sizes) {
      const data = randomBytes(size)
      for (const [name, chunking] of chunkings) {
        const id = newPieceId()
        const info = await store.write(id, chunked(data, chunking), { maxBytes: size })
        expect(info, `${size} bytes, ${name}`).toEqual({ size, hash: rootOf(data) })
        expect(await store.stat(id)).toEqual(info)
        const read = await store.read(id)
        expect(read.size).toBe(size)
        expect(read.hash).toBe(info.hash)
        expect((await collect(read.stream)).equals(data), `${size} bytes, ${name}`).toBe(true)
        expect((await stat(pathOf(dir, id))).size).toBe(PIECE_HEADER_BYTES + size)
      }
    }
    expect(await readdir(join(dir, 'tmp'))).toEqual([])
  })

  it('accepts the announced hash and refuses a different one, keeping nothing', async () => {
    const data = randomBytes(20_000)
    const id = newPieceId()
    await expect(store.write(id, chunked(data, () => 1000), { maxBytes: 20_000, expectedHash: rootOf(randomBytes(20_000)) }))
      .rejects.toMatchObject({ name: 'PieceHashMismatchError' })
    await expect(store.stat(id)).rejects.toMatchObject({ name: 'PieceNotFoundError' })
    expect(await readdir(join(dir, 'tmp'))).toEqual([])
    expect(store.usage()).toEqual({ usedBytes: 0, pieces: 0 })
    await expect(store.write(id, chunked(data, () => 1000), { maxBytes: 20_000, expectedHash: rootOf(data) }))
      .resolves.toEqual({ size: 20_000, hash: rootOf(data) })
  })

  it('stops reading at maxBytes and leaves nothing behind', async () => {
    const id = newPieceId()
    let pulled = 0
    async function * endless (): AsyncGenerator<Buffer> {
      for (;;) {
        pulled++
        yield Buffer.alloc(1000, 1)
      }
    }
    await expect(store.write(id, endless(), { maxBytes: 10_500 })).rejects.toMatchObject({ name: 'PieceTooLargeError' })
    expect(pulled).toBe(11) // the 11th chunk crosses the limit; nothing more is read
    await expect(store.stat(id)).rejects.toMatchObject({ name: 'PieceNotFoundError' })
    expect(await readdir(join(dir, 'tmp'))).toEqual([])
    expect(store.usage()).toEqual({ usedBytes: 0, pieces: 0 })
  })

  it('an abort mid-write rejects with the reason and leaves nothing behind', async () => {
    const id = newPieceId()
    const controller = new AbortController()
    let sent = false
    async function * stalls (): AsyncGenerator<Buffer> {
      yield randomBytes(5000)
      sent = true
      await new Promise(() => {}) // a client that never sends the rest
    }
    const writing = store.write(id, stalls(), { maxBytes: 1_000_000, signal: controller.signal })
    while (!sent) await new Promise((resolve) => setTimeout(resolve, 5))
    expect((await readdir(join(dir, 'tmp'))).length).toBe(1)
    controller.abort(new Error('client went away'))
    await expect(writing).rejects.toThrow('client went away')
    expect(await readdir(join(dir, 'tmp'))).toEqual([])
    await expect(store.stat(id)).rejects.toMatchObject({ name: 'PieceNotFoundError' })
  })

  it('refuses a second write of the same id, even when concurrent', async () => {
    const id = newPieceId()
    const a = randomBytes(50_000)
    const b = randomBytes(50_000)
    const results = await Promise.allSettled([
      store.write(id, chunked(a, () => 4096), { maxBytes: 50_000 }),
      store.write(id, chunked(b, () => 4096), { maxBytes: 50_000 })
    ])
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
    expect(results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.name)).toEqual(['PieceExistsError'])
    const winner = (results.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<{ hash: string }>).value
    const read = await store.read(id)
    const got = await collect(read.stream)
    expect(rootOf(got)).toBe(winner.hash)
    await expect(store.write(id, chunked(a, () => 4096), { maxBytes: 50_000 })).rejects.toMatchObject({ name: 'PieceExistsError' })
    expect(store.usage()).toEqual({ usedBytes: PIECE_HEADER_BYTES + 50_000, pieces: 1 })
    expect(await readdir(join(dir, 'tmp'))).toEqual([])
  })

  it('removes temp files left by a crash at start', async () => {
    await store.stop()
    await writeFile(join(dir, 'tmp', `${newPieceId()}.0011223344556677.tmp`), randomBytes(1234))
    store = new FilePieceStore({ dir, capacityBytes: GiB }, { logger: silentLogger })
    await store.start()
    expect(await readdir(join(dir, 'tmp'))).toEqual([])
    expect(store.usage()).toEqual({ usedBytes: 0, pieces: 0 })
  })

  it('keeps pieces and usage across a restart', async () => {
    const pieces = new Map<string, Buffer>()
    for (const size of [10, 20_000, 70_000]) {
      const id = newPieceId()
      const data = randomBytes(size)
      await store.write(id, chunked(data, () => 3000), { maxBytes: size })
      pieces.set(id, data)
    }
    const before = store.usage()
    expect(before).toEqual({ usedBytes: 3 * PIECE_HEADER_BYTES + 90_010, pieces: 3 })
    await store.stop()
    await store.stop() // twice is safe
    store = new FilePieceStore({ dir, capacityBytes: GiB }, { logger: silentLogger })
    await store.start()
    expect(store.usage()).toEqual(before)
    const listed: string[] = []
    for await (const id of store.list()) listed.push(id)
    expect(listed.sort()).toEqual([...pieces.keys()].sort())
    for (const [id, data] of pieces) expect((await collect((await store.read(id)).stream)).equals(data)).toBe(true)
    const [first] = pieces.keys()
    await store.delete(first)
    expect(store.usage()).toEqual({ usedBytes: 2 * PIECE_HEADER_BYTES + 90_000, pieces: 2 })
    await expect(store.delete(first)).rejects.toMatchObject({ name: 'PieceNotFoundError' })
    await expect(store.read(first)).rejects.toMatchObject({ name: 'PieceNotFoundError' })
  })

  it('a byte flipped on disk makes the read fail before the whole piece is delivered', async () => {
    const id = newPieceId()
    const data = randomBytes(3 * READ_CHUNK_BYTES + 100)
    await store.write(id, chunked(data, () => 10_000), { maxBytes: data.length })
    for (const offset of [0, READ_CHUNK_BYTES + 17, data.length - 1]) {
      const fh = await open(pathOf(dir, id), 'r+')
      const b = Buffer.alloc(1)
      await fh.read(b, 0, 1, PIECE_HEADER_BYTES + offset)
      b[0] ^= 0x01
      await fh.write(b, 0, 1, PIECE_HEADER_BYTES + offset)
      await fh.close()
      const read = await store.read(id) // the header is intact, so opening works
      let delivered = 0
      await expect((async () => {
        for await (const chunk of read.stream) delivered += chunk.length
      })()).rejects.toMatchObject({ name: 'PieceCorruptedError' })
      expect(delivered).toBeLessThan(data.length)
      // Restore it for the next offset.
      b[0] ^= 0x01
      const fix = await open(pathOf(dir, id), 'r+')
      await fix.write(b, 0, 1, PIECE_HEADER_BYTES + offset)
      await fix.close()
    }
    expect((await collect((await store.read(id)).stream)).equals(data)).toBe(true)
  })

  it('a damaged header or a truncated file is reported as corruption', async () => {
    const id = newPieceId()
    await store.write(id, chunked(randomBytes(10_000), () => 999), { maxBytes: 10_000 })
    const fh = await open(pathOf(dir, id), 'r+')
    await fh.write(Buffer.from([0xff]), 0, 1, 30) // inside the recorded root
    await fh.close()
    await expect(store.stat(id)).rejects.toMatchObject({ name: 'PieceCorruptedError' })
    await expect(store.read(id)).rejects.toMatchObject({ name: 'PieceCorruptedError' })

    const id2 = newPieceId()
    await store.write(id2, chunked(randomBytes(10_000), () => 999), { maxBytes: 10_000 })
    await truncate(pathOf(dir, id2), PIECE_HEADER_BYTES + 5000)
    await expect(store.read(id2)).rejects.toMatchObject({ name: 'PieceCorruptedError' })
  })

  it('rejects invalid ids before touching the file system', async () => {
    // A sentinel where a path traversal would land.
    const sentinel = join(dir, 'etc', 'passwd')
    await mkdir(join(dir, 'etc'))
    await writeFile(sentinel, 'root:x:0:0')
    let consumed = false
    async function * source (): AsyncGenerator<Buffer> {
      consumed = true
      yield Buffer.from('x')
    }
    const bad = ['../../etc/passwd', '../etc/passwd', '', 'A'.repeat(64), `${'a'.repeat(63)}/`, `${'0'.repeat(64)}\0`, 'a'.repeat(65)]
    for (const id of bad) {
      await expect(store.write(id, source(), { maxBytes: 10 })).rejects.toMatchObject({ name: 'InvalidPieceIdError' })
      await expect(store.read(id)).rejects.toMatchObject({ name: 'InvalidPieceIdError' })
      await expect(store.stat(id)).rejects.toMatchObject({ name: 'InvalidPieceIdError' })
      await expect(store.delete(id)).rejects.toMatchObject({ name: 'InvalidPieceIdError' })
    }
    expect(consumed).toBe(false)
    // The id check comes first: a stopped store (which would refuse any fs work) still says "invalid id".
    await store.stop()
    await expect(store.stat('../../etc/passwd')).rejects.toMatchObject({ name: 'InvalidPieceIdError' })
    await expect(store.stat(newPieceId())).rejects.toMatchObject({ name: 'NotStartedError' })
    expect((await stat(sentinel)).size).toBe(10)
    expect(await readdir(join(dir, 'tmp'))).toEqual([])
  })

  it('reports honest capacity and refuses writes beyond it', async () => {
    await store.stop()
    store = new FilePieceStore({ dir, capacityBytes: 100_000 }, { logger: silentLogger })
    await store.start()
    const empty = await store.capacity()
    expect(empty.capacityBytes).toBe(100_000)
    expect(empty.usedBytes).toBe(0)
    expect(empty.freeBytes).toBeLessThanOrEqual(100_000)
    await store.write(newPieceId(), chunked(randomBytes(60_000), () => 8000), { maxBytes: 60_000 })
    const after = await store.capacity()
    expect(after.usedBytes).toBe(60_000 + PIECE_HEADER_BYTES)
    expect(after.freeBytes).toBe(Math.min(100_000 - 60_000 - PIECE_HEADER_BYTES, empty.freeBytes))
    const id = newPieceId()
    await expect(store.write(id, chunked(randomBytes(60_000), () => 8000), { maxBytes: 60_000 }))
      .rejects.toMatchObject({ name: 'InsufficientCapacityError' })
    await expect(store.stat(id)).rejects.toMatchObject({ name: 'PieceNotFoundError' })
    expect(await readdir(join(dir, 'tmp'))).toEqual([])
    expect((await store.capacity()).usedBytes).toBe(60_000 + PIECE_HEADER_BYTES)
  })

  it('stop() aborts in-flight writes and removes their temp files', async () => {
    async function * stalls (): AsyncGenerator<Buffer> {
      yield randomBytes(100)
      await new Promise(() => {})
    }
    const writing = store.write(newPieceId(), stalls(), { maxBytes: 1000 })
    await new Promise((resolve) => setTimeout(resolve, 20))
    await store.stop()
    await expect(writing).rejects.toMatchObject({ name: 'NotStartedError' })
    expect(await readdir(join(dir, 'tmp'))).toEqual([])
  })
})
