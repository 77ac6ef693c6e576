/**
 * The PostgreSQL metadata store: the conformance suite, each test in its own freshly created schema
 * (shoal_test_<random>) that is dropped afterwards, plus what is PostgreSQL's own (two coordinators
 * over one database, schema handling, the listing index on a 100k-key bucket).
 *
 * Without a reachable server the file skips with a printed reason, unless SHOAL_REQUIRE_POSTGRES=1
 * (CI), where that is a failure. Server: SHOAL_TEST_POSTGRES_URL, default
 * postgres://postgres@127.0.0.1:5432/test.
 */

import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { openMetadataStore, openPostgresStore } from '../../src/metadata/index.js'
import type { ObjectRecord } from '../../src/metadata/index.js'
import { expectError, makeBucket, makeObject, makeSegment, newUploadId, runMetadataConformance } from './conformance.js'

const url = process.env.SHOAL_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const required = process.env.SHOAL_REQUIRE_POSTGRES === '1'

/** The URL for messages, without its password. */
function redacted (value: string): string {
  try {
    const parsed = new URL(value)
    if (parsed.password !== '') parsed.password = '***'
    return parsed.toString()
  } catch {
    return '(unparseable URL)'
  }
}

async function probe (): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 })
  try {
    await client.connect()
    await client.query('select 1')
    return undefined
  } catch (err) {
    return err instanceof Error ? err.message : String(err)
  } finally {
    await client.end().catch(() => {})
  }
}

const unreachable = await probe()
const created = new Set<string>()

function schemaName (): string {
  const name = `shoal_test_${randomBytes(6).toString('hex')}`
  created.add(name)
  return name
}

