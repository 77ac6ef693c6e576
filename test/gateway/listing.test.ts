/**
 * listPage's delimiter roll-up over a real (in-memory SQLite) metadata store: the page is what a
 * straightforward walk over every key computes, and rolling up large folders reads few rows.
 */
import { randomBytes } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { listPage } from '../../src/gateway/listing.js'
import type { ListObjectsOptions, MetadataStore } from '../../src/metadata/metadata-store.js'
import { openSqliteStore } from '../../src/metadata/sqlite.js'

describe('listPage', () => {
  let store: MetadataStore
  let rowsRead = 0
  const keys: string[] = []

  beforeEach(async () => {
    store = await openSqliteStore({ path: ':memory:' })
    await store.migrate()
    await store.createBucket({ name: 'b', ownerId: 'o', createdAt: 1, settings: '' })
    keys.length = 0
    // 40 folders of 300 keys, with plain keys between some of them.
    for (let f = 0; f < 40; f++) {
      for (let i = 0; i < 300; i++) keys.push(`photos/f${String(f).padStart(2, '0')}/${i}.jpg`)
      if (f % 10 === 0) keys.push(`photos/f${String(f).padStart(2, '0')}.txt`)
    }
    for (const [i, key] of keys.entries()) {
      await store.putInlineObject({ bucket: 'b', key, uploadId: `u${i}`, size: 1, segmentCount: 0, segmentSize: 1024, inlineData: randomBytes(17), keySalt: randomBytes(16), contentType: 'x', etag: 'e', userMetadata: '{}', createdAt: 1 })
    }
    const list = store.listObjects.bind(store)
    rowsRead = 0
    store.listObjects = async (bucket: string, options?: ListObjectsOptions) => {
      const rows = await list(bucket, options)
      rowsRead += rows.length
      return rows
    }
  })
  afterEach(async () => { await store.close() })

  /** The same page by brute force over the sorted keys. */
  function expected (prefix: string, delimiter: string, startAfter: string, max: number): { entries: string[], truncated: boolean } {
    const entries: string[] = []
    for (const key of [...keys].sort()) {
      if (!key.startsWith(prefix) || key <= startAfter) continue
      const cut = key.indexOf(delimiter, prefix.length)
      const entry = cut < 0 ? key : key.slice(0, cut + delimiter.length)
      if (entry <= startAfter && cut >= 0) continue
      if (entries[entries.length - 1] === entry) continue
      if (entries.length === max) return { entries, truncated: true }
      entries.push(entry)
    }
    return { entries, truncated: false }
  }

  it('rolls folders up as a walk over every key does, page by page, reading few rows', async () => {
    const got: string[] = []
    let after = ''
    for (;;) {
      const page = await listPage(store, 'b', 'photos/', '/', after, 7)
      const want = expected('photos/', '/', after, 7)
      const entries = [...page.objects.map((o) => o.key), ...page.prefixes].sort()
      expect(entries).toEqual(want.entries)
      expect(page.truncated).toBe(want.truncated)
      got.push(...entries)
      if (!page.truncated) break
      after = page.last
    }
    expect(got).toHaveLength(44)
    // 44 entries over 12 004 keys: a few rows per folder, not its 300.
    expect(rowsRead).toBeLessThan(44 * 20)
  })
})
