/**
 * Decoder for S3's `aws-chunked` content encoding: strips the chunk framing, verifies the chunk
 * signature chain (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]) and the trailer signature, and hands
 * the trailing headers (e.g. x-amz-checksum-crc32c) to the caller. It streams: at most one chunk is
 * held (signed modes, so no unverified byte leaves), unsigned chunks pass through as they arrive.
 *
 * Wire format (S3 API reference, "Transferring Payload in Multiple Chunks" and "Signature calculations
 * for trailing headers"):
 *   hex-size;chunk-signature=<sig>\r\n <data> \r\n ... 0;chunk-signature=<sig>\r\n [trailer lines] \r\n
 * Unsigned-trailer chunks are `hex-size\r\n <data> \r\n`.
 */

import { createHash } from 'node:crypto'
import { S3Error } from './errors.js'
import { EMPTY_SHA256, sha256Hex, signaturesEqual, signString, type AuthResult } from './sigv4.js'

/** Largest chunk accepted: SDKs send 64 KiB to 8 MiB; bounds what a signed chunk makes us hold. */
export const DEFAULT_MAX_CHUNK_SIZE = 16 * 1024 * 1024
/** Longest chunk-header or trailer line: a signed header is ~90 bytes; room for extensions. */
export const DEFAULT_MAX_CHUNK_HEADER_BYTES = 4096
/** Most trailer lines accepted; S3 sends one checksum plus the trailer signature. */
export const MAX_TRAILER_LINES = 16

const TRAILER_SIGNATURE = 'x-amz-trailer-signature'

/** Settings of `decodeAwsChunked`. */
export interface AwsChunkedOptions {
  /** The verified request head; its `payload` must be one of the streaming modes. */
  readonly auth: AuthResult
  /** x-amz-decoded-content-length: the decoded body must have exactly this many bytes. */
  readonly decodedLength?: number
  /** Default `DEFAULT_MAX_CHUNK_SIZE`. */
  readonly maxChunkSize?: number
  /** Default `DEFAULT_MAX_CHUNK_HEADER_BYTES`. */
  readonly maxChunkHeaderBytes?: number
  /** Trailer names declared in x-amz-trailer (lowercase); when given, exactly these must arrive. */
  readonly trailers?: readonly string[]
  /** Called once with the trailing headers (lowercase names) after the body has been checked. */
  readonly onTrailers?: (trailers: Record<string, string>) => void
  readonly signal?: AbortSignal
}

function malformed (message: string): S3Error {
  return new S3Error('InvalidArgument', `Malformed aws-chunked body: ${message}`, { details: { ArgumentName: 'Content-Encoding', ArgumentValue: 'aws-chunked' } })
}

function incomplete (message: string): S3Error {
  return new S3Error('IncompleteBody', `You did not provide the number of bytes the aws-chunked body announced: ${message}`)
}

/** Reads lines and byte runs from an async source of pieces of any size. */
class ByteReader {
  readonly #iterator: AsyncIterator<Uint8Array>
  readonly #signal: AbortSignal | undefined
  #piece: Buffer = Buffer.alloc(0)
  #offset = 0
  #ended = false

  constructor (source: AsyncIterable<Uint8Array>, signal: AbortSignal | undefined) {
    this.#iterator = source[Symbol.asyncIterator]()
    this.#signal = signal
  }

  /** Makes bytes available; false at the end of the source. */
  async #fill (): Promise<boolean> {
    while (this.#offset >= this.#piece.length) {
      if (this.#ended) return false
      this.#signal?.throwIfAborted()
      const next = await this.#iterator.next()
      if (next.done === true) {
        this.#ended = true
        return false
      }
      const value = next.value
      this.#piece = Buffer.from(value.buffer, value.byteOffset, value.byteLength)
      this.#offset = 0
    }
    return true
  }

