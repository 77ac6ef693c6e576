/**
 * The SQLite metadata store: the conformance suite over a temporary file, plus what is SQLite's own
 * (pragmas, persistence across reopen, URL parsing, the listing index on a 100k-key bucket).
 */

import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'
import { openMetadataStore, openSqliteStore } from '../../src/metadata/index.js'
import { expectError, makeBucket, makeSegment, putObject } from './conformance.js'
import { runMetadataConformance } from './conformance.js'

const root = mkdtempSync(join(tmpdir(), 'shoal-metadata-'))
let counter = 0

function tempPath (): string {
  counter++
  return join(root, `db-${counter}`, 'metadata.db')
}

afterAll(() => {
  rmSync(root, { recursive: true, force: true })
})

runMetadataConformance('sqlite', async () => {
  const path = tempPath()
  const store = await openSqliteStore({ path })
  return {
    store,
    cleanup: async () => {
      rmSync(join(path, '..'), { recursive: true, force: true })
    }
  }
})

describe('SQLite metadata store', () => {
  it('creates the file (and its folder) in WAL mode; data survives close and reopen', async () => {
    const path = tempPath()
    const store = await openSqliteStore({ path })
    await store.migrate()
    await store.createBucket(makeBucket('b'))
    const { object } = await putObject(store, 'b', 'k')
    await store.close()
    expect(existsSync(path)).toBe(true)

    const raw = new BetterSqlite3(path, { readonly: true })
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal')
    const tables = raw.prepare("select name from sqlite_master where type = 'table' order by name").pluck().all()
    expect(tables).toEqual(expect.arrayContaining(['accounts', 'buckets', 'nodes', 'objects', 'pieces', 'segments', 'uploads']))
    raw.close()

    const again = await openSqliteStore({ path })
    await again.migrate()
    expect(await again.getObject('b', 'k')).toEqual(object)
    await again.close()
  })

  it('enforces foreign keys (an object row cannot point at a missing bucket)', async () => {
    const path = tempPath()
    const store = await openSqliteStore({ path })
    await store.migrate()
    await store.createBucket(makeBucket('b'))
    await putObject(store, 'b', 'k')
    await store.close()
    // Another connection with foreign keys on, as openSqliteStore sets them.
    const raw = new BetterSqlite3(path)
    raw.pragma('foreign_keys = ON')
    expect(() => raw.prepare("delete from buckets where name = 'b'").run()).toThrow(/FOREIGN KEY/)
    raw.close()
  })

  it('another process holding the write lock makes commits wait (busy_timeout), not fail', async () => {
    const path = tempPath()
    const store = await openSqliteStore({ path })
    await store.migrate()
    await store.createBucket(makeBucket('b'))
    // A second process takes the write lock 20 times for 30 ms each, inserting nodes.
    const child = spawn(process.execPath, ['-e', `
      const Database = require('better-sqlite3')
      const db = new Database(process.argv[1])
      db.pragma('busy_timeout = 5000')
      const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
      process.stdout.write('ready\\n')
      for (let i = 0; i < 20; i++) {
        db.exec('begin immediate')
        db.prepare("insert into nodes values (?, 'pk', 'u', 'p', 'r', 'o', 's', 'c', 1, 0, 1, 1, 1)").run('other-' + i)
        sleep(30)
        db.exec('commit')
        sleep(5)
      }
      db.close()
    `, path], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] })
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
    await new Promise<void>((resolve) => child.stdout.once('data', () => { resolve() }))
    for (let i = 0; i < 20; i++) {
      await putObject(store, 'b', `k${i}`, { segments: [makeSegment(0)] })
    }
    expect(await exited).toBe(0)
    expect(await store.listObjects('b')).toHaveLength(20)
    expect((await store.listNodes()).filter((n) => n.id.startsWith('other-'))).toHaveLength(20)
    await store.close()
  })

  it('openMetadataStore picks SQLite for sqlite:PATH, sqlite:///PATH and plain paths; rejects other schemes', async () => {
    for (const url of [`sqlite:${tempPath()}`, `sqlite://${tempPath()}`, tempPath(), 'sqlite::memory:']) {
      const store = await openMetadataStore(url)
      expect(store.dialect).toBe('sqlite')
      await store.migrate()
      await store.createBucket(makeBucket('b'))
      expect(await store.getBucket('b')).toBeDefined()
      await store.close()
    }
    await expectError(openMetadataStore(''), 'InvalidArgumentError')
    await expectError(openMetadataStore('sqlite:'), 'InvalidArgumentError')
    await expectError(openMetadataStore('mysql://root@localhost/db'), 'InvalidArgumentError')
    await expectError(openMetadataStore('http://example.com/db'), 'InvalidArgumentError')
    await expectError(openSqliteStore({ path: tempPath(), busyTimeoutMs: -1 }), 'InvalidArgumentError')
  })

  it('lists a page of a 100k-key bucket through the primary key index, fast', async () => {
    const path = tempPath()
    const store = await openSqliteStore({ path })
    await store.migrate()
    await store.createBucket(makeBucket('big'))
    await store.close()

    // Bulk-load 100k rows directly (through the store this would take minutes of fsyncs); foreign
    // keys off because these rows have no upload rows behind them.
    const raw = new BetterSqlite3(path)
    raw.pragma('foreign_keys = OFF')
    const insert = raw.prepare(`insert into objects (bucket, key, upload_id, size, segment_count, segment_size,
      inline_data, key_salt, content_type, etag, user_metadata, created_at)
      values ('big', ?, ?, 1, 0, 1, null, x'00', 'x', 'e', '{}', 1)`)
    raw.transaction(() => {
      for (let i = 0; i < 100_000; i++) {
        const key = `logs/${String(i % 100).padStart(3, '0')}/${String(i).padStart(6, '0')}%_`
        insert.run(key, `bulk-${i}`)
      }
    })()
    const plan = raw.prepare(`explain query plan select * from objects where bucket = ? and key > ? and key >= ? and key < ? order by key limit ?`)
      .all('big', 'logs/050/', 'logs/050/', 'logs/0500', 100) as Array<{ detail: string }>
    const details = plan.map((p) => p.detail).join(' | ')
    expect(details).toMatch(/USING (PRIMARY KEY|INDEX sqlite_autoindex_objects)/)
    expect(details).not.toMatch(/TEMP B-TREE/)
    raw.close()

    const again = await openSqliteStore({ path })
    const t0 = performance.now()
    const page = await again.listObjects('big', { prefix: 'logs/050/', startAfter: 'logs/050/000550%_', limit: 100 })
    const ms = performance.now() - t0
    expect(page).toHaveLength(100)
    expect(page[0]?.key).toBe('logs/050/000650%_')
    // A full scan of 100k rows plus a sort takes far longer than this on any machine we run on.
    expect(ms).toBeLessThan(200)
    await again.close()
  })
})