async function admin<T> (fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

async function dropSchema (schema: string): Promise<void> {
  await admin(async (c) => { await c.query(`drop schema if exists "${schema}" cascade`) })
}

if (unreachable !== undefined && !required) {
  // eslint-disable-next-line no-console
  console.log(`Skipping PostgreSQL metadata tests: ${redacted(url)} is unreachable (${unreachable}). Set SHOAL_REQUIRE_POSTGRES=1 to make this a failure.`)
  describe.skip('PostgreSQL metadata store (server unreachable)', () => {
    it('needs a PostgreSQL server', () => {})
  })
} else if (unreachable !== undefined) {
  describe('PostgreSQL metadata store', () => {
    it('needs a reachable PostgreSQL server (SHOAL_REQUIRE_POSTGRES=1)', () => {
      throw new Error(`PostgreSQL at ${redacted(url)} is unreachable: ${unreachable}`)
    })
  })
} else {
  afterAll(async () => {
    // Leave the server as we found it: every schema this file created is gone.
    const { rows } = await admin(async (c) => await c.query<{ nspname: string }>(
      'select nspname from pg_namespace where nspname = any($1)', [[...created]]))
    for (const { nspname } of rows) await dropSchema(nspname)
    expect(rows.map((r) => r.nspname)).toEqual([])
  })

  runMetadataConformance('postgres', async () => {
    const schema = schemaName()
    const store = await openPostgresStore({ connectionString: url, schema })
    return { store, cleanup: async () => { await dropSchema(schema) } }
  })

  describe('PostgreSQL metadata store', () => {
    it('creates its schema, keeps every table there (none in public), and migrates into an existing one', async () => {
      const schema = schemaName()
      const store = await openPostgresStore({ connectionString: url, schema })
      try {
        await store.migrate()
        const { rows } = await admin(async (c) => await c.query<{ table_name: string }>(
          'select table_name from information_schema.tables where table_schema = $1 order by table_name', [schema]))
        expect(rows.map((r) => r.table_name)).toEqual(['access_keys', 'accounts', 'buckets', 'node_reputation', 'nodes', 'objects', 'pieces', 'segments',
          'shoal_metadata_migration', 'shoal_metadata_migration_lock', 'uploads'])
        const { rows: keyColumns } = await admin(async (c) => await c.query<{ collation_name: string | null }>(
          `select collation_name from information_schema.columns where table_schema = $1 and table_name = 'objects' and column_name = 'key'`, [schema]))
        expect(keyColumns[0]?.collation_name).toBe('C')
      } finally {
        await store.close()
      }
      // A second store on the now existing schema: no error, nothing to migrate.
      const again = await openPostgresStore({ connectionString: url, schema })
      await again.migrate()
      await again.close()
      await dropSchema(schema)
    })

    it('openMetadataStore picks PostgreSQL for postgres:// and postgresql:// and honours ?schema=', async () => {
      for (const scheme of ['postgres', 'postgresql']) {
        const schema = schemaName()
        const store = await openMetadataStore(`${url.replace(/^postgres(ql)?:/, `${scheme}:`)}${url.includes('?') ? '&' : '?'}schema=${schema}`)
        try {
          expect(store.dialect).toBe('postgres')
          await store.migrate()
          await store.createBucket(makeBucket('b'))
          const { rows } = await admin(async (c) => await c.query(`select name from "${schema}".buckets`))
          expect(rows).toEqual([{ name: 'b' }])
        } finally {
          await store.close()
          await dropSchema(schema)
        }
      }
      await expectError(openPostgresStore({ connectionString: url, schema: 'bad"name' }), 'InvalidArgumentError')
    })

    it('rejects with the driver error when the server cannot be reached', async () => {
      const store = await openPostgresStore({ connectionString: 'postgres://postgres@127.0.0.1:1/test', connectTimeoutMs: 2_000 })
      await expect(store.migrate()).rejects.toThrow()
      await store.close()
    })

    it('two coordinators over one schema: concurrent commits of one key serialize, none lost', async () => {
      const schema = schemaName()
      const a = await openPostgresStore({ connectionString: url, schema })
      const b = await openPostgresStore({ connectionString: url, schema })
      try {
        await Promise.all([a.migrate(), b.migrate()]) // concurrent migrations are serialized too
        await a.createBucket(makeBucket('b'))
        const ids: string[] = []
        for (let i = 0; i < 30; i++) {
          const id = newUploadId()
          ids.push(id)
          await (i % 2 === 0 ? a : b).beginUpload({ id, bucket: 'b', key: 'hot', createdAt: i })
          await (i % 2 === 0 ? a : b).addSegment(id, makeSegment(0))
        }
        // Every upload committed twice, once through each coordinator: each wins exactly once.
        const attempts = ids.flatMap((id) => [a, b].map(async (s) => await s.commitObject(makeObject('b', 'hot', id, { segmentCount: 1 }))))
        const results = await Promise.allSettled(attempts)
        const ok = results.filter((r): r is PromiseFulfilledResult<ObjectRecord | undefined> => r.status === 'fulfilled')
        const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
        expect(ok).toHaveLength(ids.length)
        expect(failed.map((f) => (f.reason as Error).name)).toEqual(ids.map(() => 'UploadStateError'))
        const visible = await b.listObjects('b')
        expect(visible).toHaveLength(1)
        const replaced = ok.map((r) => r.value).filter((v) => v !== undefined).map((v) => v.uploadId)
        expect([...replaced, visible[0]!.uploadId].sort()).toEqual([...ids].sort())

        // deleteBucket racing a commit: either the commit lands and the bucket stays, or it fails.
        await a.deleteObject('b', 'hot')
        const late = newUploadId()
        await a.beginUpload({ id: late, bucket: 'b', key: 'late', createdAt: 1 })
        const [commit, del] = await Promise.allSettled([
          b.commitObject(makeObject('b', 'late', late)), a.deleteBucket('b')])
        if (commit.status === 'fulfilled') {
          expect(del.status).toBe('rejected')
          expect(((del as PromiseRejectedResult).reason as Error).name).toBe('BucketNotEmptyError')
          expect(await a.getObject('b', 'late')).toBeDefined()
        } else {
          expect((commit.reason as Error).name).toBe('NotFoundError')
          expect(del.status).toBe('fulfilled')
          expect(await a.getBucket('b')).toBeUndefined()
        }
      } finally {
        await a.close()
        await b.close()
        await dropSchema(schema)
      }
    })

    it('lists a page of a 100k-key bucket through the primary key index, fast', async () => {
      const schema = schemaName()
      const store = await openPostgresStore({ connectionString: url, schema })
      try {
        await store.migrate()
        await store.createBucket(makeBucket('big'))
        await admin(async (c) => {
          // Bulk-load 100k committed objects (through the store this would take minutes of commits).
          await c.query(`insert into "${schema}".uploads (id, bucket, key, created_at, state)
            select 'bulk-' || i, 'big', 'logs/' || lpad((i % 100)::text, 3, '0') || '/' || lpad(i::text, 6, '0') || '%_', 1, 'committed'
            from generate_series(0, 99999) as i`)
          await c.query(`insert into "${schema}".objects (bucket, key, upload_id, size, segment_count, segment_size,
              inline_data, key_salt, content_type, etag, user_metadata, created_at)
            select bucket, key, id, 1, 0, 1, null, '\\x00', 'x', 'e', '{}', 1 from "${schema}".uploads`)
          await c.query(`analyze "${schema}".objects`)
          await c.query(`set search_path to "${schema}"`)
          const { rows } = await c.query<{ 'QUERY PLAN': string }>(`explain select * from objects
            where bucket = 'big' and key > 'logs/050/000550%_' and key >= 'logs/050/' and key < 'logs/0500' order by key limit 100`)
          const plan = rows.map((r) => r['QUERY PLAN']).join('\n')
          expect(plan).toMatch(/Index Scan using objects_pk/)
          expect(plan).not.toMatch(/Sort|Seq Scan/)
        })
        const t0 = performance.now()
        const page = await store.listObjects('big', { prefix: 'logs/050/', startAfter: 'logs/050/000550%_', limit: 100 })
        const ms = performance.now() - t0
        expect(page).toHaveLength(100)
        expect(page[0]?.key).toBe('logs/050/000650%_')
        expect(ms).toBeLessThan(200)
      } finally {
        await store.close()
        await dropSchema(schema)
      }
    }, 120_000)
  })
}
