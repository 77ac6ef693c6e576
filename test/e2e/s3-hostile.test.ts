/**
 * Hostile and odd input at the S3 endpoint: every case gets a clean S3 XML error (or is stored safely
 * as an opaque key), nothing stored is affected, and the process keeps serving. Raw requests are signed
 * by a small SigV4 signer written here from the AWS documentation, independent of the server's code.
 */
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { createHash, createHmac } from 'node:crypto'
import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LocalNetwork, randomName } from './harness.js'

interface Reply { status: number, body: string }

const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data).digest()
const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex')

describe('S3 endpoint under hostile input', () => {
  let net: LocalNetwork
  let s3: S3Client
  const bucket = randomName('hostile')

  /** Sends a request signed with SigV4 (header form); `rawPath` and `rawQuery` go on the wire as given. */
  async function signed (method: string, rawPath: string, rawQuery = '', body: Buffer | string = '', extra: Record<string, string> = {}, host?: string): Promise<Reply> {
    const c = net.network.s3!
    const url = new URL(c.endpoint)
    if (host !== undefined) extra = { ...extra, host }
    const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '')
    const day = amzDate.slice(0, 8)
    const payload = sha256(body)
    const headers: Record<string, string> = { host: url.host, 'x-amz-date': amzDate, 'x-amz-content-sha256': payload, ...extra }
    const names = Object.keys(headers).map((h) => h.toLowerCase()).sort()
    const query = rawQuery === '' ? '' : rawQuery.split('&').map((p) => p.includes('=') ? p : `${p}=`).sort().join('&')
    const canonical = [method, rawPath, query, names.map((n) => `${n}:${headers[n].trim()}\n`).join(''), names.join(';'), headers['x-amz-content-sha256']].join('\n')
    const scope = `${day}/${c.region}/s3/aws4_request`
    const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n')
    const key = hmac(hmac(hmac(hmac(`AWS4${c.secretAccessKey}`, day), c.region), 's3'), 'aws4_request')
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${c.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${hmac(key, toSign).toString('hex')}`
    return await raw(method, rawPath + (rawQuery === '' ? '' : `?${rawQuery}`), body, headers)
  }

  async function raw (method: string, path: string, body: Buffer | string, headers: Record<string, string>): Promise<Reply> {
    const url = new URL(net.network.s3!.endpoint)
    return await new Promise((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, method, path, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
        let text = ''
        res.on('data', (d) => { text += d })
        res.once('end', () => { resolve({ status: res.statusCode ?? 0, body: text }) })
      })
      req.once('error', reject)
      req.end(body)
    })
  }

  beforeAll(async () => {
    net = await LocalNetwork.start()
    const c = net.network.s3!
    s3 = new S3Client({ endpoint: c.endpoint, region: c.region, credentials: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey }, forcePathStyle: true, maxAttempts: 1 })
    await s3.send(new CreateBucketCommand({ Bucket: bucket }))
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'precious', Body: 'keep me' }))
  })
  afterAll(async () => {
    s3?.destroy()
    await net?.stop()
  })

  it('checks the signer against the server with a plain request first', async () => {
    const r = await signed('GET', `/${bucket}/precious`)
    expect(r.status).toBe(200)
    expect(r.body).toBe('keep me')
  })

  it('serves virtual-host-style requests (BUCKET.localhost)', async () => {
    const port = new URL(net.network.s3!.endpoint).port
    const r = await signed('GET', '/precious', '', '', {}, `${bucket}.localhost:${port}`)
    expect(r.status).toBe(200)
    expect(r.body).toBe('keep me')
    const list = await signed('GET', '/', 'list-type=2', '', {}, `${bucket}.localhost:${port}`)
    expect(list.body).toMatch(/<Key>precious<\/Key>/)
  })

  it('answers each malformed request with a clean error', async () => {
    const cases: Array<[string, Promise<Reply>, number, RegExp]> = [
      ['malformed XML', signed('POST', `/${bucket}`, 'delete', '<Delete><Object><Key>x</Key></Delete>'), 400, /<Code>MalformedXML<\/Code>/],
      ['not XML at all', signed('POST', `/${bucket}`, 'delete', '\u0000\u0001binary'), 400, /<Code>MalformedXML<\/Code>/],
      ['invalid UTF-8 key', signed('GET', `/${bucket}/%FF%FE`), 400, /<Code>InvalidURI<\/Code>/],
      ['unsupported subresource', signed('GET', `/${bucket}`, 'inventory'), 501, /<Code>NotImplemented<\/Code>/],
      ['garbage authorization', raw('GET', `/${bucket}/precious`, '', { authorization: 'AWS4-HMAC-SHA256 garbage', 'x-amz-date': '20250101T000000Z', 'x-amz-content-sha256': sha256('') }), 400, /<Code>AuthorizationHeaderMalformed<\/Code>/],
      ['anonymous', raw('GET', `/${bucket}/precious`, '', {}), 403, /<Code>AccessDenied<\/Code>/],
      ['wrong payload hash', signed('PUT', `/${bucket}/tampered`, '', 'abc', { 'x-amz-content-sha256': sha256('xyz') }), 400, /<Code>XAmzContentSHA256Mismatch<\/Code>/],
      ['key too long', signed('PUT', `/${bucket}/${'k'.repeat(1100)}`, '', 'x'), 400, /<Code>KeyTooLongError<\/Code>/],
      ['bad max-keys', signed('GET', `/${bucket}`, 'list-type=2&max-keys=lots'), 400, /<Code>InvalidArgument<\/Code>/],
      ['bad continuation token', signed('GET', `/${bucket}`, 'list-type=2&continuation-token=bm9wZQ'), 400, /<Code>InvalidArgument<\/Code>/]
    ]
    for (const [what, reply, status, body] of cases) {
      const r = await reply
      expect(r.status, what).toBe(status)
      expect(r.body, what).toMatch(body)
    }
    const huge = await raw('GET', `/${bucket}/precious`, '', { 'x-padding': 'p'.repeat(20_000) })
    expect(huge.status).toBe(431)
    expect((await signed('GET', `/${bucket}/tampered`)).status).toBe(404)
  })

  it('stores path-like and unusual keys as opaque names', async () => {
    const keys = ['../../etc/passwd', './dot', 'a//b', 'sp ace', 'ünï/ファイル', 'percent%2F', 'plus+sign', 'tab\tkey']
    for (const Key of keys) await s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: `body of ${Key}` }))
    for (const Key of keys) {
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key }))
      expect(await got.Body!.transformToString(), Key).toBe(`body of ${Key}`)
    }
    const listed = (await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents!.map((o) => o.Key)
    for (const Key of keys) expect(listed).toContain(Key)
  })

  it('answers broken browser forms (POST Object) with clean errors', async () => {
    const form = (parts: string[], boundary = 'XyZ'): string => parts.map((p) => `--${boundary}\r\n${p}\r\n`).join('') + `--${boundary}--\r\n`
    const field = (name: string, value: string): string => `Content-Disposition: form-data; name="${name}"\r\n\r\n${value}`
    const file = 'Content-Disposition: form-data; name="file"; filename="f.txt"\r\nContent-Type: text/plain\r\n\r\nbytes'
    const post = async (body: string, type = 'multipart/form-data; boundary=XyZ'): Promise<Reply> => await raw('POST', `/${bucket}`, body, { 'content-type': type })
    const cases: Array<[string, Promise<Reply>, number, string]> = [
      ['no boundary', post(form([file]), 'multipart/form-data'), 400, 'MalformedPOSTRequest'],
      ['garbage body', post('not a form at all'), 400, 'MalformedPOSTRequest'],
      ['no file', post(form([field('key', 'k')])), 400, 'InvalidArgument'],
      ['unsigned form', post(form([field('key', 'precious'), file])), 403, 'AccessDenied'],
      ['policy not base64 JSON', post(form([field('key', 'precious'), field('AWSAccessKeyId', net.network.s3!.accessKeyId), field('policy', '%%%'), field('signature', 'AAAA'), file])), 403, 'SignatureDoesNotMatch'],
      ['unknown access key', post(form([field('key', 'precious'), field('AWSAccessKeyId', 'SHOALNOSUCHKEY000000'), field('policy', 'e30='), field('signature', 'AAAA'), file])), 403, 'InvalidAccessKeyId'],
      ['field too long', post(form([field('key', 'k'.repeat(30 * 1024)), file])), 400, 'MaxPostPreDataLengthExceeded']
    ]
    for (const [what, reply, status, code] of cases) {
      const r = await reply
      expect([r.status, /<Code>([^<]*)<\/Code>/.exec(r.body)?.[1]], what).toEqual([status, code])
    }
  })

  it('still serves, and the stored object is untouched', async () => {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'precious' }))
    expect(await got.Body!.transformToString()).toBe('keep me')
    expect(() => { process.kill(net.network.coordinator.pid, 0) }).not.toThrow()
  })
})
