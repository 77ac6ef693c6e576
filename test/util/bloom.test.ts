import { createHash, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  BLOOM_HEADER_BYTES, BloomFilter, MAX_BLOOM_BITS, MAX_BLOOM_HASHES, MIN_BLOOM_BITS
} from '../../src/util/bloom.js'

const ids = (n: number): string[] => Array.from({ length: n }, () => randomBytes(32).toString('hex'))

describe('BloomFilter', () => {
  it('sizes m and k by the standard formulas', () => {
    // m = ceil(-n ln p / (ln 2)^2), k = round(m/n ln 2), worked out by hand (Python's math module).
    const cases: Array<[number, number, number, number]> = [
      [1000, 0.01, 9586, 7],
      [100_000, 0.1, 479_253, 3],
      [100_000, 0.01, 958_506, 7],
      [1_000_000, 1e-6, 28_755_176, 20],
      [1, 0.1, MIN_BLOOM_BITS, 44], // at least 64 bits; k then follows from m
      [0, 0.1, MIN_BLOOM_BITS, 1]
    ]
    for (const [n, p, m, k] of cases) {
      const f = BloomFilter.forCount(n, p)
      expect([f.bitCount, f.hashCount], `${n} @ ${p}`).toEqual([m, k])
      expect(f.encode().length, `${n} @ ${p}`).toBe(BLOOM_HEADER_BYTES + Math.ceil(m / 8))
    }
    expect(BloomFilter.forCount(10).bitCount).toBe(Math.max(64, Math.ceil(-10 * Math.log(0.1) / Math.LN2 ** 2))) // default p = 0.1
    expect(BloomFilter.forCount(1, 1e-30).hashCount).toBe(MAX_BLOOM_HASHES)
    for (const [n, p] of [[-1, 0.1], [1.5, 0.1], [10, 0], [10, 1], [10, Number.NaN], [100_000_000, 1e-9]]) {
      expect(() => BloomFilter.forCount(n, p), `${n} @ ${p}`).toThrow(RangeError)
    }
    expect(() => BloomFilter.forCount(10, 0.1, Buffer.alloc(15))).toThrow(RangeError)
  })

  for (const p of [0.1, 0.01]) {
    it(`has no false negatives and about ${p} false positives over 100k ids`, () => {
      const members = ids(100_000)
      const f = BloomFilter.forCount(members.length, p)
      for (const id of members) f.add(id)
      expect(members.filter((id) => !f.has(id))).toEqual([])
      const others = ids(100_000)
      const rate = others.filter((id) => f.has(id)).length / others.length
      expect(rate).toBeGreaterThanOrEqual(0.5 * p)
      expect(rate).toBeLessThanOrEqual(1.5 * p)
    })
  }

  it('positions follow the documented double hashing of SHA-256(seed || id)', () => {
    const seed = Buffer.alloc(16, 7)
    const f = BloomFilter.forCount(1, 0.1, seed) // m = 64, k = 44
    f.add('piece')
    // Independently: h1, h2 = first two 64-bit words; positions (h1 + i·h2) mod m.
    const d = createHash('sha256').update(seed).update('piece').digest()
    const m = 64n
    const h1 = d.readBigUInt64BE(0)
    let h2 = d.readBigUInt64BE(8) % m
    if (h2 === 0n) h2 = 1n
    const expected = Buffer.alloc(8)
    for (let i = 0n; i < 44n; i++) {
      const p = Number((h1 + i * h2) % m)
      expected[p >> 3] |= 1 << (p & 7)
    }
    expect(f.encode().subarray(BLOOM_HEADER_BYTES)).toEqual(expected)
  })

  it('round-trips through encode/decode, seed and bits included', () => {
    const members = ids(5000)
    const f = BloomFilter.forCount(members.length, 0.05)
    for (const id of members) f.add(id)
    const encoded = f.encode()
    expect(encoded[0]).toBe(1)
    expect(encoded[1]).toBe(f.hashCount)
    expect(encoded.readUInt32BE(2)).toBe(f.bitCount)
    expect(encoded.subarray(6, 22)).toEqual(f.seed)
    const g = BloomFilter.decode(encoded)
    expect(g.encode()).toEqual(encoded)
    expect([g.bitCount, g.hashCount]).toEqual([f.bitCount, f.hashCount])
    for (const id of members) expect(g.has(id)).toBe(true)
    for (const id of ids(5000)) expect(g.has(id)).toBe(f.has(id))
    // The decoded filter owns its bits: changing the input afterwards changes nothing.
    encoded.fill(0, BLOOM_HEADER_BYTES)
    expect(members.every((id) => g.has(id))).toBe(true)
    // A decoded view into a larger buffer works too.
    const inner = Buffer.concat([Buffer.from('xx'), f.encode()]).subarray(2)
    expect(BloomFilter.decode(inner).encode()).toEqual(f.encode())
  })

  it('different seeds give different false positives', () => {
    const members = ids(1000)
    const a = BloomFilter.forCount(1000, 0.1)
    const b = BloomFilter.forCount(1000, 0.1)
    for (const id of members) { a.add(id); b.add(id) }
    expect(a.seed.equals(b.seed)).toBe(false)
    const others = ids(20_000)
    const both = others.filter((id) => a.has(id) && b.has(id)).length
    // Independent 10% rates: about 1% of ids fool both, far fewer than the ~10% that fool each.
    expect(both / others.length).toBeLessThan(0.03)
  })

  it('decode refuses truncated, padded and garbage input with a clear error', () => {
    const f = BloomFilter.forCount(20, 0.1) // 96 bits: 12 bytes
    for (let i = 0; i < 20; i++) f.add(String(i))
    const good = f.encode()
    const refuse = (buf: Uint8Array, what: string, message: RegExp): void => {
      expect(() => BloomFilter.decode(buf), what).toThrow(expect.objectContaining({ name: 'InvalidBloomFilterError', message: expect.stringMatching(message) }))
    }
    for (let n = 0; n < good.length; n++) refuse(good.subarray(0, n), `truncated to ${n}`, /bytes/)
    refuse(Buffer.concat([good, Buffer.from([0])]), 'trailing byte', /bytes/)
    const patch = (offset: number, write: (b: Buffer) => void): Buffer => { const b = Buffer.from(good); write(b.subarray(offset)); return b }
    refuse(patch(0, (b) => { b[0] = 2 }), 'version 2', /version 2/)
    refuse(patch(0, (b) => { b[0] = 0 }), 'version 0', /version 0/)
    refuse(patch(1, (b) => { b[0] = 0 }), 'k = 0', /hash count 0/)
    refuse(patch(1, (b) => { b[0] = MAX_BLOOM_HASHES + 1 }), 'k too large', /hash count/)
    refuse(patch(2, (b) => { b.writeUInt32BE(MIN_BLOOM_BITS - 1) }), 'm too small', /bit count/)
    refuse(patch(2, (b) => { b.writeUInt32BE(MAX_BLOOM_BITS + 1) }), 'm over the cap', /bit count/)
    refuse(patch(2, (b) => { b.writeUInt32BE(0xffffffff) }), 'm absurd', /bit count/)
    refuse(patch(2, (b) => { b.writeUInt32BE(97) }), 'length does not match m', /bytes/)
    // 90 bits fit the same 12 bytes; a set bit past the 90th is refused.
    const padded = patch(2, (b) => { b.writeUInt32BE(90) })
    padded[padded.length - 1] = 0x80
    refuse(padded, 'padding bit set', /past its bit count/)
    padded[padded.length - 1] = 0x03
    expect(BloomFilter.decode(padded).bitCount).toBe(90)
    for (let i = 0; i < 50; i++) {
      const junk = randomBytes(1 + (i * 7) % 200)
      if (junk.length >= 2) junk[0] = i % 2 === 0 ? 1 : junk[0] // some with a plausible version byte
      expect(() => BloomFilter.decode(junk), `junk ${i}`).toThrow(expect.objectContaining({ name: 'InvalidBloomFilterError' }))
    }
    expect(() => BloomFilter.decode('abc' as unknown as Buffer)).toThrow(expect.objectContaining({ name: 'InvalidBloomFilterError' }))
  })
})
