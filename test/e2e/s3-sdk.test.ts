/**
 * The S3 endpoint with the real AWS SDK for JavaScript v3 (checksums on by default), against a real
 * local network: buckets, objects, ranges, listings, deletes, presigned URLs, errors, and two accounts.
 */
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CopyObjectCommand, CreateBucketCommand, CreateMultipartUploadCommand, DeleteBucketCommand, GetBucketAclCommand, GetObjectAclCommand, ListMultipartUploadsCommand, ListPartsCommand, UploadPartCommand, UploadPartCopyCommand, DeleteObjectCommand, DeleteObjectsCommand, GetBucketLocationCommand, GetObjectCommand,
  HeadBucketCommand, HeadObjectCommand, ListBucketsCommand, ListObjectsCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LocalNetwork, pseudoRandom, randomName } from './harness.js'

function client (endpoint: string, accessKeyId: string, secretAccessKey: string): S3Client {
  return new S3Client({ endpoint, region: 'us-east-1', credentials: { accessKeyId, secretAccessKey }, forcePathStyle: true, maxAttempts: 1 })
}

async function code (p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (err) {
    if (err instanceof S3ServiceException) return err.name
    throw err
  }
  throw new Error('expected the request to fail')
}

describe('S3 with @aws-sdk/client-s3', () => {
  let net: LocalNetwork
  let s3: S3Client
  const bucket = randomName('sdk')

  beforeAll(async () => {
    net = await LocalNetwork.start()
    const c = net.network.s3!
    s3 = client(c.endpoint, c.accessKeyId, c.secretAccessKey)
    await s3.send(new CreateBucketCommand({ Bucket: bucket }))
  })
  afterAll(async () => {
    s3?.destroy()
    await net?.stop()
  })

  it('creates, heads and lists buckets; knows their location', async () => {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }))
    const list = await s3.send(new ListBucketsCommand({}))
    expect(list.Buckets?.map((b) => b.Name)).toContain(bucket)
    const loc = await s3.send(new GetBucketLocationCommand({ Bucket: bucket }))
    expect(loc.LocationConstraint ?? '').toBe('')
    expect(await code(s3.send(new CreateBucketCommand({ Bucket: bucket })))).toBe('BucketAlreadyOwnedByYou')
    expect(await code(s3.send(new HeadBucketCommand({ Bucket: 'no-such-bucket-here' })))).toMatch(/NotFound|NoSuchBucket/)
    expect(await code(s3.send(new CreateBucketCommand({ Bucket: 'Bad_Name' })))).toBe('InvalidBucketName')
  })

  it('puts and gets objects byte-exact with metadata, ranges and conditions', async () => {
    const data = pseudoRandom(3 * 1024 * 1024 + 77, 1)
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'dir/data.bin', Body: data, ContentType: 'application/x-test', Metadata: { color: 'blue' } }))
    expect(put.ETag).toMatch(/^"[0-9a-f]{32}"$/)
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'dir/data.bin' }))
    expect(Buffer.compare(Buffer.from(await got.Body!.transformToByteArray()), data)).toBe(0)
    expect(got.ContentType).toBe('application/x-test')
    expect(got.Metadata).toEqual({ color: 'blue' })
    expect(got.ETag).toBe(put.ETag)
    for (const [range, start, end] of [['bytes=0-9', 0, 10], ['bytes=-5', data.length - 5, data.length], ['bytes=1048570-', 1048570, data.length]] as const) {
      const part = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'dir/data.bin', Range: range }))
      expect(Buffer.compare(Buffer.from(await part.Body!.transformToByteArray()), data.subarray(start, end)), range).toBe(0)
      expect(part.ContentRange).toBe(`bytes ${start}-${end - 1}/${data.length}`)
    }
    expect(await code(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'dir/data.bin', Range: `bytes=${data.length}-` })))).toBe('InvalidRange')
    expect(await code(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'dir/data.bin', IfMatch: '"0000"' })))).toBe('PreconditionFailed')
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'dir/data.bin' }))
    expect(head.ContentLength).toBe(data.length)
    const small = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'hello.txt', Body: 'hello, shoal' }))
    expect(small.ETag).toBe('"' + (await import('node:crypto')).createHash('md5').update('hello, shoal').digest('hex') + '"')
    const hello = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'hello.txt' }))
    expect(await hello.Body!.transformToString()).toBe('hello, shoal')
    expect(await code(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'nope' })))).toBe('NoSuchKey')
  })

  it('verifies flexible checksums: header and aws-chunked trailer; a wrong one stores nothing', async () => {
    const data = pseudoRandom(2 * 1024 * 1024 + 3, 9)
    // A stream body: the SDK sends aws-chunked with an x-amz-checksum-crc32 trailer.
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'streamed', Body: Readable.from([data.subarray(0, 1000), data.subarray(1000)]), ContentLength: data.length }))
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'streamed' }))
    expect(Buffer.compare(Buffer.from(await got.Body!.transformToByteArray()), data)).toBe(0)
    for (const ChecksumAlgorithm of ['CRC32', 'CRC32C', 'SHA1', 'SHA256'] as const) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `sum-${ChecksumAlgorithm}`, Body: data.subarray(0, 5000), ChecksumAlgorithm }))
    }
    // Asked for, the stored checksum comes back (the SDK then checks the body against it).
    const withSum = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'summed', Body: data, ChecksumAlgorithm: 'CRC32C' }))
    expect(withSum.ChecksumCRC32C).toMatch(/^[A-Za-z0-9+/]{6}==$/)
    const summed = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'summed', ChecksumMode: 'ENABLED' }))
    expect(summed.ChecksumCRC32C).toBe(withSum.ChecksumCRC32C)
    expect(Buffer.compare(Buffer.from(await summed.Body!.transformToByteArray()), data)).toBe(0)
    expect((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'summed' }))).ChecksumCRC32C).toBeUndefined()
    expect(await code(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'bad-sum', Body: 'abc', ChecksumCRC32: 'AAAAAA==' })))).toBe('BadDigest')
    expect(await code(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'bad-sum' })))).toMatch(/NotFound|NoSuchKey/)
    expect(await code(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'bad-md5', Body: 'abc', ContentMD5: '1B2M2Y8AsgTpgAmY7PhCfg==' })))).toBe('BadDigest')
  })

  it('copies objects server-side (COPY and REPLACE directives) and refuses bad copies', async () => {
    const data = pseudoRandom(1_500_000, 12)
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'orig', Body: data, ContentType: 'text/x-orig', Metadata: { a: '1' } }))
    const copied = await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy/one', CopySource: `${bucket}/orig` }))
    expect(copied.CopyObjectResult?.ETag).toMatch(/^"[0-9a-f]{32}"$/)
    const one = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'copy/one' }))
    expect(Buffer.compare(Buffer.from(await one.Body!.transformToByteArray()), data)).toBe(0)
    expect(one.ContentType).toBe('text/x-orig')
    expect(one.Metadata).toEqual({ a: '1' })
    await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'orig', CopySource: `${bucket}/orig`, MetadataDirective: 'REPLACE', ContentType: 'text/x-new', Metadata: { b: '2' } }))
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'orig' }))
    expect(head.ContentType).toBe('text/x-new')
    expect(head.Metadata).toEqual({ b: '2' })
    expect(head.ContentLength).toBe(data.length)
    expect(await code(s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'orig', CopySource: `${bucket}/orig` })))).toBe('InvalidRequest')
    expect(await code(s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'x', CopySource: `${bucket}/orig`, CopySourceIfMatch: '"0000"' })))).toBe('PreconditionFailed')
    expect(await code(s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'x', CopySource: `${bucket}/missing` })))).toBe('NoSuchKey')
  })

  it('answers the ACL probes tools make: the owner has full control', async () => {
    const acl = await s3.send(new GetBucketAclCommand({ Bucket: bucket }))
    expect(acl.Grants).toHaveLength(1)
    expect(acl.Grants?.[0]?.Permission).toBe('FULL_CONTROL')
    expect(acl.Grants?.[0]?.Grantee?.ID).toBe(acl.Owner?.ID)
    const objectAcl = await s3.send(new GetObjectAclCommand({ Bucket: bucket, Key: 'hello.txt' }))
    expect(objectAcl.Grants?.[0]?.Permission).toBe('FULL_CONTROL')
    expect(await code(s3.send(new GetObjectAclCommand({ Bucket: bucket, Key: 'nope' })))).toBe('NoSuchKey')
  })

  it('multipart upload with lib-storage: parts in parallel, byte-exact, ETag of the parts', async () => {
    const data = pseudoRandom(12 * 1024 * 1024 + 4321, 33)
    const upload = new Upload({ client: s3, params: { Bucket: bucket, Key: 'multi/big.bin', Body: data, ContentType: 'application/x-multi', Metadata: { m: '1' } }, partSize: 5 * 1024 * 1024, queueSize: 3 })
    const done = await upload.done()
    expect(done.ETag).toMatch(/^"[0-9a-f]{32}-3"$/)
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'multi/big.bin' }))
    expect(Buffer.compare(Buffer.from(await got.Body!.transformToByteArray()), data)).toBe(0)
    expect(got.ContentType).toBe('application/x-multi')
    expect(got.Metadata).toEqual({ m: '1' })
    // The ETag is the MD5 of the three parts' MD5s, computed here independently.
    const md5 = (b: Buffer): Buffer => createHash('md5').update(b).digest()
    const size = 5 * 1024 * 1024
    const expected = createHash('md5').update(Buffer.concat([md5(data.subarray(0, size)), md5(data.subarray(size, 2 * size)), md5(data.subarray(2 * size))])).digest('hex')
    expect(got.ETag).toBe(`"${expected}-3"`)
    expect((await s3.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name)).not.toContain('_multipart')
  })

  it('multipart: list, refuse bad completions, copy parts, abort', async () => {
    const key = 'multi/manual.bin'
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }))
    expect(UploadId).toMatch(/^[0-9a-f]{32}$/)
    // Part 1 is sent twice (a client retry); the second one counts. Its size is no multiple of the
    // network's 1 MiB segments, so the assembled object's segments show the parts' boundaries.
    await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: pseudoRandom(5 * 1024 * 1024 + 100, 40) }))
    const big = pseudoRandom(5 * 1024 * 1024 + 100, 41)
    const p1 = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: big }))
    const p2 = await s3.send(new UploadPartCopyCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 2, CopySource: `${bucket}/hello.txt`, CopySourceRange: 'bytes=0-4' }))
    const listed = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId }))
    expect(listed.Parts?.map((p) => [p.PartNumber, p.Size])).toEqual([[1, big.length], [2, 5]])
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))
    expect(uploads.Uploads?.map((u) => u.UploadId)).toContain(UploadId)
    const parts = [{ PartNumber: 1, ETag: p1.ETag }, { PartNumber: 2, ETag: p2.CopyPartResult?.ETag }]
    expect(await code(s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: [parts[1], parts[0]] } })))).toBe('InvalidPartOrder')
    expect(await code(s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: [parts[0], { PartNumber: 2, ETag: '"00000000000000000000000000000000"' }] } })))).toBe('InvalidPart')
    expect(await code(s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 2, ETag: parts[1].ETag }, { PartNumber: 3, ETag: parts[1].ETag }] } })))).toBe('InvalidPart')
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }))
    const whole = Buffer.concat([big, Buffer.from('hello')])
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
    expect(Buffer.compare(Buffer.from(await got.Body!.transformToByteArray()), whole)).toBe(0)
    expect(await code(s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId })))).toBe('NoSuchUpload')
    // Assembled in metadata: the parts' own segments (five of 1 MiB and 100 bytes, then 5 bytes), not a re-cut copy.
    const located = await (await fetch(`${net.network.coordinator.url}/api/objects/${bucket}/${key}?locate`)).json() as { segments: Array<{ size: number, part: number }> }
    const MiB = 1024 * 1024
    expect(located.segments.map((x) => [x.size, x.part])).toEqual([[MiB, 1], [MiB, 1], [MiB, 1], [MiB, 1], [MiB, 1], [100, 1], [5, 2]])
    // Ranges across segment and part boundaries, checked against the concatenation.
    for (const [a, b] of [[MiB - 3, MiB + 2], [5 * MiB + 90, 5 * MiB + 104], [0, whole.length - 1], [5 * MiB + 100, 5 * MiB + 101]]) {
      const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${a}-${b}` }))
      expect(Buffer.compare(Buffer.from(await r.Body!.transformToByteArray()), whole.subarray(a, b + 1)), `bytes=${a}-${b}`).toBe(0)
    }
    // GetObject and HeadObject by part number.
    const part2 = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, PartNumber: 2 }))
    expect([part2.PartsCount, part2.ContentLength, part2.ContentRange]).toEqual([2, 5, `bytes ${big.length}-${whole.length - 1}/${whole.length}`])
    expect(Buffer.from(await part2.Body!.transformToByteArray()).toString()).toBe('hello')
    const head1 = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, PartNumber: 1 }))
    expect([head1.PartsCount, head1.ContentLength]).toEqual([2, big.length])
    expect(await code(s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, PartNumber: 3 })))).toBe('InvalidPartNumber')
    const simple = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'hello.txt', PartNumber: 1 }))
    expect(Buffer.from(await simple.Body!.transformToByteArray()).toString()).toBe('hello, shoal')
    expect(await code(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'hello.txt', PartNumber: 2 })))).toBe('InvalidPartNumber')

    const small = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'multi/small' }))
    const s1 = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'multi/small', UploadId: small.UploadId, PartNumber: 1, Body: 'tiny' }))
    const s2 = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'multi/small', UploadId: small.UploadId, PartNumber: 2, Body: 'tiny' }))
    expect(await code(s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'multi/small', UploadId: small.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: s1.ETag }, { PartNumber: 2, ETag: s2.ETag }] } })))).toBe('EntityTooSmall')
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'multi/small', UploadId: small.UploadId }))
    expect(await code(s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'multi/small', UploadId: small.UploadId })))).toBe('NoSuchUpload')
    expect(await code(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'multi/small' })))).toMatch(/NotFound|NoSuchKey/)
    expect(await code(s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'multi/small', UploadId: '0'.repeat(32), PartNumber: 1, Body: 'x' })))).toBe('NoSuchUpload')
  })

  it('multipart with a composite SHA-256 checksum: per part, of the parts, kept with the object', async () => {
    const key = 'multi/checked.bin'
    const { UploadId, ChecksumAlgorithm } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ChecksumAlgorithm: 'SHA256' }))
    expect(ChecksumAlgorithm).toBe('SHA256')
    const bodies = [pseudoRandom(5 * 1024 * 1024, 51), pseudoRandom(1234, 52)]
    const sha = (b: Buffer): Buffer => createHash('sha256').update(b).digest()
    const parts = []
    for (const [i, Body] of bodies.entries()) {
      const r = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body, ChecksumAlgorithm: 'SHA256' }))
      expect(r.ChecksumSHA256).toBe(sha(Body).toString('base64'))
      parts.push({ PartNumber: i + 1, ETag: r.ETag, ChecksumSHA256: r.ChecksumSHA256 })
    }
    const listed = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId }))
    expect(listed.Parts?.map((p) => p.ChecksumSHA256)).toEqual(parts.map((p) => p.ChecksumSHA256))
    const wrong = [parts[0], { ...parts[1], ChecksumSHA256: sha(Buffer.from('other')).toString('base64') }]
    expect(await code(s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: wrong } })))).toBe('InvalidPart')
    const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }))
    // S3's composite: SHA-256 over the parts' raw SHA-256 digests, base64, then "-N"; computed here from the bytes.
    const expected = `${sha(Buffer.concat(bodies.map(sha))).toString('base64')}-2`
    expect(done.ChecksumSHA256).toBe(expected)
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }))
    expect(head.ChecksumSHA256).toBe(expected)
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }))
    expect(Buffer.compare(Buffer.from(await got.Body!.transformToByteArray()), Buffer.concat(bodies))).toBe(0)
  })

  it('conditional writes: If-None-Match * and If-Match', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cond', Body: 'v1', IfNoneMatch: '*' }))
    expect(await code(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cond', Body: 'v2', IfNoneMatch: '*' })))).toBe('PreconditionFailed')
    const current = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'cond' }))
    expect(await code(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cond', Body: 'v2', IfMatch: '"00000000000000000000000000000000"' })))).toBe('PreconditionFailed')
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cond', Body: 'v2', IfMatch: current.ETag }))
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'cond' }))
    expect(await got.Body!.transformToString()).toBe('v2')
  })

  it('lists with prefix, delimiter and pagination (v2 and v1)', async () => {
    const b = randomName('list')
    await s3.send(new CreateBucketCommand({ Bucket: b }))
    const keys = ['a/1', 'a/2', 'a/b/3', 'c', 'd/4', 'e']
    for (const k of keys) await s3.send(new PutObjectCommand({ Bucket: b, Key: k, Body: k }))
    const top = await s3.send(new ListObjectsV2Command({ Bucket: b, Delimiter: '/' }))
    expect(top.Contents?.map((o) => o.Key)).toEqual(['c', 'e'])
    expect(top.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['a/', 'd/'])
    expect(top.KeyCount).toBe(4)
    const seen: string[] = []
    let token: string | undefined
    let pages = 0
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: b, MaxKeys: 2, ContinuationToken: token }))
      seen.push(...(page.Contents ?? []).map((o) => o.Key!))
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined
      pages++
    } while (token !== undefined)
    expect(seen).toEqual(keys)
    expect(pages).toBe(3)
    const under = await s3.send(new ListObjectsV2Command({ Bucket: b, Prefix: 'a/', Delimiter: '/' }))
    expect(under.Contents?.map((o) => o.Key)).toEqual(['a/1', 'a/2'])
    expect(under.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['a/b/'])
    const v1 = await s3.send(new ListObjectsCommand({ Bucket: b, Marker: 'c' }))
    expect(v1.Contents?.map((o) => o.Key)).toEqual(['d/4', 'e'])
    // Paging one entry at a time with a delimiter reports every key and common prefix exactly once.
    const rolled: string[] = []
    let marker: string | undefined
    for (let i = 0; i < 10; i++) {
      const page = await s3.send(new ListObjectsCommand({ Bucket: b, Delimiter: '/', MaxKeys: 1, Marker: marker }))
      rolled.push(...(page.Contents ?? []).map((o) => o.Key!), ...(page.CommonPrefixes ?? []).map((p) => p.Prefix!))
      if (page.IsTruncated !== true) break
      marker = page.NextMarker
    }
    expect(rolled).toEqual(['a/', 'c', 'd/', 'e'])
    const after = await s3.send(new ListObjectsV2Command({ Bucket: b, StartAfter: 'a/b/3' }))
    expect(after.Contents?.map((o) => o.Key)).toEqual(['c', 'd/4', 'e'])
    expect(await code(s3.send(new DeleteBucketCommand({ Bucket: b })))).toBe('BucketNotEmpty')
    const del = await s3.send(new DeleteObjectsCommand({ Bucket: b, Delete: { Objects: keys.map((Key) => ({ Key })) } }))
    expect(del.Deleted?.map((d) => d.Key).sort()).toEqual([...keys].sort())
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'never-existed' }))
    await s3.send(new DeleteBucketCommand({ Bucket: b }))
    expect(await code(s3.send(new HeadBucketCommand({ Bucket: b })))).toMatch(/NotFound|NoSuchBucket/)
  })

  it('serves presigned URLs until they expire', async () => {
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: 'hello.txt' }), { expiresIn: 60 })
    const ok = await fetch(url)
    expect(ok.status).toBe(200)
    expect(await ok.text()).toBe('hello, shoal')
    const expired = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: 'hello.txt' }), { expiresIn: 1, signingDate: new Date(Date.now() - 60_000) })
    const refused = await fetch(expired)
    expect(refused.status).toBe(403)
    expect(await refused.text()).toMatch(/<Code>AccessDenied<\/Code>/)
    const tampered = await fetch(url.replace('hello.txt', 'dir/data.bin'))
    expect(tampered.status).toBe(403)
    expect(await tampered.text()).toMatch(/<Code>SignatureDoesNotMatch<\/Code>/)
  })

  it('refuses wrong secrets and keeps accounts apart', async () => {
    const c = net.network.s3!
    const wrong = client(c.endpoint, c.accessKeyId, c.secretAccessKey.replace(/.$/, (x) => x === 'A' ? 'B' : 'A'))
    expect(await code(wrong.send(new ListBucketsCommand({})))).toBe('SignatureDoesNotMatch')
    const unknown = client(c.endpoint, 'SHOALNOSUCHKEY00000A', c.secretAccessKey)
    expect(await code(unknown.send(new ListBucketsCommand({})))).toBe('InvalidAccessKeyId')
    const bob = await net.json('keys', 'create', 'bob')
    const bobClient = client(c.endpoint, bob.accessKeyId, bob.secretAccessKey)
    expect((await bobClient.send(new ListBucketsCommand({}))).Buckets ?? []).toEqual([])
    expect(await code(bobClient.send(new GetObjectCommand({ Bucket: bucket, Key: 'hello.txt' })))).toBe('AccessDenied')
    expect(await code(bobClient.send(new PutObjectCommand({ Bucket: bucket, Key: 'x', Body: 'x' })))).toBe('AccessDenied')
    expect(await code(bobClient.send(new CreateBucketCommand({ Bucket: bucket })))).toBe('BucketAlreadyExists')
    const listed = await net.json('keys', 'ls')
    expect(listed.keys.map((k: any) => k.account)).toEqual(expect.arrayContaining(['default', 'bob']))
    expect(JSON.stringify(listed)).not.toContain(bob.secretAccessKey)
    await net.json('keys', 'rm', bob.accessKeyId)
    expect(await code(bobClient.send(new ListBucketsCommand({})))).toBe('InvalidAccessKeyId')
    for (const x of [wrong, unknown, bobClient]) x.destroy()
  })
})
