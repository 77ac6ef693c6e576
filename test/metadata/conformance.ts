/**
 * The MetadataStore conformance suite: every implementation (SQLite, PostgreSQL) runs exactly these
 * tests through `runMetadataConformance`. Each test gets a fresh, migrated store from `open` and
 * closes it (then calls `cleanup`) afterwards. Expected values are computed here, independently of the
 * store: byte order with Buffer.compare, sums by hand.
 */

import { randomBytes } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type {
  ReputationRecord, AccountRecord, BucketRecord, MetadataStore, NodeRecord, ObjectRecord, PieceRecord, SegmentRecord
} from '../../src/metadata/metadata-store.js'

export interface OpenedStore {
  readonly store: MetadataStore
  /** Removes whatever `open` created (temp file, schema); called after the store is closed. */
  readonly cleanup: () => Promise<void>
}

const TWO_32 = 2 ** 32

/** Fails the test unless `promise` rejects with an error of this `name` and a helpful message. */
export async function expectError (promise: Promise<unknown>, name: string): Promise<Error> {
  let caught: unknown
  try {
    await promise
  } catch (err) {
    caught = err
  }
  expect(caught, `expected a ${name}`).toBeInstanceOf(Error)
  const error = caught as Error
  expect(error.name, error.message).toBe(name)
  expect(error.message.length).toBeGreaterThan(10)
  return error
}

/** Byte order of UTF-8, computed without the database. */
export function byteOrder (keys: readonly string[]): string[] {
  return [...keys].sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')))
}

export function makeNode (id: string, overrides: Partial<NodeRecord> = {}): NodeRecord {
  return {
    id,
    publicKey: `pk-${id}`,
    url: `http://127.0.0.1:7100/${id}`,
    provider: 'aws',
    region: 'us-east-1',
    operator: 'op-1',
    subnet: '10.0.0.0/24',
    country: 'US',
    capacityBytes: 1_000_000,
    usedBytes: 1_000,
    freeBytes: 999_000,
    firstSeen: 1_700_000_000_000,
    lastSeen: 1_700_000_000_000,
    ...overrides
  }
}

export function makeAccount (id: string, name: string): AccountRecord {
  return { id, name, sealedSecret: new Uint8Array(randomBytes(48)), createdAt: 1_700_000_000_001 }
}

export function makeBucket (name: string, ownerId = 'owner-1'): BucketRecord {
  return { name, ownerId, createdAt: 1_700_000_000_002, settings: JSON.stringify({ k: 4, m: 2 }) }
}

/** A segment with k+m pieces on nodes node-0 … node-(k+m-1). */
export function makeSegment (index: number, overrides: Partial<SegmentRecord> = {}): SegmentRecord {
  const k = overrides.k ?? 4
  const m = overrides.m ?? 2
  const shardSize = overrides.shardSize ?? 1024
  const pieces: PieceRecord[] = []
  for (let p = 0; p < k + m; p++) {
    pieces.push({
      pieceIndex: p,
      nodeId: `node-${p}`,
      pieceId: `piece-${index}-${p}-${randomBytes(4).toString('hex')}`,
      size: shardSize,
      hash: randomBytes(32).toString('hex')
    })
  }
  return {
    index,
    plainSize: shardSize * k - 16,
    encryptedSize: shardSize * k,
    shardSize,
    k,
    m,
    underPlaced: false,
    placementNote: '',
    pieces,
    ...overrides
  }
}

let uploadCounter = 0

export function newUploadId (): string {
  uploadCounter++
  return `up-${uploadCounter}-${randomBytes(6).toString('hex')}`
}

export function makeObject (bucket: string, key: string, uploadId: string, overrides: Partial<ObjectRecord> = {}): ObjectRecord {
  return {
    bucket,
    key,
    uploadId,
    size: 0,
    segmentCount: 0,
    segmentSize: 64 * 1024 * 1024,
    inlineData: null,
    keySalt: new Uint8Array(randomBytes(16)),
    contentType: 'application/octet-stream',
    etag: randomBytes(16).toString('hex'),
    userMetadata: '{}',
    createdAt: 1_700_000_000_003,
    ...overrides
  }
}

/** begin → add segments → commit; returns the committed object and what the commit replaced. */
export async function putObject (
  store: MetadataStore, bucket: string, key: string,
  options: { segments?: SegmentRecord[], object?: Partial<ObjectRecord> } = {}
): Promise<{ object: ObjectRecord, previous: ObjectRecord | undefined, segments: SegmentRecord[] }> {
  const uploadId = newUploadId()
  const segments = options.segments ?? []
  await store.beginUpload({ id: uploadId, bucket, key, createdAt: 1_700_000_000_000 })
  for (const segment of segments) await store.addSegment(uploadId, segment)
  const size = segments.reduce((sum, s) => sum + s.plainSize, 0)
  const object = makeObject(bucket, key, uploadId, {
    size,
    segmentCount: segments.length,
    inlineData: segments.length === 0 ? new Uint8Array(randomBytes(32)) : null,
    ...options.object
  })
  const previous = await store.commitObject(object)
  return { object, previous, segments }
}

