import { createHash, createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { decodeAwsChunked, type AwsChunkedOptions } from '../../../src/gateway/s3/chunked.js'
import { S3Error } from '../../../src/gateway/s3/errors.js'
import { authenticate, type AuthResult, type IncomingSigned } from '../../../src/gateway/s3/sigv4.js'

// The Amazon S3 API reference examples: "Transferring Payload in Multiple Chunks" (Example: PUT Object)
// and "Signature calculations for trailing headers": 66560 bytes of 'a' sent as 65536 + 1024 + 0.
const AK = 'AKIAIOSFODNN7EXAMPLE'
const SK = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'
const NOW = new Date('2013-05-24T00:00:00Z')
const DATA = Buffer.alloc(66_560, 'a')
const lookup = async (id: string): Promise<string | undefined> => id === AK ? SK : undefined

const BASE_HEADERS = {
  host: 's3.amazonaws.com',
  'x-amz-date': '20130524T000000Z',
  'x-amz-storage-class': 'REDUCED_REDUNDANCY',
  'content-encoding': 'aws-chunked',
  'x-amz-decoded-content-length': '66560'
}

const signedRequest: IncomingSigned = {
  method: 'PUT',
  rawPath: '/examplebucket/chunkObject.txt',
  rawQuery: '',
  headers: {
    ...BASE_HEADERS,
    'content-length': '66824',
    'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
    authorization: `AWS4-HMAC-SHA256 Credential=${AK}/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9`
  }
}
const SIGNATURES = [
  'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
  '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
  'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9'
]

const trailerRequest: IncomingSigned = {
  method: 'PUT',
  rawPath: '/examplebucket/chunkObject.txt',
  rawQuery: '',
  headers: {
    ...BASE_HEADERS,
    'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
    'x-amz-trailer': 'x-amz-checksum-crc32c',
    authorization: `AWS4-HMAC-SHA256 Credential=${AK}/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer,Signature=106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e`
  }
}
const TRAILER_SIGNATURES = [
  'b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2',
  '1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7',
  '2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992'
]
const TRAILER = 'x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n'

function signedBody (signatures: readonly string[], trailer = ''): Buffer {
  return Buffer.concat([
    Buffer.from(`10000;chunk-signature=${signatures[0]!}\r\n`), DATA.subarray(0, 65_536),
    Buffer.from(`\r\n400;chunk-signature=${signatures[1]!}\r\n`), DATA.subarray(65_536),
    Buffer.from(`\r\n0;chunk-signature=${signatures[2]!}\r\n${trailer}\r\n`)
  ])
}

/** Feeds `body` in pieces of `size` bytes, as a socket might. */
async function * pieces (body: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < body.length; at += size) yield new Uint8Array(body.subarray(at, at + size))
}

async function decode (body: Buffer | AsyncIterable<Uint8Array>, options: AwsChunkedOptions, pieceSize = 4096): Promise<{ data: Buffer, trailers: Record<string, string>, chunks: number }> {
  const generator = decodeAwsChunked(Buffer.isBuffer(body) ? pieces(body, pieceSize) : body, options)
  const parts: Buffer[] = []
  for (;;) {
    const next = await generator.next()
    if (next.done === true) return { data: Buffer.concat(parts), trailers: next.value, chunks: parts.length }
    parts.push(next.value)
  }
}

async function refusal (body: Buffer, options: AwsChunkedOptions, pieceSize = 4096): Promise<S3Error> {
  const error = await decode(body, options, pieceSize).then(() => undefined, (e: unknown) => e)
  expect(error).toBeInstanceOf(S3Error)
  return error as S3Error
}

const signedAuth = await authenticate(signedRequest, lookup, { now: NOW })
const trailerAuth = await authenticate(trailerRequest, lookup, { now: NOW })

/** An independent signer for bodies the documentation has no example of. */
function chunkSignature (auth: AuthResult, previous: string, data: Buffer): string {
  const empty = createHash('sha256').update('').digest('hex')
  const toSign = `AWS4-HMAC-SHA256-PAYLOAD\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n${previous}\n${empty}\n${createHash('sha256').update(data).digest('hex')}`
  return createHmac('sha256', auth.signingKey).update(toSign).digest('hex')
}

