/**
 * Debian's aws-cli (/usr/bin/aws, v2) against the S3 endpoint, unmodified but for --endpoint-url:
 * s3 mb/cp/ls/sync/rm and s3api calls, checking the bytes that come back; files over 8 MiB go multipart.
 */
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LocalNetwork, pseudoRandom, randomName, runProcess } from './harness.js'

const AWS = '/usr/bin/aws'
const available = existsSync(AWS)
if (!available) {
  if (process.env.SHOAL_REQUIRE_S3_CLIENTS === '1') throw new Error(`${AWS} is missing; .ci/run installs Debian's awscli`)
  process.stdout.write(`skipping aws-cli tests: ${AWS} is not installed (apt-get install awscli)\n`)
}

describe.skipIf(!available)('S3 with Debian aws-cli', () => {
  let net: LocalNetwork
  let work: string
  const bucket = randomName('cli')

  async function aws (...args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
    const c = net.network.s3!
    return await runProcess(AWS, ['--endpoint-url', c.endpoint, '--no-cli-pager', ...args], {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: work,
      AWS_ACCESS_KEY_ID: c.accessKeyId,
      AWS_SECRET_ACCESS_KEY: c.secretAccessKey,
      AWS_DEFAULT_REGION: c.region,
      AWS_CONFIG_FILE: join(work, 'no-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(work, 'no-credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_MAX_ATTEMPTS: '1'
    })
  }

  async function ok (...args: string[]): Promise<string> {
    const r = await aws(...args)
    if (r.code !== 0) throw new Error(`aws ${args.join(' ')} failed (${r.code}): ${r.stderr}`)
    return r.stdout
  }

  beforeAll(async () => {
    net = await LocalNetwork.start()
    work = await mkdtemp(join(tmpdir(), 'shoal-awscli-'))
  })
  afterAll(async () => {
    await net?.stop()
    if (work !== undefined) await rm(work, { recursive: true, force: true })
  })

  it('mb, cp up and down, ls', async () => {
    await ok('s3', 'mb', `s3://${bucket}`)
    expect(await ok('s3', 'ls')).toContain(bucket)
    const files: Array<[string, Buffer]> = [['one.bin', pseudoRandom(1024 * 1024 + 5, 1)], ['five.bin', pseudoRandom(5 * 1024 * 1024, 2)], ['tiny.txt', Buffer.from('tiny\n')]]
    for (const [name, data] of files) {
      await writeFile(join(work, name), data)
      await ok('s3', 'cp', join(work, name), `s3://${bucket}/dir/${name}`)
    }
    const listing = await ok('s3', 'ls', `s3://${bucket}/dir/`)
    for (const [name, data] of files) expect(listing).toMatch(new RegExp(`\\s${data.length} ${name.replace('.', '\\.')}`))
    for (const [name, data] of files) {
      await ok('s3', 'cp', `s3://${bucket}/dir/${name}`, join(work, `back-${name}`))
      expect(Buffer.compare(await readFile(join(work, `back-${name}`)), data), name).toBe(0)
    }
    expect(await ok('s3', 'ls', `s3://${bucket}/`)).toMatch(/PRE dir\//)
  })

  it('cp of a 20 MiB file goes multipart (8 MiB parts) and comes back exact', async () => {
    const data = pseudoRandom(20 * 1024 * 1024 + 99, 7)
    await writeFile(join(work, 'big.bin'), data)
    await ok('s3', 'cp', join(work, 'big.bin'), `s3://${bucket}/big.bin`)
    const head = JSON.parse(await ok('s3api', 'head-object', '--bucket', bucket, '--key', 'big.bin'))
    expect(head.ETag).toMatch(/-3"$/) // 8 + 8 + 4 MiB parts
    await ok('s3', 'cp', `s3://${bucket}/big.bin`, join(work, 'big-back.bin'))
    expect(Buffer.compare(await readFile(join(work, 'big-back.bin')), data)).toBe(0)
  })

  it('sync a folder up and back, rm --recursive', async () => {
    const src = join(work, 'tree')
    await mkdir(join(src, 'sub'), { recursive: true })
    const tree: Record<string, Buffer> = { 'a.txt': Buffer.from('a'), 'sub/b.bin': pseudoRandom(300_000, 3), 'sub/c d.txt': Buffer.from('spaces & symbols') }
    for (const [p, d] of Object.entries(tree)) await writeFile(join(src, p), d)
    await ok('s3', 'sync', src, `s3://${bucket}/tree/`)
    const again = await ok('s3', 'sync', src, `s3://${bucket}/tree/`)
    expect(again.trim()).toBe('') // nothing to do: sizes and times match
    const back = join(work, 'tree-back')
    await ok('s3', 'sync', `s3://${bucket}/tree/`, back)
    for (const [p, d] of Object.entries(tree)) expect(Buffer.compare(await readFile(join(back, p)), d), p).toBe(0)
    expect((await ok('s3', 'ls', '--recursive', `s3://${bucket}/tree/`)).trim().split('\n')).toHaveLength(3)
    await ok('s3', 'rm', '--recursive', `s3://${bucket}/tree/`)
    const after = await aws('s3', 'ls', '--recursive', `s3://${bucket}/tree/`) // aws-cli exits 1 when nothing matches
    expect(after.stdout.trim()).toBe('')
    expect(after.stderr).toBe('')
  })

  it('s3api: put-object with metadata, head-object, get-object with a range, errors', async () => {
    const data = pseudoRandom(100_000, 4)
    await writeFile(join(work, 'api.bin'), data)
    const put = JSON.parse(await ok('s3api', 'put-object', '--bucket', bucket, '--key', 'api/obj', '--body', join(work, 'api.bin'), '--metadata', 'owner=shoal', '--content-type', 'application/x-shoal'))
    expect(put.ETag).toMatch(/^"[0-9a-f]{32}"$/)
    const head = JSON.parse(await ok('s3api', 'head-object', '--bucket', bucket, '--key', 'api/obj'))
    expect(head).toMatchObject({ ContentLength: data.length, ContentType: 'application/x-shoal', Metadata: { owner: 'shoal' }, ETag: put.ETag })
    await ok('s3api', 'get-object', '--bucket', bucket, '--key', 'api/obj', '--range', 'bytes=100-199', join(work, 'range.bin'))
    expect(Buffer.compare(await readFile(join(work, 'range.bin')), data.subarray(100, 200))).toBe(0)
    const missing = await aws('s3api', 'head-object', '--bucket', bucket, '--key', 'nope')
    expect(missing.code).not.toBe(0)
    expect(missing.stderr).toMatch(/404|Not Found/)
    const noBucket = await aws('s3', 'ls', 's3://no-such-bucket-anywhere')
    expect(noBucket.stderr).toMatch(/NoSuchBucket/)
  })
})
