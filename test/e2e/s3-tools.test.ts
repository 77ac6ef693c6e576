/**
 * rclone and s3cmd from Debian against the S3 endpoint, configured only with the endpoint and keys:
 * copy, sync, check, list, server-side copy/move, delete; s3cmd put/get/ls/del/sync. The bytes that
 * come back are compared with what went in.
 */
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LocalNetwork, pseudoRandom, randomName, runProcess, type CliResult } from './harness.js'

const RCLONE = '/usr/bin/rclone'
const S3CMD = '/usr/bin/s3cmd'
for (const tool of [RCLONE, S3CMD]) {
  if (existsSync(tool)) continue
  if (process.env.SHOAL_REQUIRE_S3_CLIENTS === '1') throw new Error(`${tool} is missing; .ci/run installs it from Debian`)
  process.stdout.write(`skipping ${tool} tests: not installed (apt-get install ${tool.split('/').pop()})\n`)
}

async function run (cmd: string, args: string[], env: Record<string, string>): Promise<CliResult> {
  return await runProcess(cmd, args, { PATH: '/usr/bin:/bin', ...env })
}

describe('S3 with Debian tools', () => {
  let net: LocalNetwork
  let work: string
  const tree: Record<string, Buffer> = {
    'a.txt': Buffer.from('alpha\n'),
    'sub/b.bin': pseudoRandom(700_000, 21),
    'sub/deeper/c.bin': pseudoRandom(3 * 1024 * 1024 + 1, 22),
    'with space & sign.txt': Buffer.from('odd name')
  }

  beforeAll(async () => {
    net = await LocalNetwork.start()
    work = await mkdtemp(join(tmpdir(), 'shoal-tools-'))
    for (const [p, d] of Object.entries(tree)) {
      await mkdir(join(work, 'src', p, '..'), { recursive: true })
      await writeFile(join(work, 'src', p), d)
    }
  })
  afterAll(async () => {
    await net?.stop()
    if (work !== undefined) await rm(work, { recursive: true, force: true })
  })

  async function expectTree (dir: string): Promise<void> {
    for (const [p, d] of Object.entries(tree)) expect(Buffer.compare(await readFile(join(dir, p)), d), p).toBe(0)
  }

  describe.skipIf(!existsSync(RCLONE))('rclone (S3 remote, provider Other)', () => {
    const bucket = randomName('rc')
    async function rclone (...args: string[]): Promise<string> {
      const c = net.network.s3!
      const r = await run(RCLONE, ['--retries', '1', '--low-level-retries', '1', ...args], {
        HOME: work,
        RCLONE_CONFIG: join(work, 'no-rclone.conf'),
        RCLONE_CONFIG_SHOAL_TYPE: 's3',
        RCLONE_CONFIG_SHOAL_PROVIDER: 'Other',
        RCLONE_CONFIG_SHOAL_ENDPOINT: c.endpoint,
        RCLONE_CONFIG_SHOAL_REGION: c.region,
        RCLONE_CONFIG_SHOAL_ACCESS_KEY_ID: c.accessKeyId,
        RCLONE_CONFIG_SHOAL_SECRET_ACCESS_KEY: c.secretAccessKey,
        RCLONE_CONFIG_SHOAL_FORCE_PATH_STYLE: 'true'
      })
      if (r.code !== 0) throw new Error(`rclone ${args.join(' ')} failed (${r.code}): ${r.stderr}`)
      return r.stdout
    }

    it('copy, check, lsf, sync back, server-side copy and move, delete', async () => {
      await rclone('mkdir', `shoal:${bucket}`)
      await rclone('copy', join(work, 'src'), `shoal:${bucket}/tree`)
      await rclone('check', join(work, 'src'), `shoal:${bucket}/tree`) // sizes and MD5s (ETags) agree
      const listed = (await rclone('lsf', '-R', '--files-only', `shoal:${bucket}/tree`)).trim().split('\n').sort()
      expect(listed).toEqual(Object.keys(tree).sort())
      await rclone('sync', `shoal:${bucket}/tree`, join(work, 'rclone-back'))
      await expectTree(join(work, 'rclone-back'))
      await rclone('copyto', `shoal:${bucket}/tree/a.txt`, `shoal:${bucket}/copied.txt`)
      await rclone('moveto', `shoal:${bucket}/tree/sub/b.bin`, `shoal:${bucket}/moved.bin`)
      expect(await rclone('cat', `shoal:${bucket}/copied.txt`)).toBe('alpha\n')
      const moved = (await rclone('lsf', `shoal:${bucket}`)).trim().split('\n').sort()
      expect(moved).toEqual(['copied.txt', 'moved.bin', 'tree/'])
      expect((await rclone('lsf', `shoal:${bucket}/tree/sub`)).trim().split('\n').sort()).toEqual(['deeper/'])
      await rclone('delete', `shoal:${bucket}`)
      expect((await rclone('lsf', '-R', `shoal:${bucket}`)).trim()).toBe('')
    })
  })

  describe.skipIf(!existsSync(S3CMD))('s3cmd', () => {
    const bucket = randomName('s3cmd')
    async function s3cmd (...args: string[]): Promise<string> {
      const c = net.network.s3!
      const host = new URL(c.endpoint).host
      const config = join(work, 's3cfg')
      await writeFile(config, ['[default]', `access_key = ${c.accessKeyId}`, `secret_key = ${c.secretAccessKey}`, `host_base = ${host}`,
        `host_bucket = ${host}`, 'use_https = False', `bucket_location = ${c.region}`, 'signature_v2 = False', 'check_ssl_certificate = False', ''].join('\n'))
      const r = await run(S3CMD, ['-c', config, '--no-progress', ...args], { HOME: work })
      if (r.code !== 0) throw new Error(`s3cmd ${args.join(' ')} failed (${r.code}): ${r.stderr}`)
      return r.stdout
    }

    it('mb, put, ls, get, sync, del', async () => {
      await s3cmd('mb', `s3://${bucket}`)
      await s3cmd('put', join(work, 'src', 'sub', 'b.bin'), `s3://${bucket}/b.bin`)
      expect(await s3cmd('ls', `s3://${bucket}/`)).toMatch(/700000\s+s3:\/\/.*\/b\.bin/)
      await s3cmd('get', `s3://${bucket}/b.bin`, join(work, 's3cmd-b.bin'))
      expect(Buffer.compare(await readFile(join(work, 's3cmd-b.bin')), tree['sub/b.bin'])).toBe(0)
      await s3cmd('sync', join(work, 'src') + '/', `s3://${bucket}/tree/`)
      await s3cmd('sync', `s3://${bucket}/tree/`, join(work, 's3cmd-back') + '/')
      await expectTree(join(work, 's3cmd-back'))
      await s3cmd('del', '--recursive', '--force', `s3://${bucket}/`)
      expect((await s3cmd('ls', '--recursive', `s3://${bucket}/`)).trim()).toBe('')
      await s3cmd('rb', `s3://${bucket}`)
    })
  })
})
