import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { CHECKSUM_ALGORITHMS, createChecksum, isChecksumAlgorithm, type ChecksumAlgorithm } from '../../../src/gateway/s3/checksums.js'

function hexOf (algorithm: ChecksumAlgorithm, data: string | Buffer): string {
  return createChecksum(algorithm).update(typeof data === 'string' ? Buffer.from(data, 'latin1') : data).digest().toString('hex')
}

/** Bit-at-a-time reflected CRC, straight from the catalogue's parameters: the independent reference. */
function referenceCrc (width: 32 | 64, poly: bigint, data: Uint8Array): bigint {
  const mask = (1n << BigInt(width)) - 1n
  let reflectedPoly = 0n
  for (let i = 0; i < width; i++) if (((poly >> BigInt(i)) & 1n) !== 0n) reflectedPoly |= 1n << BigInt(width - 1 - i)
  let crc = mask
  for (const byte of data) {
    crc ^= BigInt(byte)
    for (let k = 0; k < 8; k++) crc = (crc & 1n) !== 0n ? (crc >> 1n) ^ reflectedPoly : crc >> 1n
  }
  return crc ^ mask
}

const REFERENCE: Record<'crc32' | 'crc32c' | 'crc64nvme', (d: Uint8Array) => string> = {
  crc32: (d) => referenceCrc(32, 0x04c11db7n, d).toString(16).padStart(8, '0'),
  crc32c: (d) => referenceCrc(32, 0x1edc6f41n, d).toString(16).padStart(8, '0'),
  crc64nvme: (d) => referenceCrc(64, 0xad93d23594c93659n, d).toString(16).padStart(16, '0')
}

describe('CRC catalogue check values (CRC of ASCII "123456789")', () => {
  it('CRC-32/ISO-HDLC, CRC-32/ISCSI, CRC-64/NVME', () => {
    expect(hexOf('crc32', '123456789')).toBe('cbf43926')
    expect(hexOf('crc32c', '123456789')).toBe('e3069283')
    expect(hexOf('crc64nvme', '123456789')).toBe('ae8b14860a799888')
  })
})

describe('published vectors', () => {
  it('CRC-32C: RFC 3720 (iSCSI) appendix B.4', () => {
    const up = Buffer.from(Array.from({ length: 32 }, (_, i) => i))
    expect(hexOf('crc32c', Buffer.alloc(32, 0))).toBe('8a9136aa')
    expect(hexOf('crc32c', Buffer.alloc(32, 0xff))).toBe('62a8ab43')
    expect(hexOf('crc32c', up)).toBe('46dd794e')
    expect(hexOf('crc32c', Buffer.from(up).reverse())).toBe('113fdb5c')
  })

  it('CRC-32C of the S3 trailing-header example (66560 × "a") is the documented sOO8/Q==', () => {
    expect(createChecksum('crc32c').update(Buffer.alloc(66_560, 'a')).digestBase64()).toBe('sOO8/Q==')
  })

  it('AWS CRT checksum tests: CRC-32/CRC-32C of "Hello", CRC-64/NVME of "aaaaaaaaaa" and of ""', () => {
    expect(parseInt(hexOf('crc32', 'Hello'), 16)).toBe(4_157_704_578)
    expect(parseInt(hexOf('crc32c', 'Hello'), 16)).toBe(2_178_485_787)
    expect(parseInt(hexOf('crc32', '{"foo":"base64 encoded sha1 checksum"}'), 16)).toBe(1_195_144_130)
    expect(hexOf('crc64nvme', 'aaaaaaaaaa')).toBe('0c1a80036d65c555')
    expect(hexOf('crc64nvme', '')).toBe('0000000000000000')
    const fiveUpdates = createChecksum('crc64nvme')
    for (let i = 0; i < 5; i++) fiveUpdates.update(Buffer.from('aa'))
    expect(fiveUpdates.digest().toString('hex')).toBe('0c1a80036d65c555')
  })

  it('CRC-32: "The quick brown fox jumps over the lazy dog"', () => {
    expect(hexOf('crc32', 'The quick brown fox jumps over the lazy dog')).toBe('414fa339')
  })

  it('hashes: Content-MD5 and x-amz-checksum-sha1/-sha256 of the empty body', () => {
    expect(createChecksum('md5').digestBase64()).toBe('1B2M2Y8AsgTpgAmY7PhCfg==')
    expect(createChecksum('sha1').digestBase64()).toBe('2jmj7l5rSw0yVb/vlWAYkK/YBwk=')
    expect(createChecksum('sha256').digestBase64()).toBe('47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=')
  })
})

describe('table-driven CRCs against the bit-at-a-time reference', () => {
  it('every length 0..80 (all tail lengths, unaligned offsets) and random splits', () => {
    const data = randomBytes(600)
    for (const algorithm of ['crc32', 'crc32c', 'crc64nvme'] as const) {
      for (let length = 0; length <= 80; length++) {
        const slice = data.subarray(3, 3 + length)
        expect([algorithm, length, hexOf(algorithm, slice)]).toEqual([algorithm, length, REFERENCE[algorithm](slice)])
      }
      const checksum = createChecksum(algorithm)
      let at = 0
      while (at < data.length) {
        const step = 1 + Math.floor(Math.random() * 37)
        checksum.update(data.subarray(at, at + step))
        at += step
      }
      expect(checksum.digest().toString('hex')).toBe(REFERENCE[algorithm](data))
    }
  })

  it('digests as base64 of big-endian bytes', () => {
    expect(createChecksum('crc32').update(Buffer.from('123456789')).digestBase64()).toBe(Buffer.from('cbf43926', 'hex').toString('base64'))
    expect(createChecksum('crc64nvme').update(Buffer.from('123456789')).digestBase64()).toBe(Buffer.from('ae8b14860a799888', 'hex').toString('base64'))
  })
})

describe('API', () => {
  it('a CRC refuses use after digest', () => {
    for (const algorithm of CHECKSUM_ALGORITHMS) {
      const checksum = createChecksum(algorithm)
      checksum.digest()
      expect(() => checksum.digest()).toThrow()
    }
  })

  it('names: known ones accepted, others refused', () => {
    expect(isChecksumAlgorithm('crc64nvme')).toBe(true)
    expect(isChecksumAlgorithm('CRC32')).toBe(false)
    expect(() => createChecksum('xxhash' as ChecksumAlgorithm)).toThrow(TypeError)
  })
})
