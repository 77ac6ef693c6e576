/**
 * A Bloom filter over string ids, with a compact versioned wire form. Garbage collection uses it as a
 * retain set: the coordinator puts in every piece id a node should keep and the node deletes what is
 * not in it. A Bloom filter has no false negatives, so a piece in the set is always kept; a false
 * positive only keeps some garbage until a later pass (which uses a fresh seed, so other ids collide).
 *
 * Wire form (encode/decode), all integers big-endian:
 *
 *   0       format version (1)
 *   1       k: hash functions (1..MAX_BLOOM_HASHES)
 *   2..6    m: bits (u32, MIN_BLOOM_BITS..MAX_BLOOM_BITS)
 *   6..22   seed (16 bytes)
 *   22..    the m bits, ceil(m / 8) bytes; bit i is (byte i >> 3) & (1 << (i & 7)); unused bits of the
 *           last byte are zero
 *
 * Positions: d = SHA-256(seed || UTF-8 id), h1 and h2 its first two 64-bit big-endian words, and the
 * k positions are (h1 + i·h2) mod m for i = 0..k-1 (double hashing, Kirsch and Mitzenmacher 2006),
 * with h2 mod m = 0 replaced by 1 so the k positions never collapse into one.
 */
import { createHash, randomBytes } from 'node:crypto'

/** Version byte of the wire form above; decode refuses others. */
export const BLOOM_FORMAT_VERSION = 1
/** Bytes of the seed: 128 bits, so an adversary can't precompute ids that collide under a fresh seed. */
export const BLOOM_SEED_BYTES = 16
/** Bytes in front of the bits: version, k, m, seed. */
export const BLOOM_HEADER_BYTES = 1 + 1 + 4 + BLOOM_SEED_BYTES
/** Fewest bits: below this a filter's false-positive rate is noise whatever its count, and 8 bytes cost nothing. */
export const MIN_BLOOM_BITS = 64
/**
 * Most bytes of bits: 64 MiB holds ~56 million ids at 10% false positives (4.8 bits per id), more
 * pieces than one node holds, and bounds what a node must buffer to check a retain request's signature.
 */
export const MAX_BLOOM_BYTES = 64 * 1024 * 1024
/** Most bits (fits the u32 in the header). */
export const MAX_BLOOM_BITS = MAX_BLOOM_BYTES * 8
/** Most hash functions: enough for a false-positive rate of 1e-19; more only costs time. */
export const MAX_BLOOM_HASHES = 64

/** Bytes given to decode are not a valid encoded BloomFilter; the message says what is wrong. */
export class InvalidBloomFilterError extends Error {
  override readonly name = 'InvalidBloomFilterError'
}

/** A Bloom filter: add ids, ask whether an id may have been added (no false negatives). */
export class BloomFilter {
  readonly #bitCount: number
  readonly #hashCount: number
  readonly #seed: Buffer
  readonly #bits: Buffer
  readonly #m: bigint

  private constructor (bitCount: number, hashCount: number, seed: Buffer, bits: Buffer) {
    this.#bitCount = bitCount
    this.#hashCount = hashCount
    this.#seed = seed
    this.#bits = bits
    this.#m = BigInt(bitCount)
  }

  /**
   * An empty filter sized for `count` ids at `falsePositiveRate` by the standard formulas:
   * m = ⌈−n·ln p / (ln 2)²⌉ bits (at least MIN_BLOOM_BITS) and k = round(m/n · ln 2) hashes (at least
   * 1, at most MAX_BLOOM_HASHES). `seed` (16 bytes) defaults to random. Throws RangeError for a count
   * that is not a non-negative integer, a rate outside (0, 1), a seed of the wrong size, or a filter
   * that would exceed MAX_BLOOM_BYTES.
   */
  static forCount (count: number, falsePositiveRate = 0.1, seed?: Uint8Array): BloomFilter {
    if (!Number.isSafeInteger(count) || count < 0) throw new RangeError('count must be a non-negative integer')
    if (!(falsePositiveRate > 0 && falsePositiveRate < 1)) throw new RangeError('false-positive rate must be between 0 and 1 (exclusive)')
    if (seed !== undefined && seed.length !== BLOOM_SEED_BYTES) throw new RangeError(`seed must be ${BLOOM_SEED_BYTES} bytes`)
    const m = Math.max(MIN_BLOOM_BITS, Math.ceil(-count * Math.log(falsePositiveRate) / (Math.LN2 * Math.LN2)))
    if (m > MAX_BLOOM_BITS) {
      throw new RangeError(`a filter for ${count} ids at rate ${falsePositiveRate} needs ${Math.ceil(m / 8)} bytes, over the ${MAX_BLOOM_BYTES}-byte limit`)
    }
    const k = count === 0 ? 1 : Math.min(MAX_BLOOM_HASHES, Math.max(1, Math.round(m / count * Math.LN2)))
    const s = seed === undefined ? randomBytes(BLOOM_SEED_BYTES) : Buffer.from(seed)
    return new BloomFilter(m, k, s, Buffer.alloc(Math.ceil(m / 8)))
  }

