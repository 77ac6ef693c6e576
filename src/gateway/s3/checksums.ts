/**
 * Streaming checksums for S3's additional checksums (x-amz-checksum-crc32, -crc32c, -crc64nvme, -sha1,
 * -sha256) and Content-MD5, each digested as the base64 of its big-endian bytes, as S3 sends them.
 * CRC-32 is zlib's (native, node:zlib.crc32); CRC-32C and CRC-64 are table-driven slice-by-8 on 32-bit
 * integers (no BigInt on the byte path) because they run over every uploaded byte; the hashes are
 * node:crypto's.
 *
 * CRC parameters (CRC RevEng catalogue): CRC-32/ISO-HDLC (zlib; reflected poly 0xEDB88320),
 * CRC-32/ISCSI (Castagnoli; reflected 0x82F63B78), CRC-64/NVME (poly 0xAD93D23594C93659, reflected
 * 0x9A6C9329AC4BC9B5); all with init and xorout all-ones, refin/refout true.
 */

import { createHash, type Hash } from 'node:crypto'
import { crc32 as zlibCrc32 } from 'node:zlib'

/** The algorithms S3 accepts (x-amz-checksum-algorithm, lowercased) plus 'md5' for Content-MD5. */
export const CHECKSUM_ALGORITHMS = ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256', 'md5'] as const
/** One of `CHECKSUM_ALGORITHMS`. */
export type ChecksumAlgorithm = typeof CHECKSUM_ALGORITHMS[number]

/** An incremental checksum. */
export interface Checksum {
  readonly algorithm: ChecksumAlgorithm
  /** Adds bytes; returns the same checksum. Fails after `digest`. */
  update (data: Uint8Array): Checksum
  /** The digest, big-endian bytes. May be called once; later `update`/`digest` calls throw. */
  digest (): Buffer
  /** base64 of `digest()`, the form of x-amz-checksum-* and Content-MD5 headers. */
  digestBase64 (): string
}

/** Tells whether a string names a supported algorithm (lowercase, as `CHECKSUM_ALGORITHMS`). Never fails. */
export function isChecksumAlgorithm (name: string): name is ChecksumAlgorithm {
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(name)
}

/** Eight 256-entry tables for slice-by-8 of a reflected 32-bit CRC. */
function crc32Tables (reflectedPoly: number): Int32Array[] {
  const tables = Array.from({ length: 8 }, () => new Int32Array(256))
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = (c & 1) !== 0 ? (c >>> 1) ^ reflectedPoly : c >>> 1
    tables[0]![n] = c
  }
  for (let n = 0; n < 256; n++) {
    let c = tables[0]![n]!
    for (let t = 1; t < 8; t++) {
      c = tables[0]![c & 0xff]! ^ (c >>> 8)
      tables[t]![n] = c
    }
  }
  return tables
}

/** Updates a reflected 32-bit CRC register (pre-inverted) over `data`. */
function crc32Update (tables: readonly Int32Array[], crc: number, data: Uint8Array): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = tables as [Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array]
  let c = crc | 0
  let i = 0
  const n = data.length
  const end8 = n - (n & 7)
  for (; i < end8; i += 8) {
    const a = c ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))
    c = t7[a & 0xff]! ^ t6[(a >>> 8) & 0xff]! ^ t5[(a >>> 16) & 0xff]! ^ t4[a >>> 24]! ^
      t3[data[i + 4]!]! ^ t2[data[i + 5]!]! ^ t1[data[i + 6]!]! ^ t0[data[i + 7]!]!
  }
  for (; i < n; i++) c = t0[(c ^ data[i]!) & 0xff]! ^ (c >>> 8)
  return c
}

const CRC32C_TABLES = crc32Tables(0x82f63b78)

/** Reflected CRC-64/NVME polynomial as two 32-bit halves. */
const CRC64_POLY_HI = 0x9a6c9329
const CRC64_POLY_LO = 0xac4bc9b5

/**
 * Slice-by-8 tables for CRC-64/NVME in one array: table t, entry n is [lo, hi] at (t * 256 + n) * 2.
 * Keeping both halves adjacent (one cache line per lookup) measured 1.08 GB/s against 0.66 GB/s for
 * separate hi/lo arrays (node 20, AMD EPYC, 64 KiB updates).
 */
const CRC64_TABLE = ((): Uint32Array => {
  const table = new Uint32Array(8 * 256 * 2)
  for (let n = 0; n < 256; n++) {
    let h = 0
    let l = n
    for (let k = 0; k < 8; k++) {
      const bit = l & 1
      l = ((l >>> 1) | (h << 31)) >>> 0
      h = h >>> 1
      if (bit !== 0) {
        h = (h ^ CRC64_POLY_HI) >>> 0
        l = (l ^ CRC64_POLY_LO) >>> 0
      }
    }
    table[2 * n] = l
    table[2 * n + 1] = h
  }
  for (let n = 0; n < 256; n++) {
    let l = table[2 * n]!
    let h = table[2 * n + 1]!
    for (let t = 1; t < 8; t++) {
      const idx = 2 * (l & 0xff)
      l = (((l >>> 8) | (h << 24)) ^ table[idx]!) >>> 0
      h = ((h >>> 8) ^ table[idx + 1]!) >>> 0
      table[t * 512 + 2 * n] = l
      table[t * 512 + 2 * n + 1] = h
    }
  }
  return table
})()