  /** True when no byte is left. */
  async atEnd (): Promise<boolean> {
    return !(await this.#fill())
  }

  /**
   * The next line without its LF (and CR before it), as latin1; undefined at the end of the source
   * before any byte. Fails when the line is longer than `max` or the source ends inside it.
   */
  async readLine (max: number, what: string): Promise<string | undefined> {
    const parts: Buffer[] = []
    let length = 0
    while (await this.#fill()) {
      const lf = this.#piece.indexOf(0x0a, this.#offset)
      const end = lf < 0 ? this.#piece.length : lf
      length += end - this.#offset
      if (length > max + 1) throw malformed(`${what} is longer than ${max} bytes`)
      parts.push(this.#piece.subarray(this.#offset, end))
      this.#offset = lf < 0 ? end : lf + 1
      if (lf >= 0) {
        let line = Buffer.concat(parts).toString('latin1')
        if (line.endsWith('\r')) line = line.slice(0, -1)
        if (line.length > max) throw malformed(`${what} is longer than ${max} bytes`)
        return line
      }
    }
    if (length === 0) return undefined
    throw incomplete(`the body ends inside ${what}`)
  }

  /** Yields exactly `n` bytes as slices of the source's pieces; fails if the source ends first. */
  async * readBytes (n: number): AsyncGenerator<Buffer> {
    let left = n
    while (left > 0) {
      if (!(await this.#fill())) throw incomplete(`the body ends ${left} bytes before the end of a chunk`)
      const take = Math.min(left, this.#piece.length - this.#offset)
      yield this.#piece.subarray(this.#offset, this.#offset + take)
      this.#offset += take
      left -= take
    }
  }

  /** Consumes the CRLF that ends chunk data; fails on anything else. */
  async expectCrlf (): Promise<void> {
    for (const expected of [0x0d, 0x0a]) {
      if (!(await this.#fill())) throw incomplete('the body ends before the CRLF after chunk data')
      if (this.#piece[this.#offset] !== expected) throw malformed('chunk data is not followed by CRLF (chunk longer than its size?)')
      this.#offset++
    }
  }

  /** Stops the source early (it may hold a socket or file). */
  async close (): Promise<void> {
    if (!this.#ended) {
      this.#ended = true
      await this.#iterator.return?.()
    }
  }
}

/** Parses `hex-size[;name=value]*`; returns the size and the chunk-signature, if any. */
function parseChunkHeader (line: string, maxChunkSize: number): { size: number, signature?: string } {
  const [sizeText, ...extensions] = line.split(';')
  if (sizeText === undefined || !/^[0-9a-fA-F]{1,16}$/.test(sizeText)) throw malformed(`chunk header '${line.slice(0, 100)}' does not start with a hex size`)
  const size = parseInt(sizeText, 16)
  if (size > maxChunkSize) throw malformed(`chunk of ${size} bytes is larger than the ${maxChunkSize}-byte limit`)
  let signature: string | undefined
  for (const extension of extensions) {
    const eq = extension.indexOf('=')
    const name = (eq < 0 ? extension : extension.slice(0, eq)).trim()
    if (name === 'chunk-signature') {
      if (signature !== undefined) throw malformed('a chunk header carries two chunk-signature values')
      signature = extension.slice(eq + 1).trim()
    }
  }
  return signature === undefined ? { size } : { size, signature }
}

/**
 * Decodes an aws-chunked body, yielding the object's bytes. Signed modes verify every chunk signature
 * (chained from `auth.seedSignature`) before yielding that chunk, and the trailer signature in
 * STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER. The generator's return value (and `onTrailers`) are the
 * trailing headers. Fails with an S3Error: SignatureDoesNotMatch (a chunk or trailer signature wrong or
 * missing), IncompleteBody (the body ends early or has fewer bytes than `decodedLength`),
 * InvalidArgument (bad framing, over-long header line, oversized chunk, more bytes than
 * `decodedLength`, trailers not as declared, or `auth.payload` not a streaming mode); aborting `signal`
 * rejects with its reason. Stopping early (break/throw) closes the source.
 */
export async function * decodeAwsChunked (source: AsyncIterable<Uint8Array>, options: AwsChunkedOptions): AsyncGenerator<Buffer, Record<string, string>, undefined> {
  const { auth } = options
  const mode = auth.payload
  if (mode !== 'streaming-signed' && mode !== 'streaming-signed-trailer' && mode !== 'streaming-unsigned-trailer') {
    throw new S3Error('InvalidArgument', `aws-chunked decoding needs a STREAMING-* x-amz-content-sha256, not payload mode '${mode}'`,
      { details: { ArgumentName: 'x-amz-content-sha256' } })
  }
  const signed = mode !== 'streaming-unsigned-trailer'
  const withTrailers = mode !== 'streaming-signed'
  const maxChunkSize = options.maxChunkSize ?? DEFAULT_MAX_CHUNK_SIZE
  const maxLine = options.maxChunkHeaderBytes ?? DEFAULT_MAX_CHUNK_HEADER_BYTES
  const reader = new ByteReader(source, options.signal)
  let previous = auth.seedSignature
  let total = 0
  let index = 0

  const verifyChunk = (signature: string | undefined, hash: string): void => {
    if (signature === undefined) {
      throw new S3Error('SignatureDoesNotMatch', `Chunk ${index} carries no chunk-signature`)
    }
    const toSign = `AWS4-HMAC-SHA256-PAYLOAD\n${auth.amzDate}\n${auth.scope}\n${previous}\n${EMPTY_SHA256}\n${hash}`
    if (!signaturesEqual(signString(auth.signingKey, toSign), signature)) {
      throw new S3Error('SignatureDoesNotMatch', `The signature of chunk ${index} does not match; check your key and signing method.`,
        { details: { StringToSign: toSign, SignatureProvided: signature } })
    }
    previous = signature
  }

  try {
    for (;;) {
      const line = await reader.readLine(maxLine, `the header of chunk ${index}`)
      if (line === undefined) throw incomplete(`the body ends before chunk ${index}`)
      const { size, signature } = parseChunkHeader(line, maxChunkSize)
      if (options.decodedLength !== undefined && total + size > options.decodedLength) {
        throw malformed(`the chunks carry more than x-amz-decoded-content-length (${options.decodedLength}) bytes`)
      }
      if (size === 0) {
        if (signed) verifyChunk(signature, EMPTY_SHA256)
        break
      }
      if (signed) {
        const chunk = Buffer.allocUnsafe(size)
        const hash = createHash('sha256')
        let at = 0
        for await (const slice of reader.readBytes(size)) {
          slice.copy(chunk, at)
          hash.update(slice)
          at += slice.length
        }
        await reader.expectCrlf()
        verifyChunk(signature, hash.digest('hex'))
        total += size
        index++
        yield chunk
      } else {
        total += size
        for await (const slice of reader.readBytes(size)) yield slice
        await reader.expectCrlf()
        index++
      }
    }
    if (options.decodedLength !== undefined && total !== options.decodedLength) {
      throw incomplete(`decoded ${total} bytes, x-amz-decoded-content-length says ${options.decodedLength}`)
    }

    const trailers: Record<string, string> = {}
    let trailerSignature: string | undefined
    const trailerLines: string[] = []
    // The section ends with an empty line; the end of the body in its place loses nothing signed.
    for (;;) {
      const line = await reader.readLine(maxLine, 'a trailer line')
      if (line === undefined || line === '') break
      if (!withTrailers) throw malformed('the final chunk is not followed by CRLF')
      if (trailerLines.length >= MAX_TRAILER_LINES) throw malformed(`more than ${MAX_TRAILER_LINES} trailer lines`)
      const colon = line.indexOf(':')
      if (colon <= 0) throw malformed(`trailer line '${line.slice(0, 100)}' is not name:value`)
      const name = line.slice(0, colon).trim().toLowerCase()
      const value = line.slice(colon + 1).trim()
      if (name === TRAILER_SIGNATURE) {
        if (trailerSignature !== undefined) throw malformed('two x-amz-trailer-signature lines')
        trailerSignature = value
        continue
      }
      if (Object.hasOwn(trailers, name)) throw malformed(`trailer ${name} appears twice`)
      trailers[name] = value
      trailerLines.push(name)
    }
    // Some clients end with an extra CRLF; anything else after the trailers is not ours to ignore.
    while (!(await reader.atEnd())) {
      const extra = await reader.readLine(maxLine, 'the end of the body')
      if (extra !== undefined && extra !== '') throw malformed('bytes follow the end of the aws-chunked body')
    }

    if (options.trailers !== undefined) {
      const declared = new Set(options.trailers.map((t) => t.trim().toLowerCase()).filter((t) => t !== ''))
      for (const name of trailerLines) if (!declared.has(name)) throw malformed(`trailer ${name} was not declared in x-amz-trailer`)
      for (const name of declared) if (!Object.hasOwn(trailers, name)) throw incomplete(`trailer ${name} declared in x-amz-trailer was not sent`)
    }
    if (mode === 'streaming-signed-trailer') {
      if (trailerSignature === undefined) {
        throw new S3Error('SignatureDoesNotMatch', 'The trailing headers carry no x-amz-trailer-signature')
      }
      const canonical = [...trailerLines].sort().map((name) => `${name}:${trailers[name]!}\n`).join('')
      const toSign = `AWS4-HMAC-SHA256-TRAILER\n${auth.amzDate}\n${auth.scope}\n${previous}\n${sha256Hex(canonical)}`
      if (!signaturesEqual(signString(auth.signingKey, toSign), trailerSignature)) {
        throw new S3Error('SignatureDoesNotMatch', 'The trailer signature does not match; check your key and signing method.',
          { details: { StringToSign: toSign, SignatureProvided: trailerSignature } })
      }
    }
    options.onTrailers?.(trailers)
    return trailers
  } finally {
    await reader.close()
  }
}