  /**
   * Parses encode()'s output, checking every field: version, k in 1..MAX_BLOOM_HASHES, m in
   * MIN_BLOOM_BITS..MAX_BLOOM_BITS, the exact length and zero padding bits. Throws
   * InvalidBloomFilterError on anything else. The bits are copied.
   */
  static decode (buf: Uint8Array): BloomFilter {
    if (!(buf instanceof Uint8Array)) throw new InvalidBloomFilterError('a Bloom filter must be bytes')
    if (buf.length < BLOOM_HEADER_BYTES) throw new InvalidBloomFilterError(`a Bloom filter is at least ${BLOOM_HEADER_BYTES} bytes, got ${buf.length}`)
    const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)
    const version = b[0]
    if (version !== BLOOM_FORMAT_VERSION) throw new InvalidBloomFilterError(`Bloom filter format version ${version} is not supported (expected ${BLOOM_FORMAT_VERSION})`)
    const k = b[1]
    if (k < 1 || k > MAX_BLOOM_HASHES) throw new InvalidBloomFilterError(`Bloom filter hash count ${k} is outside 1..${MAX_BLOOM_HASHES}`)
    const m = b.readUInt32BE(2)
    if (m < MIN_BLOOM_BITS || m > MAX_BLOOM_BITS) throw new InvalidBloomFilterError(`Bloom filter bit count ${m} is outside ${MIN_BLOOM_BITS}..${MAX_BLOOM_BITS}`)
    const bytes = Math.ceil(m / 8)
    if (b.length !== BLOOM_HEADER_BYTES + bytes) {
      throw new InvalidBloomFilterError(`a Bloom filter of ${m} bits is ${BLOOM_HEADER_BYTES + bytes} bytes, got ${b.length}`)
    }
    const bits = Buffer.from(b.subarray(BLOOM_HEADER_BYTES))
    if (m % 8 !== 0 && (bits[bytes - 1] >> (m % 8)) !== 0) throw new InvalidBloomFilterError('Bloom filter has bits set past its bit count')
    return new BloomFilter(m, k, Buffer.from(b.subarray(6, BLOOM_HEADER_BYTES)), bits)
  }

  /** m: bits in the filter. */
  get bitCount (): number {
    return this.#bitCount
  }

  /** k: positions set per id. */
  get hashCount (): number {
    return this.#hashCount
  }

  /** The seed (a copy). */
  get seed (): Buffer {
    return Buffer.from(this.#seed)
  }

  /** Adds an id. */
  add (id: string): void {
    this.#positions(id, (p) => {
      this.#bits[p >> 3] |= 1 << (p & 7)
      return true
    })
  }

  /** False when `id` was certainly never added; true when it was, or (at the filter's rate) was not. */
  has (id: string): boolean {
    return this.#positions(id, (p) => (this.#bits[p >> 3] & (1 << (p & 7))) !== 0)
  }

  /** The wire form described in the module comment. */
  encode (): Buffer {
    const out = Buffer.allocUnsafe(BLOOM_HEADER_BYTES + this.#bits.length)
    out[0] = BLOOM_FORMAT_VERSION
    out[1] = this.#hashCount
    out.writeUInt32BE(this.#bitCount, 2)
    this.#seed.copy(out, 6)
    this.#bits.copy(out, BLOOM_HEADER_BYTES)
    return out
  }

  /** Calls `visit` on each of the id's k positions until it returns false; returns whether all returned true. */
  #positions (id: string, visit: (position: number) => boolean): boolean {
    const d = createHash('sha256').update(this.#seed).update(id, 'utf8').digest()
    // Reduce the 64-bit words mod m once (m < 2^32, so everything after fits a double exactly).
    const m = this.#bitCount
    let p = Number(d.readBigUInt64BE(0) % this.#m)
    let step = Number(d.readBigUInt64BE(8) % this.#m)
    if (step === 0) step = 1
    for (let i = 0; i < this.#hashCount; i++) {
      if (!visit(p)) return false
      p += step
      if (p >= m) p -= m
    }
    return true
  }
}