/** Runs every conformance test against stores produced by `open`. */
export function runMetadataConformance (name: string, open: () => Promise<OpenedStore>): void {
  describe(`MetadataStore conformance: ${name}`, () => {
    let store: MetadataStore
    let cleanup: () => Promise<void>

    beforeEach(async () => {
      ({ store, cleanup } = await open())
      await store.migrate()
    })

    afterEach(async () => {
      await store.close()
      await cleanup()
    })

    describe('lifecycle', () => {
      it('migrate twice is safe and keeps the data', async () => {
        await store.createBucket(makeBucket('b'))
        await store.migrate()
        await store.migrate()
        expect(await store.getBucket('b')).toEqual(makeBucket('b'))
      })

      it('close twice is safe; use after close fails with StoreClosedError', async () => {
        await store.close()
        await store.close()
        await expectError(store.getBucket('b'), 'StoreClosedError')
        await expectError(store.createBucket(makeBucket('b')), 'StoreClosedError')
        await expectError(store.commitObject(makeObject('b', 'k', 'u')), 'StoreClosedError')
      })
    })

    describe('nodes', () => {
      it('upsert inserts, then updates lastSeen and capacity but keeps firstSeen', async () => {
        expect(await store.getNode('n1')).toBeUndefined()
        const first = makeNode('n1')
        await store.upsertNode(first)
        expect(await store.getNode('n1')).toEqual(first)

        const beat = makeNode('n1', {
          firstSeen: first.firstSeen + 60_000, // a later heartbeat must not move firstSeen
          lastSeen: first.lastSeen + 60_000,
          capacityBytes: 2_000_000,
          usedBytes: 500_000,
          freeBytes: 1_500_000,
          url: 'http://127.0.0.1:7200/n1'
        })
        await store.upsertNode(beat)
        expect(await store.getNode('n1')).toEqual({ ...beat, firstSeen: first.firstSeen })
        expect(await store.listNodes()).toHaveLength(1)
      })

      it('lists nodes sorted by id and round-trips sizes above 2^32', async () => {
        const big = makeNode('n-big', { capacityBytes: 2 ** 45 + 3, usedBytes: TWO_32 + 1, freeBytes: 2 ** 45 + 2 - TWO_32, lastSeen: Number.MAX_SAFE_INTEGER })
        for (const id of ['n3', 'n1', 'n2']) await store.upsertNode(makeNode(id))
        await store.upsertNode(big)
        const nodes = await store.listNodes()
        expect(nodes.map((n) => n.id)).toEqual(byteOrder(['n3', 'n1', 'n2', 'n-big']))
        expect(nodes.find((n) => n.id === 'n-big')).toEqual(big)
      })

      it('rejects non-integer sizes with InvalidArgumentError', async () => {
        await expectError(store.upsertNode(makeNode('n1', { capacityBytes: 1.5 })), 'InvalidArgumentError')
        await expectError(store.upsertNode(makeNode('n1', { usedBytes: -1 })), 'InvalidArgumentError')
        expect(await store.getNode('n1')).toBeUndefined()
      })
    })

    describe('accounts', () => {
      it('creates and reads by id and by name; secrets round-trip byte for byte', async () => {
        const account = { ...makeAccount('a1', 'alice'), sealedSecret: new Uint8Array(Array.from({ length: 256 }, (_, i) => i)) }
        await store.createAccount(account)
        expect(await store.getAccount('a1')).toEqual(account)
        expect(await store.getAccountByName('alice')).toEqual(account)
        const read = await store.getAccount('a1')
        expect(Buffer.from(read?.sealedSecret ?? []).equals(Buffer.from(account.sealedSecret))).toBe(true)
        expect(await store.getAccount('nobody')).toBeUndefined()
        expect(await store.getAccountByName('nobody')).toBeUndefined()
      })

      it('refuses a taken name or id with AlreadyExistsError and keeps the original', async () => {
        const alice = makeAccount('a1', 'alice')
        await store.createAccount(alice)
        await expectError(store.createAccount(makeAccount('a2', 'alice')), 'AlreadyExistsError')
        await expectError(store.createAccount(makeAccount('a1', 'bob')), 'AlreadyExistsError')
        expect(await store.getAccountByName('alice')).toEqual(alice)
        expect(await store.getAccount('a2')).toBeUndefined()
        expect(await store.getAccountByName('bob')).toBeUndefined()
      })

      it('treats names as exact bytes (case and accents differ)', async () => {
        await store.createAccount(makeAccount('a1', 'alice'))
        await store.createAccount(makeAccount('a2', 'Alice'))
        await store.createAccount(makeAccount('a3', 'alicé'))
        expect((await store.getAccountByName('Alice'))?.id).toBe('a2')
        expect((await store.getAccountByName('alicé'))?.id).toBe('a3')
      })
    })

    describe('access keys', () => {
      it('creates, reads, lists per account, deletes; refuses duplicates and unknown accounts', async () => {
        await store.createAccount(makeAccount('a1', 'alice'))
        await store.createAccount(makeAccount('a2', 'bob'))
        const k1 = { accessKeyId: 'SHOALKEY1', accountId: 'a1', sealedSecret: new Uint8Array([1, 2, 3, 0, 255]), createdAt: 10 }
        const k2 = { accessKeyId: 'SHOALKEY2', accountId: 'a2', sealedSecret: new Uint8Array([9]), createdAt: 20 }
        const k3 = { accessKeyId: 'SHOALKEY3', accountId: 'a1', sealedSecret: new Uint8Array([7]), createdAt: 30 }
        for (const k of [k1, k2, k3]) await store.createAccessKey(k)
        expect(await store.getAccessKey('SHOALKEY1')).toEqual(k1)
        expect(await store.getAccessKey('shoalkey1')).toBeUndefined()
        expect((await store.listAccessKeys('a1')).map((k) => k.accessKeyId)).toEqual(['SHOALKEY1', 'SHOALKEY3'])
        expect((await store.listAccessKeys()).map((k) => k.accessKeyId)).toEqual(['SHOALKEY1', 'SHOALKEY2', 'SHOALKEY3'])
        await expectError(store.createAccessKey({ ...k1, accountId: 'a2' }), 'AlreadyExistsError')
        await expectError(store.createAccessKey({ ...k1, accessKeyId: 'SHOALKEY4', accountId: 'nobody' }), 'NotFoundError')
        expect(await store.deleteAccessKey('SHOALKEY1')).toBe(true)
        expect(await store.deleteAccessKey('SHOALKEY1')).toBe(false)
        expect(await store.getAccessKey('SHOALKEY1')).toBeUndefined()
        expect((await store.listAccounts()).map((a) => a.name)).toEqual(['alice', 'bob'])
      })
    })

    describe('buckets', () => {
      it('creates, reads, refuses duplicates', async () => {
        const bucket = makeBucket('photos')
        await store.createBucket(bucket)
        expect(await store.getBucket('photos')).toEqual(bucket)
        expect(await store.getBucket('Photos')).toBeUndefined()
        await expectError(store.createBucket(makeBucket('photos', 'someone-else')), 'AlreadyExistsError')
        expect(await store.getBucket('photos')).toEqual(bucket)
      })

      it('lists by name in byte order, optionally by owner', async () => {
        const names = ['b-2', 'B-1', 'a', 'a.b', 'z', 'a-b']
        for (const [i, n] of names.entries()) await store.createBucket(makeBucket(n, i % 2 === 0 ? 'o1' : 'o2'))
        expect((await store.listBuckets()).map((b) => b.name)).toEqual(byteOrder(names))
        expect((await store.listBuckets('o1')).map((b) => b.name)).toEqual(byteOrder(names.filter((_, i) => i % 2 === 0)))
        expect(await store.listBuckets('nobody')).toEqual([])
      })

      it('deleteBucket: NotFoundError when missing, BucketNotEmptyError with objects, then deletes', async () => {
        await expectError(store.deleteBucket('nope'), 'NotFoundError')
        await store.createBucket(makeBucket('b'))
        await putObject(store, 'b', 'k')
        await expectError(store.deleteBucket('b'), 'BucketNotEmptyError')
        expect(await store.getBucket('b')).toBeDefined()
        await store.deleteObject('b', 'k')
        await store.deleteBucket('b')
        expect(await store.getBucket('b')).toBeUndefined()
        expect(await store.listBuckets()).toEqual([])
        await expectError(store.deleteBucket('b'), 'NotFoundError')
      })

      it('a pending upload does not keep a bucket alive; its commit then fails with NotFoundError', async () => {
        await store.createBucket(makeBucket('b'))
        const id = newUploadId()
        await store.beginUpload({ id, bucket: 'b', key: 'k', createdAt: 1 })
        await store.deleteBucket('b')
        await expectError(store.commitObject(makeObject('b', 'k', id)), 'NotFoundError')
        expect((await store.getUpload(id))?.state).toBe('pending')
        // A bucket of the same name created later does not inherit anything visible.
        await store.createBucket(makeBucket('b'))
        expect(await store.listObjects('b')).toEqual([])
      })
    })

    describe('uploads and segments', () => {
      beforeEach(async () => {
        await store.createBucket(makeBucket('b'))
      })

      it('beginUpload records a pending upload; NotFoundError for a missing bucket; AlreadyExistsError for a taken id', async () => {
        const id = newUploadId()
        await store.beginUpload({ id, bucket: 'b', key: 'k', createdAt: 1_700_000_000_000 })
        expect(await store.getUpload(id)).toEqual({ id, bucket: 'b', key: 'k', createdAt: 1_700_000_000_000, state: 'pending' })
        await expectError(store.beginUpload({ id: newUploadId(), bucket: 'missing', key: 'k', createdAt: 1 }), 'NotFoundError')
        await expectError(store.beginUpload({ id, bucket: 'b', key: 'other', createdAt: 2 }), 'AlreadyExistsError')
        expect((await store.getUpload(id))?.key).toBe('k')
        expect(await store.getUpload('nope')).toBeUndefined()
      })

      it('addSegment: NotFoundError for an unknown upload, AlreadyExistsError for a repeated index, InvalidArgumentError for bad input', async () => {
        await expectError(store.addSegment('nope', makeSegment(0)), 'NotFoundError')
        const id = newUploadId()
        await store.beginUpload({ id, bucket: 'b', key: 'k', createdAt: 1 })
        await store.addSegment(id, makeSegment(0))
        await expectError(store.addSegment(id, makeSegment(0)), 'AlreadyExistsError')
        await expectError(store.addSegment(id, makeSegment(-1)), 'InvalidArgumentError')
        const dup = makeSegment(1)
        await expectError(store.addSegment(id, { ...dup, pieces: [dup.pieces[0]!, dup.pieces[0]!] }), 'InvalidArgumentError')
        // Nothing of the refused segments was stored.
        await store.commitObject(makeObject('b', 'k', id, { segmentCount: 1 }))
        expect((await store.getSegments(id)).map((s) => s.index)).toEqual([0])
      })

      it('segments are invisible before commit and all visible at once after it', async () => {
        const id = newUploadId()
        await store.beginUpload({ id, bucket: 'b', key: 'k', createdAt: 1 })
        const segments = [makeSegment(2), makeSegment(0), makeSegment(1, { underPlaced: true, placementNote: 'policy needs 3 providers; 2 are online: aws, hetzner' })]
        for (const s of segments) {
          await store.addSegment(id, s)
          expect(await store.getObject('b', 'k')).toBeUndefined()
          expect(await store.listObjects('b')).toEqual([])
          expect(await store.getSegments(id)).toEqual([])
        }
        const before = await store.stats()
        expect(before.segments).toBe(0)
        expect(before.piecesPerNode.size).toBe(0)

        const object = makeObject('b', 'k', id, { size: 3 * 4080, segmentCount: 3 })
        expect(await store.commitObject(object)).toBeUndefined()
        expect(await store.getObject('b', 'k')).toEqual(object)
        expect(await store.listObjects('b')).toEqual([object])
        expect((await store.getUpload(id))?.state).toBe('committed')
        const expected = [...segments].sort((x, y) => x.index - y.index)
        expect(await store.getSegments(id)).toEqual(expected)
      })

      it('putInlineObject records the upload and commits in one go, with the same checks as commitObject', async () => {
        const first = makeObject('b', 'k', newUploadId(), { size: 3, inlineData: new Uint8Array([1, 2, 3]) })
        expect(await store.putInlineObject(first)).toBeUndefined()
        expect(await store.getObject('b', 'k')).toEqual(first)
        expect((await store.getUpload(first.uploadId))?.state).toBe('committed')
        const second = makeObject('b', 'k', newUploadId(), { size: 1, inlineData: new Uint8Array([9]) })
        await expectError(store.putInlineObject(second, { ifNoneMatch: true }), 'PreconditionFailedError')
        expect(await store.getUpload(second.uploadId)).toBeUndefined() // rolled back with the refused commit
        expect(await store.putInlineObject(second, { ifMatch: first.etag })).toEqual(first)
        expect(await store.getObject('b', 'k')).toEqual(second)
        await expectError(store.putInlineObject(makeObject('missing', 'k', newUploadId(), { inlineData: new Uint8Array(1) })), 'NotFoundError')
        await expectError(store.putInlineObject(makeObject('b', 'k2', newUploadId())), 'InvalidArgumentError')
        await expectError(store.putInlineObject({ ...second, key: 'k3' }), 'AlreadyExistsError')
      })

      describe('assembleObject (multipart completion without moving data)', () => {
        beforeEach(async () => {
          await store.createBucket(makeBucket('parts'))
        })

        it('moves the parts\' segments and pieces, in part order, into the new object, keeping each one\'s salt and nonce index', async () => {
          const p1 = await putObject(store, 'parts', 'u/1', { segments: [makeSegment(0), makeSegment(1)] })
          const p2 = await putObject(store, 'parts', 'u/2', { segments: [makeSegment(0, { plainSize: 100 })] })
          const old = await putObject(store, 'b', 'k', { segments: [makeSegment(0)] })
          const id = newUploadId()
          await store.beginUpload({ id, bucket: 'b', key: 'k', createdAt: 5 })
          const object = makeObject('b', 'k', id, { size: 12345, segmentCount: 999 })
          const parts = [p1, p2].map((p) => ({ bucket: 'parts', key: p.object.key, uploadId: p.object.uploadId }))
          const { object: committed, replaced } = await store.assembleObject(object, parts)
          expect(committed).toEqual({ ...object, segmentCount: 3 })
          expect(replaced).toEqual(old.object)
          expect(await store.getObject('b', 'k')).toEqual(committed)
          // Expected rows built here from what was put: renumbered 0..2, salts of the part objects, original indexes.
          const expected = [
            { ...p1.segments[0], index: 0, keySalt: p1.object.keySalt, sealIndex: 0, partNumber: 1 },
            { ...p1.segments[1], index: 1, keySalt: p1.object.keySalt, sealIndex: 1, partNumber: 1 },
            { ...p2.segments[0], index: 2, keySalt: p2.object.keySalt, sealIndex: 0, partNumber: 2 }
          ]
          const got = await store.getSegments(id)
          expect(got.map((g) => ({ ...g, keySalt: Buffer.from(g.keySalt!) }))).toEqual(expected.map((e) => ({ ...e, keySalt: Buffer.from(e.keySalt) })))
          // The parts are gone, and their pieces belong to the new object only (audits and GC find them there).
          expect(await store.listObjects('parts')).toEqual([])
          expect(await store.getSegments(p1.object.uploadId)).toEqual([])
          expect(await store.getUpload(p1.object.uploadId)).toBeUndefined()
          const held = await store.piecesOfNode('node-0', '', 100)
          for (const e of expected) expect(held).toContainEqual(expect.objectContaining({ uploadId: id, segmentIndex: e.index, pieceId: e.pieces[0]!.pieceId }))
          expect((await store.stats()).segments).toBe(3)

          // An assembled object can itself be a part (its segments keep their first salt and nonce index).
          const again = newUploadId()
          await store.beginUpload({ id: again, bucket: 'parts', key: 'whole', createdAt: 6 })
          await store.assembleObject(makeObject('parts', 'whole', again), [{ bucket: 'b', key: 'k', uploadId: id }])
          const moved = await store.getSegments(again)
          expect(moved.map((m) => [m.sealIndex, Buffer.from(m.keySalt!).equals(Buffer.from(m.index < 2 ? p1.object.keySalt : p2.object.keySalt)), m.partNumber])).toEqual([[0, true, 1], [1, true, 1], [0, true, 1]])
        })

        it('ConflictError when a part was replaced or deleted since it was listed; nothing changes', async () => {
          const p1 = await putObject(store, 'parts', 'u/1', { segments: [makeSegment(0)] })
          const p2 = await putObject(store, 'parts', 'u/2', { segments: [makeSegment(0)] })
          await putObject(store, 'parts', 'u/2', { segments: [makeSegment(0)] }) // a retried UploadPart replaced it
          const id = newUploadId()
          await store.beginUpload({ id, bucket: 'b', key: 'k', createdAt: 5 })
          const parts = [p1, p2].map((p) => ({ bucket: 'parts', key: p.object.key, uploadId: p.object.uploadId }))
          await expectError(store.assembleObject(makeObject('b', 'k', id), parts), 'ConflictError')
          expect(await store.getObject('b', 'k')).toBeUndefined()
          expect((await store.getUpload(id))?.state).toBe('pending')
          expect(await store.getObject('parts', 'u/1')).toEqual(p1.object)
          expect(await store.getSegments(p1.object.uploadId)).toEqual(p1.segments)
          await store.deleteObject('parts', 'u/1')
          await expectError(store.assembleObject(makeObject('b', 'k', id), parts.slice(0, 1)), 'ConflictError')
        })

        it('checks the write condition atomically and refuses inline parts', async () => {
          const p1 = await putObject(store, 'parts', 'u/1', { segments: [makeSegment(0)] })
          await putObject(store, 'b', 'k', { segments: [makeSegment(0)] })
          const id = newUploadId()
          await store.beginUpload({ id, bucket: 'b', key: 'k', createdAt: 5 })
          const part = { bucket: 'parts', key: 'u/1', uploadId: p1.object.uploadId }
          await expectError(store.assembleObject(makeObject('b', 'k', id), [part], { ifNoneMatch: true }), 'PreconditionFailedError')
          expect(await store.getObject('parts', 'u/1')).toEqual(p1.object)
          const inline = await putObject(store, 'parts', 'u/2')
          await expectError(store.assembleObject(makeObject('b', 'k', id), [{ bucket: 'parts', key: 'u/2', uploadId: inline.object.uploadId }]), 'InvalidArgumentError')
          const { object } = await store.assembleObject(makeObject('b', 'k', id), [part], { ifMatch: (await store.getObject('b', 'k'))!.etag })
          expect(object.segmentCount).toBe(1)
        })
      })

      it('returns pieces in piece order whatever order they were added in', async () => {
        const id = newUploadId()
        await store.beginUpload({ id, bucket: 'b', key: 'k', createdAt: 1 })
        const segment = makeSegment(0, { k: 10, m: 4 })
        const shuffled = { ...segment, pieces: [...segment.pieces].reverse() }
        await store.addSegment(id, shuffled)
        await store.commitObject(makeObject('b', 'k', id, { segmentCount: 1 }))
        const [read] = await store.getSegments(id)
        expect(read?.pieces.map((p) => p.pieceIndex)).toEqual(Array.from({ length: 14 }, (_, i) => i))
        expect(read).toEqual(segment)
      })

      it('a pending upload to an existing key leaves the old version visible until it commits', async () => {
        const { object: v1 } = await putObject(store, 'b', 'k')
        const id = newUploadId()
        await store.beginUpload({ id, bucket: 'b', key: 'k', createdAt: 2 })
        await store.addSegment(id, makeSegment(0))
        expect(await store.getObject('b', 'k')).toEqual(v1)
        expect(await store.listObjects('b')).toEqual([v1])
      })

      it('commit refuses an incomplete upload (UploadStateError) and a different key (InvalidArgumentError)', async () => {
        const id = newUploadId()
        await store.beginUpload({ id, bucket: 'b', key: 'k', createdAt: 1 })
        await store.addSegment(id, makeSegment(0))
        await store.addSegment(id, makeSegment(2))
        await expectError(store.commitObject(makeObject('b', 'k', id, { segmentCount: 3 })), 'UploadStateError')
        await expectError(store.commitObject(makeObject('b', 'k', id, { segmentCount: 2 })), 'UploadStateError')
        await expectError(store.commitObject(makeObject('b', 'other', id, { segmentCount: 3 })), 'InvalidArgumentError')
        expect((await store.getUpload(id))?.state).toBe('pending')
        expect(await store.getObject('b', 'k')).toBeUndefined()
        await store.addSegment(id, makeSegment(1))
        await store.commitObject(makeObject('b', 'k', id, { segmentCount: 3 }))
        expect((await store.getSegments(id)).map((s) => s.index)).toEqual([0, 1, 2])
        await expectError(store.commitObject(makeObject('b', 'k', 'no-such-upload')), 'NotFoundError')
      })

      it('commit twice → UploadStateError; nothing changes', async () => {
        const { object } = await putObject(store, 'b', 'k', { segments: [makeSegment(0)] })
        const error = await expectError(store.commitObject({ ...object, etag: 'changed' }), 'UploadStateError')
        expect(error.message).toContain(object.uploadId)
        expect(await store.getObject('b', 'k')).toEqual(object)
        await expectError(store.addSegment(object.uploadId, makeSegment(1)), 'UploadStateError')
        await expectError(store.abortUpload(object.uploadId), 'UploadStateError')
      })

      it('the same upload committed concurrently: exactly one attempt wins, the others get UploadStateError', async () => {
        for (let round = 0; round < 5; round++) {
          const key = `k${round}`
          const id = newUploadId()
          await store.beginUpload({ id, bucket: 'b', key, createdAt: 1 })
          await store.addSegment(id, makeSegment(0))
          const attempts = Array.from({ length: 8 }, (_, i) => makeObject('b', key, id, { segmentCount: 1, etag: `attempt-${i}` }))
          const results = await Promise.allSettled(attempts.map(async (o) => await store.commitObject(o)))
          const won = results.flatMap((r, i) => r.status === 'fulfilled' ? [i] : [])
          const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
          expect(won).toHaveLength(1)
          expect(lost.map((r) => (r.reason as Error).name)).toEqual(Array.from({ length: 7 }, () => 'UploadStateError'))
          expect((await store.getObject('b', key))?.etag).toBe(`attempt-${won[0]!}`)
          expect(await store.listObjects('b', { prefix: key })).toHaveLength(1)
        }
      })

      it('abort returns the segments, marks the upload aborted, and forbids later use', async () => {
        const id = newUploadId()
        await store.beginUpload({ id, bucket: 'b', key: 'k', createdAt: 1 })
        const segments = [makeSegment(0), makeSegment(1)]
        for (const s of segments) await store.addSegment(id, s)
        expect(await store.abortUpload(id)).toEqual(segments)
        expect((await store.getUpload(id))?.state).toBe('aborted')
        expect(await store.getSegments(id)).toEqual([])
        expect(await store.getObject('b', 'k')).toBeUndefined()
        await expectError(store.abortUpload(id), 'UploadStateError')
        await expectError(store.addSegment(id, makeSegment(2)), 'UploadStateError')
        await expectError(store.commitObject(makeObject('b', 'k', id, { segmentCount: 2 })), 'UploadStateError')
        await expectError(store.abortUpload('nope'), 'NotFoundError')
        const empty = newUploadId()
        await store.beginUpload({ id: empty, bucket: 'b', key: 'k2', createdAt: 1 })
        expect(await store.abortUpload(empty)).toEqual([])
      })

      it('purgeUpload forgets only uploads that are no longer visible', async () => {
        const { object: v1, segments: s1 } = await putObject(store, 'b', 'k', { segments: [makeSegment(0)] })
        await expectError(store.purgeUpload(v1.uploadId), 'UploadStateError') // visible
        const pending = newUploadId()
        await store.beginUpload({ id: pending, bucket: 'b', key: 'k', createdAt: 1 })
        await expectError(store.purgeUpload(pending), 'UploadStateError')
        await expectError(store.purgeUpload('nope'), 'NotFoundError')

        const { previous } = await putObject(store, 'b', 'k', { segments: [makeSegment(0)] })
        expect(previous).toEqual(v1)
        // The replaced upload still answers, so GC can find its pieces …
        expect(await store.getSegments(v1.uploadId)).toEqual(s1)
        await store.purgeUpload(v1.uploadId)
        // … until it is purged.
        expect(await store.getUpload(v1.uploadId)).toBeUndefined()
        expect(await store.getSegments(v1.uploadId)).toEqual([])

        await store.abortUpload(pending)
        await store.purgeUpload(pending)
        expect(await store.getUpload(pending)).toBeUndefined()
      })
    })

    describe('objects', () => {
      beforeEach(async () => {
        await store.createBucket(makeBucket('b'))
        await store.createBucket(makeBucket('other'))
      })

      it('replace returns the old object; the new one is visible', async () => {
        const { object: v1, previous: none } = await putObject(store, 'b', 'k', { segments: [makeSegment(0)] })
        expect(none).toBeUndefined()
        const { object: v2, previous } = await putObject(store, 'b', 'k', { segments: [makeSegment(0), makeSegment(1)] })
        expect(previous).toEqual(v1)
        expect(await store.getObject('b', 'k')).toEqual(v2)
        expect(await store.listObjects('b')).toEqual([v2])
      })

      it('conditional commits: If-None-Match * and If-Match decide atomically and change nothing when they fail', async () => {
        const begin = async (key: string): Promise<string> => {
          const id = newUploadId()
          await store.beginUpload({ id, bucket: 'b', key, createdAt: 1 })
          await store.addSegment(id, makeSegment(0))
          return id
        }
        const first = await begin('cond')
        await store.commitObject(makeObject('b', 'cond', first, { segmentCount: 1, size: 4080, etag: 'e1' }), { ifNoneMatch: true })
        const second = await begin('cond')
        await expectError(store.commitObject(makeObject('b', 'cond', second, { segmentCount: 1, size: 4080, etag: 'e2' }), { ifNoneMatch: true }), 'PreconditionFailedError')
        expect((await store.getObject('b', 'cond'))?.etag).toBe('e1')
        expect((await store.getUpload(second))?.state).toBe('pending')
        await expectError(store.commitObject(makeObject('b', 'cond', second, { segmentCount: 1, size: 4080, etag: 'e2' }), { ifMatch: 'nope' }), 'PreconditionFailedError')
        await store.commitObject(makeObject('b', 'cond', second, { segmentCount: 1, size: 4080, etag: 'e2' }), { ifMatch: 'e1' })
        expect((await store.getObject('b', 'cond'))?.etag).toBe('e2')
        const third = await begin('absent')
        await expectError(store.commitObject(makeObject('b', 'absent', third, { segmentCount: 1, size: 4080 }), { ifMatch: 'e1' }), 'PreconditionFailedError')
        expect(await store.getObject('b', 'absent')).toBeUndefined()
      })

      it('10 concurrent If-None-Match * commits of one new key: exactly one wins', async () => {
        const ids: string[] = []
        for (let i = 0; i < 10; i++) {
          const id = newUploadId()
          ids.push(id)
          await store.beginUpload({ id, bucket: 'b', key: 'race', createdAt: i })
          await store.addSegment(id, makeSegment(0))
        }
        const results = await Promise.allSettled(ids.map(async (id) =>
          await store.commitObject(makeObject('b', 'race', id, { segmentCount: 1, size: 4080, etag: id }), { ifNoneMatch: true })))
        const won = results.filter((r) => r.status === 'fulfilled')
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
        expect(won).toHaveLength(1)
        expect(lost.map((r) => (r.reason as Error).name)).toEqual(new Array(9).fill('PreconditionFailedError'))
        const visible = await store.getObject('b', 'race')
        expect(ids[results.findIndex((r) => r.status === 'fulfilled')]).toBe(visible?.uploadId)
      })

      it('deleteObject returns the object once, then undefined', async () => {
        const { object } = await putObject(store, 'b', 'k')
        await putObject(store, 'other', 'k')
        expect(await store.deleteObject('b', 'k')).toEqual(object)
        expect(await store.getObject('b', 'k')).toBeUndefined()
        expect(await store.deleteObject('b', 'k')).toBeUndefined()
        expect(await store.deleteObject('b', 'never')).toBeUndefined()
        expect(await store.getObject('other', 'k')).toBeDefined()
        // The deleted object's segments stay readable by upload id until purged (for GC).
        expect((await store.getUpload(object.uploadId))?.state).toBe('committed')
      })

      it('20 concurrent commits of one key: one visible object, every upload committed, every replaced object returned once', async () => {
        const n = 20
        const ids: string[] = []
        for (let i = 0; i < n; i++) {
          const id = newUploadId()
          ids.push(id)
          await store.beginUpload({ id, bucket: 'b', key: 'hot', createdAt: i })
          await store.addSegment(id, makeSegment(0))
        }
        const results = await Promise.allSettled(ids.map(async (id) =>
          await store.commitObject(makeObject('b', 'hot', id, { segmentCount: 1, size: 4080 }))))
        const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
        expect(failures.map((f) => String(f.reason))).toEqual([])
        const previous = results.map((r) => (r as PromiseFulfilledResult<ObjectRecord | undefined>).value)

        const listed = await store.listObjects('b')
        expect(listed).toHaveLength(1)
        const visible = listed[0]!
        expect(ids).toContain(visible.uploadId)
        for (const id of ids) expect((await store.getUpload(id))?.state).toBe('committed')

        // Commits form a chain: exactly one found nothing, and every upload except the visible one was
        // returned as replaced by exactly one commit — no object was lost without a trace.
        expect(previous.filter((p) => p === undefined)).toHaveLength(1)
        const replaced = previous.filter((p) => p !== undefined).map((p) => p.uploadId)
        expect([...replaced, visible.uploadId].sort()).toEqual([...ids].sort())
        expect((await store.stats()).objects).toBe(1)
      })

      it('listObjects: byte order for unicode keys; prefixes with % and _ are literal', async () => {
        const keys = [
          'a', 'a%', 'a%b', 'a%%', 'a_', 'a_b', 'aXb', 'ab', 'a\\', 'a\\_',
          'B', 'b', 'é', 'e\u0301', 'ü/x', 'ü/y', 'ü0',
          '\uffff', '😀', '😀/1', '\u{10ffff}', '\u{10ffff}\u{10ffff}', '\u{10ffff}a',
          'z', 'z/', 'z/a', 'z/a/b', 'z0', '中文', '中文/键',
          'x\ud7ff', 'x\ud7ffa', 'x\ue000', 'x\ue000b' // the prefix successor must skip the surrogate block
        ]
        // UTF-16 order (JS default sort) differs from byte order for these; make sure the test can tell.
        expect([...keys].sort()).not.toEqual(byteOrder(keys))
        for (const key of keys) await putObject(store, 'b', key)
        await putObject(store, 'other', 'a%b')

        const all = await store.listObjects('b')
        expect(all.map((o) => o.key)).toEqual(byteOrder(keys))
        expect(all.every((o) => o.bucket === 'b')).toBe(true)

        const withPrefix = (p: string): string[] => byteOrder(keys.filter((k) => k.startsWith(p)))
        for (const prefix of ['x\ud7ff', 'a%', 'a_', 'a\\', 'a', 'ü/', 'z/a', '😀', '\u{10ffff}', '中文', 'é', 'nothing', '']) {
          const listed = await store.listObjects('b', { prefix })
          expect(listed.map((o) => o.key), `prefix ${JSON.stringify(prefix)}`).toEqual(withPrefix(prefix))
        }
        // startAfter combines with prefix, and need not be an existing key.
        expect((await store.listObjects('b', { prefix: 'z', startAfter: 'z/a' })).map((o) => o.key))
          .toEqual(withPrefix('z').filter((k) => Buffer.compare(Buffer.from(k), Buffer.from('z/a')) > 0))
        expect((await store.listObjects('b', { startAfter: '\uffff' })).map((o) => o.key))
          .toEqual(byteOrder(keys).filter((k) => Buffer.compare(Buffer.from(k), Buffer.from('\uffff')) > 0))
        expect((await store.listObjects('b', { prefix: 'a', limit: 3 })).map((o) => o.key)).toEqual(withPrefix('a').slice(0, 3))
        expect(await store.listObjects('b', { limit: 0 })).toEqual([])
        expect(await store.listObjects('missing-bucket')).toEqual([])
        await expectError(store.listObjects('b', { limit: -1 }), 'InvalidArgumentError')
        await expectError(store.listObjects('b', { limit: 2.5 }), 'InvalidArgumentError')
      })

      it('paginates a few thousand keys with startAfter, with and without a prefix', async () => {
        const n = 2500
        const keys = Array.from({ length: n }, (_, i) => `dir${i % 3}/file-${String(i * 7919 % 10007)}-${i}`)
        // Commit in small parallel batches: realistic, and faster on PostgreSQL.
        for (let i = 0; i < n; i += 25) {
          await Promise.all(keys.slice(i, i + 25).map(async (k) => await putObject(store, 'b', k)))
        }
        const walk = async (prefix: string | undefined, pageSize: number): Promise<string[]> => {
          const seen: string[] = []
          let startAfter: string | undefined
          for (;;) {
            const page = await store.listObjects('b', { ...(prefix !== undefined ? { prefix } : {}), ...(startAfter !== undefined ? { startAfter } : {}), limit: pageSize })
            expect(page.length).toBeLessThanOrEqual(pageSize)
            seen.push(...page.map((o) => o.key))
            if (page.length < pageSize) return seen
            startAfter = page[page.length - 1]!.key
          }
        }
        expect(await walk(undefined, 333)).toEqual(byteOrder(keys))
        expect(await walk('dir1/', 100)).toEqual(byteOrder(keys.filter((k) => k.startsWith('dir1/'))))
        // Default limit is 1000.
        expect(await store.listObjects('b')).toHaveLength(1000)
      }, 300_000)

      it('sizes above 2^32 and binary blobs round-trip exactly', async () => {
        const everyByte = new Uint8Array(Array.from({ length: 512 }, (_, i) => i % 256))
        const segment = makeSegment(0, {
          plainSize: 2 ** 33 + 1,
          encryptedSize: 2 ** 33 + 17,
          shardSize: TWO_32 + 5,
          pieces: [{ pieceIndex: 0, nodeId: 'node-0', pieceId: 'p0', size: TWO_32 + 5, hash: 'ab'.repeat(32) }]
        })
        const { object } = await putObject(store, 'b', 'huge', {
          segments: [segment],
          object: { size: Number.MAX_SAFE_INTEGER, segmentSize: 2 ** 40 + 7, createdAt: 2 ** 41 + 1, keySalt: everyByte }
        })
        const read = await store.getObject('b', 'huge')
        expect(read).toEqual(object)
        expect(read?.size).toBe(Number.MAX_SAFE_INTEGER)
        expect(read?.inlineData).toBeNull()
        expect(Buffer.from(read!.keySalt).equals(Buffer.from(everyByte))).toBe(true)
        expect(await store.getSegments(object.uploadId)).toEqual([segment])

        const inline = new Uint8Array(randomBytes(4096))
        inline[0] = 0
        inline[1] = 0xff
        const { object: small } = await putObject(store, 'b', 'small', { object: { inlineData: inline } })
        const readSmall = await store.getObject('b', 'small')
        expect(Buffer.from(readSmall!.inlineData!).equals(Buffer.from(inline))).toBe(true)
        expect(readSmall).toEqual(small)

        await putObject(store, 'b', 'empty', { object: { inlineData: new Uint8Array(0), keySalt: new Uint8Array(0) } })
        const readEmpty = await store.getObject('b', 'empty')
        expect(readEmpty?.inlineData).toEqual(new Uint8Array(0))
        expect(readEmpty?.keySalt).toEqual(new Uint8Array(0))
      })

      it('keeps content type, etag and user metadata text as given', async () => {
        const meta = JSON.stringify({ 'x-amz-meta-ünïcode': 'välue 😀', quote: '"\'' })
        const { object } = await putObject(store, 'b', 'k', { object: { contentType: 'text/plain; charset=utf-8', userMetadata: meta, etag: '"abc-2"' } })
        expect(await store.getObject('b', 'k')).toEqual(object)
      })
    })

    describe('stats', () => {
      it('counts only committed, visible objects', async () => {
        expect(await store.stats()).toEqual({ objects: 0, bytes: 0, segments: 0, underPlacedSegments: 0, piecesPerNode: new Map() })
        await store.createBucket(makeBucket('b'))

        // Visible: a 2-segment object (one under-placed, one with a big shard), and an inline object.
        const big = makeSegment(1, { shardSize: TWO_32 + 1, plainSize: 4 * (TWO_32 + 1) - 16, encryptedSize: 4 * (TWO_32 + 1), underPlaced: true, placementNote: 'only 2 regions online' })
        const { object: multi, segments } = await putObject(store, 'b', 'multi', { segments: [makeSegment(0), big] })
        const { object: inline } = await putObject(store, 'b', 'inline', { object: { size: 100 } })
        // Invisible: a replaced version, a pending upload, an aborted one.
        await putObject(store, 'b', 'replaced', { segments: [makeSegment(0, { underPlaced: true })] })
        const { object: replacement } = await putObject(store, 'b', 'replaced', { segments: [makeSegment(0)] })
        const pending = newUploadId()
        await store.beginUpload({ id: pending, bucket: 'b', key: 'p', createdAt: 1 })
        await store.addSegment(pending, makeSegment(0, { underPlaced: true }))
        const aborted = newUploadId()
        await store.beginUpload({ id: aborted, bucket: 'b', key: 'a', createdAt: 1 })
        await store.addSegment(aborted, makeSegment(0))
        await store.abortUpload(aborted)

        const visibleSegments = [...segments, makeSegment(0)] // replacement has one default segment
        const perNode = new Map<string, { pieces: number, bytes: number }>()
        for (const s of visibleSegments) {
          for (const p of s.pieces) {
            const entry = perNode.get(p.nodeId) ?? { pieces: 0, bytes: 0 }
            perNode.set(p.nodeId, { pieces: entry.pieces + 1, bytes: entry.bytes + p.size })
          }
        }
        const stats = await store.stats()
        expect(stats).toEqual({
          objects: 3,
          bytes: multi.size + inline.size + replacement.size,
          segments: 3,
          underPlacedSegments: 1,
          piecesPerNode: perNode
        })
        expect(stats.bytes).toBeGreaterThan(TWO_32)
        expect(stats.piecesPerNode.get('node-0')).toEqual({ pieces: 3, bytes: 1024 + TWO_32 + 1 + 1024 })

        await store.deleteObject('b', 'multi')
        const after = await store.stats()
        expect(after.objects).toBe(2)
        expect(after.segments).toBe(1)
        expect(after.underPlacedSegments).toBe(0)
        expect(after.piecesPerNode.get('node-0')).toEqual({ pieces: 1, bytes: 1024 })
      })
    })

    describe('durability', () => {
      const reputation = (nodeId: string, overrides: Partial<ReputationRecord> = {}): ReputationRecord => ({
        nodeId, standing: 'vetting', standingReason: '', standingSince: 1000, exitState: 'none', audits: 3, auditSuccesses: 2,
        auditFailures: 1, auditUnknown: 0, auditOffline: 5, auditAlpha: 1.9025, auditBeta: 0.95, unknownAlpha: 1, unknownBeta: 0,
        uptimeScore: 0.75, latencyMs: 12.5, updatedAt: 2000, ...overrides
      })

      it('stores and replaces reputations', async () => {
        expect(await store.listReputations()).toEqual([])
        await store.putReputation(reputation('n-b'))
        await store.putReputation(reputation('n-a', { standing: 'disqualified', standingReason: 'failed 10 audits', exitState: 'exiting' }))
        await store.putReputation(reputation('n-b', { standing: 'active', audits: 2 ** 40, auditAlpha: 19.5 }))
        expect(await store.listReputations()).toEqual([
          reputation('n-a', { standing: 'disqualified', standingReason: 'failed 10 audits', exitState: 'exiting' }),
          reputation('n-b', { standing: 'active', audits: 2 ** 40, auditAlpha: 19.5 })
        ])
      })

      it('pages through a node\'s pieces: visible ones for audits, every recorded one for retain sets', async () => {
        await store.createBucket(makeBucket('b'))
        const visible: SegmentRecord[] = []
        for (let i = 0; i < 5; i++) visible.push(...(await putObject(store, 'b', `k${i}`, { segments: [makeSegment(0), makeSegment(1)] })).segments)
        const pending = newUploadId()
        await store.beginUpload({ id: pending, bucket: 'b', key: 'p', createdAt: 1 })
        const pendingSegment = makeSegment(0)
        await store.addSegment(pending, pendingSegment)
        const onNode2 = (segments: SegmentRecord[]): string[] => segments.flatMap((s) => s.pieces.filter((p) => p.nodeId === 'node-2').map((p) => p.pieceId))
        const expectedVisible = byteOrder(onNode2(visible))
        const seen: string[] = []
        let after = ''
        for (;;) {
          const page = await store.piecesOfNode('node-2', after, 3)
          if (page.length === 0) break
          expect(page.length).toBeLessThanOrEqual(3)
          for (const p of page) {
            const segment = visible.find((s) => s.pieces.some((q) => q.pieceId === p.pieceId))!
            const piece = segment.pieces.find((q) => q.pieceId === p.pieceId)!
            expect(p).toMatchObject({ segmentIndex: segment.index, pieceIndex: 2, size: piece.size, hash: piece.hash })
          }
          seen.push(...page.map((p) => p.pieceId))
          after = page[page.length - 1].pieceId
        }
        expect(seen).toEqual(expectedVisible)
        const ids: string[] = []
        after = ''
        for (let page = await store.pieceIdsOfNode('node-2', after, 4); page.length > 0; page = await store.pieceIdsOfNode('node-2', after, 4)) {
          ids.push(...page)
          after = page[page.length - 1]
        }
        expect(ids).toEqual(byteOrder([...expectedVisible, ...onNode2([pendingSegment])]))
      })

      it('lists segments of visible objects in pages, with their object', async () => {
        await store.createBucket(makeBucket('b'))
        const a = await putObject(store, 'b', 'a', { segments: [makeSegment(0), makeSegment(1), makeSegment(2)] })
        const c = await putObject(store, 'b', 'c', { segments: [makeSegment(0, { underPlaced: true, placementNote: 'x' })] })
        await putObject(store, 'b', 'gone', { segments: [makeSegment(0)] })
        await store.deleteObject('b', 'gone')
        const all = []
        let after: { uploadId: string, index: number } | undefined
        for (;;) {
          const page = await store.listSegments(after, 2)
          if (page.length === 0) break
          all.push(...page)
          after = { uploadId: page[page.length - 1].uploadId, index: page[page.length - 1].index }
        }
        const expected = [
          ...a.segments.map((s) => ({ ...s, uploadId: a.object.uploadId, bucket: 'b', key: 'a' })),
          ...c.segments.map((s) => ({ ...s, uploadId: c.object.uploadId, bucket: 'b', key: 'c' }))
        ].sort((x, y) => x.uploadId < y.uploadId ? -1 : x.uploadId > y.uploadId ? 1 : x.index - y.index)
        expect(all).toEqual(expected)
      })

      it('replaces pieces only when the rows are as expected and the object is visible', async () => {
        await store.createBucket(makeBucket('b'))
        const { object, segments } = await putObject(store, 'b', 'a', { segments: [makeSegment(0, { underPlaced: true, placementNote: 'weak' })] })
        const old = segments[0].pieces[1]
        const fresh = { pieceIndex: 1, nodeId: 'node-9', pieceId: 'piece-new', size: old.size, hash: 'ab'.repeat(32) }
        // A stale expectation changes nothing.
        expect(await store.replacePieces(object.uploadId, 0, [{ pieceIndex: 1, expectedPieceId: 'other', piece: fresh }], { underPlaced: false, placementNote: '' })).toBe(false)
        expect((await store.getSegments(object.uploadId))[0]).toEqual(segments[0])
        expect(await store.replacePieces(object.uploadId, 0, [{ pieceIndex: 1, expectedPieceId: old.pieceId, piece: fresh }], { underPlaced: false, placementNote: '' })).toBe(true)
        const [after] = await store.getSegments(object.uploadId)
        expect(after.pieces[1]).toEqual(fresh)
        expect(after).toMatchObject({ underPlaced: false, placementNote: '' })
        // A removed piece is a missing row; it can be filled with expectedPieceId undefined.
        expect(await store.removePiece(object.uploadId, 0, 3, 'not-it')).toBe(false)
        expect(await store.removePiece(object.uploadId, 0, 3, segments[0].pieces[3].pieceId)).toBe(true)
        expect((await store.getSegments(object.uploadId))[0].pieces.map((p) => p.pieceIndex)).toEqual([0, 1, 2, 4, 5])
        const refill = { ...fresh, pieceIndex: 3, pieceId: 'piece-refill' }
        expect(await store.replacePieces(object.uploadId, 0, [{ pieceIndex: 3, piece: refill }], { underPlaced: false, placementNote: '' })).toBe(true)
        expect((await store.getSegments(object.uploadId))[0].pieces[3]).toEqual(refill)
        // Once the object is gone, nothing is replaced.
        await store.deleteObject('b', 'a')
        expect(await store.replacePieces(object.uploadId, 0, [{ pieceIndex: 3, expectedPieceId: 'piece-refill', piece: { ...refill, pieceId: 'late' } }], { underPlaced: false, placementNote: '' })).toBe(false)
      })

      it('finds garbage uploads and aborts stale pending ones', async () => {
        await store.createBucket(makeBucket('b'))
        const { object: replaced } = await putObject(store, 'b', 'x', { segments: [makeSegment(0)] })
        await putObject(store, 'b', 'x', { segments: [makeSegment(0)] })
        const { object: deleted } = await putObject(store, 'b', 'y', { segments: [makeSegment(0)] })
        await store.deleteObject('b', 'y')
        const aborted = newUploadId()
        await store.beginUpload({ id: aborted, bucket: 'b', key: 'z', createdAt: 1_600_000_000_000 })
        await store.abortUpload(aborted)
        const stale = newUploadId()
        await store.beginUpload({ id: stale, bucket: 'b', key: 's', createdAt: 1_500_000_000_000 })
        const fresh = newUploadId()
        await store.beginUpload({ id: fresh, bucket: 'b', key: 'f', createdAt: 1_800_000_000_000 })

        expect(new Set(await store.garbageUploads(1_700_000_000_001, 100))).toEqual(new Set([replaced.uploadId, deleted.uploadId, aborted]))
        expect(await store.garbageUploads(1_650_000_000_000, 100)).toEqual([aborted])
        expect(await store.garbageUploads(1_700_000_000_001, 1)).toEqual([aborted]) // oldest first
        expect(await store.abortStaleUploads(1_700_000_000_000)).toBe(1)
        expect((await store.getUpload(stale))?.state).toBe('aborted')
        expect((await store.getUpload(fresh))?.state).toBe('pending')
        for (const id of await store.garbageUploads(1_700_000_000_001, 100)) await store.purgeUpload(id)
        expect(await store.garbageUploads(1_900_000_000_000, 100)).toEqual([])
      })
    })
  })
}