describe('STREAMING-AWS4-HMAC-SHA256-PAYLOAD (documentation example)', () => {
  it('decodes the 66560-byte object in any piece size, one verified chunk at a time', async () => {
    for (const size of [1, 7, 100, 65_536, 1 << 20]) {
      const result = await decode(signedBody(SIGNATURES), { auth: signedAuth, decodedLength: 66_560 }, size)
      expect(result.data.equals(DATA)).toBe(true)
      expect(result.chunks).toBe(2)
      expect(result.trailers).toEqual({})
    }
  })

  it('a changed data byte → SignatureDoesNotMatch, before that chunk is released', async () => {
    const body = signedBody(SIGNATURES)
    body[body.indexOf('\r\n400;') - 10] = 0x62
    const released: Buffer[] = []
    const error = await (async () => {
      for await (const chunk of decodeAwsChunked(pieces(body, 4096), { auth: signedAuth })) released.push(chunk)
    })().then(() => undefined, (e: unknown) => e)
    expect(error).toBeInstanceOf(S3Error)
    expect((error as S3Error).code).toBe('SignatureDoesNotMatch')
    expect(released).toHaveLength(0)
  })

  it('a changed, swapped or missing chunk signature → SignatureDoesNotMatch', async () => {
    const bodies = [
      signedBody([SIGNATURES[0]!, SIGNATURES[1]!.replace(/^0/, '1'), SIGNATURES[2]!]),
      signedBody([SIGNATURES[1]!, SIGNATURES[0]!, SIGNATURES[2]!]),
      Buffer.from(signedBody(SIGNATURES).toString('latin1').replace(`0;chunk-signature=${SIGNATURES[2]!}`, '0'), 'latin1'),
      // The chain is bound to the seed: the trailer example's chunks fail under this seed.
      signedBody(TRAILER_SIGNATURES)
    ]
    for (const body of bodies) expect((await refusal(body, { auth: signedAuth })).code).toBe('SignatureDoesNotMatch')
  })

  it('a truncated stream → IncompleteBody, wherever it is cut', async () => {
    const body = signedBody(SIGNATURES)
    for (const cut of [0, 10, 200, 65_536 + 80, body.length - 50, body.length - 3]) {
      expect((await refusal(body.subarray(0, cut), { auth: signedAuth })).code).toBe('IncompleteBody')
    }
    // Only the closing empty line missing: every byte and signature arrived, so it is accepted.
    expect((await decode(body.subarray(0, body.length - 2), { auth: signedAuth, decodedLength: 66_560 })).data.equals(DATA)).toBe(true)
  })

  it('fewer or more bytes than x-amz-decoded-content-length → IncompleteBody / InvalidArgument', async () => {
    expect((await refusal(signedBody(SIGNATURES), { auth: signedAuth, decodedLength: 66_561 })).code).toBe('IncompleteBody')
    expect((await refusal(signedBody(SIGNATURES), { auth: signedAuth, decodedLength: 66_000 })).code).toBe('InvalidArgument')
  })

  it('an over-long chunk header line → InvalidArgument without reading on', async () => {
    const line = Buffer.from(`10000;chunk-signature=${SIGNATURES[0]!};${'x'.repeat(5000)}\r\n`)
    const error = await refusal(Buffer.concat([line, DATA]), { auth: signedAuth })
    expect(error.code).toBe('InvalidArgument')
    expect((await refusal(Buffer.alloc(100_000, '1'), { auth: signedAuth, maxChunkHeaderBytes: 64 })).code).toBe('InvalidArgument')
  })

  it('a chunk larger than the limit, a non-hex size or bad framing → InvalidArgument', async () => {
    expect((await refusal(signedBody(SIGNATURES), { auth: signedAuth, maxChunkSize: 1024 })).code).toBe('InvalidArgument')
    expect((await refusal(Buffer.from(`1000000000;chunk-signature=${SIGNATURES[0]!}\r\n`), { auth: signedAuth })).code).toBe('InvalidArgument')
    expect((await refusal(Buffer.from('zz;chunk-signature=00\r\n'), { auth: signedAuth })).code).toBe('InvalidArgument')
    // Chunk data longer than its announced size: no CRLF where it should be.
    const long = Buffer.from(signedBody(SIGNATURES).toString('latin1').replace('\r\n400;', 'a\r\n400;'), 'latin1')
    expect((await refusal(long, { auth: signedAuth })).code).toBe('InvalidArgument')
    // Bytes after the final chunk.
    expect((await refusal(Buffer.concat([signedBody(SIGNATURES), Buffer.from('junk\r\n')]), { auth: signedAuth })).code).toBe('InvalidArgument')
  })

  it('an empty object: just the final chunk', async () => {
    const sig = chunkSignature(signedAuth, signedAuth.seedSignature, Buffer.alloc(0))
    const result = await decode(Buffer.from(`0;chunk-signature=${sig}\r\n\r\n`), { auth: signedAuth, decodedLength: 0 })
    expect(result.data.length).toBe(0)
  })

  it('stopping early closes the source', async () => {
    let closed = false
    async function * source (): AsyncGenerator<Uint8Array> {
      try {
        yield * pieces(signedBody(SIGNATURES), 1000)
      } finally {
        closed = true
      }
    }
    for await (const chunk of decodeAwsChunked(source(), { auth: signedAuth })) {
      expect(chunk.length).toBe(65_536)
      break
    }
    expect(closed).toBe(true)
  })

  it('an aborted signal stops decoding', async () => {
    const controller = new AbortController()
    controller.abort(new Error('client went away'))
    await expect(decode(signedBody(SIGNATURES), { auth: signedAuth, signal: controller.signal })).rejects.toThrow('client went away')
  })

  it('refuses to decode a request that is not a streaming upload', async () => {
    const error = await refusal(signedBody(SIGNATURES), { auth: { ...signedAuth, payload: 'unsigned' } })
    expect(error.code).toBe('InvalidArgument')
  })
})

