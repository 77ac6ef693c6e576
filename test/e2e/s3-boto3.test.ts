/**
 * python3-boto3 (Debian's, run by /usr/bin/python3 — the machine's default python3 is another one)
 * against the S3 endpoint: the scenario script checks every answer itself.
 */
import { spawn, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LocalNetwork, randomName } from './harness.js'

const PYTHON = '/usr/bin/python3'
const available = spawnSync(PYTHON, ['-c', 'import boto3, requests'], { stdio: 'ignore' }).status === 0
if (!available) {
  if (process.env.SHOAL_REQUIRE_S3_CLIENTS === '1') throw new Error('python3-boto3 or python3-requests is missing; .ci/run installs them from Debian')
  process.stdout.write('skipping boto3 tests: python3-boto3 is not installed for /usr/bin/python3\n')
}

describe.skipIf(!available)('S3 with boto3', () => {
  let net: LocalNetwork
  beforeAll(async () => { net = await LocalNetwork.start() })
  afterAll(async () => { await net?.stop() })

  /** Runs one of the Python scenarios in this folder; each checks every answer itself and prints "NAME: ok". */
  async function scenario (file: string, bucket: string): Promise<{ code: number, out: string }> {
    const c = net.network.s3!
    return await new Promise<{ code: number, out: string }>((resolve, reject) => {
      const child = spawn(PYTHON, [join(import.meta.dirname, file)], {
        env: {
          PATH: '/usr/bin:/bin',
          HOME: '/nonexistent',
          SHOAL_S3_ENDPOINT: c.endpoint,
          SHOAL_BUCKET: bucket,
          AWS_ACCESS_KEY_ID: c.accessKeyId,
          AWS_SECRET_ACCESS_KEY: c.secretAccessKey,
          AWS_CONFIG_FILE: '/nonexistent',
          AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
          AWS_EC2_METADATA_DISABLED: 'true'
        },
        stdio: ['ignore', 'pipe', 'pipe']
      })
      let out = ''
      child.stdout.on('data', (d) => { out += d })
      child.stderr.on('data', (d) => { out += d })
      child.once('error', reject)
      child.once('exit', (code) => { resolve({ code: code ?? -1, out }) })
    })
  }

  it('runs the scenario: buckets, put/get with metadata, ranges, listings, presigned URL, deletes', async () => {
    const result = await scenario('boto3_scenario.py', randomName('boto'))
    expect(result.out).toContain('boto3 scenario: ok')
    expect(result.code).toBe(0)
  })

  it('uploads browser forms (POST Object): generate_presigned_post (SigV4) and SigV2-signed policies, posted with requests', async () => {
    const result = await scenario('post_scenario.py', randomName('form'))
    expect(result.out).toContain('post scenario: ok')
    expect(result.code).toBe(0)
  })
})