/** Updates a reflected CRC-64 register held as [hi, lo] over `data`. */
function crc64Update (state: Uint32Array, data: Uint8Array): void {
  const t = CRC64_TABLE
  let h = state[0]!
  let l = state[1]!
  let i = 0
  const n = data.length
  const end8 = n - (n & 7)
  for (; i < end8; i += 8) {
    const a = l ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))
    const b = h ^ (data[i + 4]! | (data[i + 5]! << 8) | (data[i + 6]! << 16) | (data[i + 7]! << 24))
    // Byte k of the 8 goes through table 7 - k.
    const i7 = 3584 + ((a & 0xff) << 1)
    const i6 = 3072 + (((a >>> 8) & 0xff) << 1)
    const i5 = 2560 + (((a >>> 16) & 0xff) << 1)
    const i4 = 2048 + ((a >>> 24) << 1)
    const i3 = 1536 + ((b & 0xff) << 1)
    const i2 = 1024 + (((b >>> 8) & 0xff) << 1)
    const i1 = 512 + (((b >>> 16) & 0xff) << 1)
    const i0 = (b >>> 24) << 1
    l = t[i7]! ^ t[i6]! ^ t[i5]! ^ t[i4]! ^ t[i3]! ^ t[i2]! ^ t[i1]! ^ t[i0]!
    h = t[i7 + 1]! ^ t[i6 + 1]! ^ t[i5 + 1]! ^ t[i4 + 1]! ^ t[i3 + 1]! ^ t[i2 + 1]! ^ t[i1 + 1]! ^ t[i0 + 1]!
  }
  for (; i < n; i++) {
    const idx = ((l ^ data[i]!) & 0xff) << 1
    l = ((l >>> 8) | (h << 24)) ^ t[idx]!
    h = (h >>> 8) ^ t[idx + 1]!
  }
  state[0] = h >>> 0
  state[1] = l >>> 0
}

class Crc32Checksum implements Checksum {
  readonly algorithm: ChecksumAlgorithm
  readonly #tables: readonly Int32Array[]
  #crc = -1
  #done = false

  constructor (algorithm: 'crc32c', tables: readonly Int32Array[]) {
    this.algorithm = algorithm
    this.#tables = tables
  }

  update (data: Uint8Array): Checksum {
    if (this.#done) throw new Error('Checksum already digested')
    this.#crc = crc32Update(this.#tables, this.#crc, data)
    return this
  }

  digest (): Buffer {
    if (this.#done) throw new Error('Checksum already digested')
    this.#done = true
    const out = Buffer.allocUnsafe(4)
    out.writeUInt32BE((this.#crc ^ -1) >>> 0)
    return out
  }

  digestBase64 (): string {
    return this.digest().toString('base64')
  }
}

/**
 * CRC-32 (the AWS SDKs' default checksum) through zlib: native code, where the JS slice-by-8 above
 * cost the coordinator more CPU than AES-GCM on a large S3 PUT.
 */
class ZlibCrc32Checksum implements Checksum {
  readonly algorithm = 'crc32' as const
  #crc = 0
  #done = false

  update (data: Uint8Array): Checksum {
    if (this.#done) throw new Error('Checksum already digested')
    this.#crc = zlibCrc32(data, this.#crc)
    return this
  }

  digest (): Buffer {
    if (this.#done) throw new Error('Checksum already digested')
    this.#done = true
    const out = Buffer.allocUnsafe(4)
    out.writeUInt32BE(this.#crc >>> 0)
    return out
  }

  digestBase64 (): string {
    return this.digest().toString('base64')
  }
}

class Crc64NvmeChecksum implements Checksum {
  readonly algorithm = 'crc64nvme' as const
  readonly #state = new Uint32Array([0xffffffff, 0xffffffff])
  #done = false

  update (data: Uint8Array): Checksum {
    if (this.#done) throw new Error('Checksum already digested')
    crc64Update(this.#state, data)
    return this
  }

  digest (): Buffer {
    if (this.#done) throw new Error('Checksum already digested')
    this.#done = true
    const out = Buffer.allocUnsafe(8)
    out.writeUInt32BE((~this.#state[0]!) >>> 0, 0)
    out.writeUInt32BE((~this.#state[1]!) >>> 0, 4)
    return out
  }

  digestBase64 (): string {
    return this.digest().toString('base64')
  }
}

class HashChecksum implements Checksum {
  readonly algorithm: ChecksumAlgorithm
  readonly #hash: Hash

  constructor (algorithm: 'sha1' | 'sha256' | 'md5') {
    this.algorithm = algorithm
    this.#hash = createHash(algorithm)
  }

  update (data: Uint8Array): Checksum {
    this.#hash.update(data)
    return this
  }

  digest (): Buffer {
    return this.#hash.digest()
  }

  digestBase64 (): string {
    return this.digest().toString('base64')
  }
}

/**
 * A fresh incremental checksum of `algorithm`. Throws a TypeError for an unknown algorithm (callers
 * validate header values with `isChecksumAlgorithm` and answer InvalidArgument themselves).
 */
export function createChecksum (algorithm: ChecksumAlgorithm): Checksum {
  switch (algorithm) {
    case 'crc32': return new ZlibCrc32Checksum()
    case 'crc32c': return new Crc32Checksum('crc32c', CRC32C_TABLES)
    case 'crc64nvme': return new Crc64NvmeChecksum()
    case 'sha1':
    case 'sha256':
    case 'md5':
      return new HashChecksum(algorithm)
    default:
      throw new TypeError(`Unknown checksum algorithm '${String(algorithm)}'`)
  }
}