describe('STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER (documentation example)', () => {
  it('decodes the body and returns the signed trailer', async () => {
    let seen: Record<string, string> | undefined
    for (const size of [1, 13, 65_536, 1 << 20]) {
      const result = await decode(signedBody(TRAILER_SIGNATURES, TRAILER), {
        auth: trailerAuth, decodedLength: 66_560, trailers: ['x-amz-checksum-crc32c'], onTrailers: (t) => { seen = t }
      }, size)
      expect(result.data.equals(DATA)).toBe(true)
      expect(result.trailers).toEqual({ 'x-amz-checksum-crc32c': 'sOO8/Q==' })
      expect(seen).toEqual(result.trailers)
    }
    // Without the closing empty line, as some clients send it.
    const cut = signedBody(TRAILER_SIGNATURES, TRAILER)
    expect((await decode(cut.subarray(0, cut.length - 2), { auth: trailerAuth })).trailers).toEqual({ 'x-amz-checksum-crc32c': 'sOO8/Q==' })
  })

  it('a changed trailer value or signature, or none → SignatureDoesNotMatch', async () => {
    const bodies = [
      signedBody(TRAILER_SIGNATURES, TRAILER.replace('sOO8/Q==', 'AAAAAA==')),
      signedBody(TRAILER_SIGNATURES, TRAILER.replace('d81f82fc', 'd81f82fd')),
      signedBody(TRAILER_SIGNATURES, 'x-amz-checksum-crc32c:sOO8/Q==\r\n')
    ]
    for (const body of bodies) expect((await refusal(body, { auth: trailerAuth })).code).toBe('SignatureDoesNotMatch')
  })

  it('a trailer not declared in x-amz-trailer, or a declared one missing → refused', async () => {
    expect((await refusal(signedBody(TRAILER_SIGNATURES, TRAILER), { auth: trailerAuth, trailers: ['x-amz-checksum-sha256'] })).code).toBe('InvalidArgument')
  })
})

describe('STREAMING-UNSIGNED-PAYLOAD-TRAILER', () => {
  const auth: AuthResult = { ...trailerAuth, payload: 'streaming-unsigned-trailer' }
  const body = Buffer.concat([
    Buffer.from('2000\r\n'), DATA.subarray(0, 8192), Buffer.from('\r\n'),
    Buffer.from('2000\r\n'), DATA.subarray(8192, 16_384), Buffer.from('\r\n'),
    Buffer.from('400\r\n'), DATA.subarray(16_384, 17_408), Buffer.from('\r\n'),
    Buffer.from('0\r\nx-amz-checksum-crc32:s3SFCQ==\r\n\r\n')
  ])

  it('passes data through as it arrives and returns the trailer', async () => {
    const result = await decode(body, { auth, decodedLength: 17_408, trailers: ['x-amz-checksum-crc32'] }, 3000)
    expect(result.data.equals(DATA.subarray(0, 17_408))).toBe(true)
    expect(result.chunks).toBeGreaterThan(3)
    expect(result.trailers).toEqual({ 'x-amz-checksum-crc32': 's3SFCQ==' })
  })

  it('truncation and a missing declared trailer are refused', async () => {
    expect((await refusal(body.subarray(0, 9000), { auth })).code).toBe('IncompleteBody')
    expect((await refusal(body, { auth, trailers: ['x-amz-checksum-crc32', 'x-amz-checksum-sha1'] })).code).toBe('IncompleteBody')
  })
})
