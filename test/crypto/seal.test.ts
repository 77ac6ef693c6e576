import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  TAG_BYTES, deriveObjectKey, newSalt, newSecret, openSecret, openSegment, sealSecret, sealSegment, sealSegmentInto
} from '../../src/crypto/seal.js'

describe('seal', () => {
  const key = deriveObjectKey(newSecret(), newSalt())

  it('round-trips segments of many sizes', () => {
    for (const size of [0, 1, 15, 16, 17, 1024 * 1024 + 3, 3 * 1024 * 1024]) {
      const plain = randomBytes(size)
      const sealed = sealSegment(key, 7, plain)
      expect(sealed.length).toBe(size + TAG_BYTES)
      expect(openSegment(key, 7, sealed).equals(plain)).toBe(true)
      const out = Buffer.alloc(size + TAG_BYTES + 5)
      expect(sealSegmentInto(key, 7, plain, out)).toBe(size + TAG_BYTES)
      expect(out.subarray(0, size + TAG_BYTES).equals(sealed)).toBe(true)
    }
  })

  it('tampering, a wrong key or a wrong index fails with DecryptionError', () => {
    const plain = randomBytes(1000)
    const sealed = sealSegment(key, 3, plain)
    for (const at of [0, 500, sealed.length - 1]) {
      const bad = Buffer.from(sealed)
      bad[at] ^= 0x01
      expect(() => openSegment(key, 3, bad)).toThrow(expect.objectContaining({ name: 'DecryptionError' }))
    }
    expect(() => openSegment(deriveObjectKey(newSecret(), newSalt()), 3, sealed)).toThrow(expect.objectContaining({ name: 'DecryptionError' }))
    expect(() => openSegment(key, 4, sealed)).toThrow(expect.objectContaining({ name: 'DecryptionError' }))
    expect(() => openSegment(key, 3, sealed.subarray(0, TAG_BYTES - 1))).toThrow(expect.objectContaining({ name: 'DecryptionError' }))
  })

  it('different indexes and different salts give different ciphertext', () => {
    const plain = Buffer.alloc(64, 0x42)
    expect(sealSegment(key, 0, plain).equals(sealSegment(key, 1, plain))).toBe(false)
    const secret = newSecret()
    expect(deriveObjectKey(secret, newSalt()).equals(deriveObjectKey(secret, newSalt()))).toBe(false)
    expect(deriveObjectKey(secret, Buffer.alloc(16)).equals(deriveObjectKey(secret, Buffer.alloc(16)))).toBe(true)
    expect(() => deriveObjectKey(Buffer.alloc(31), newSalt())).toThrow(RangeError)
  })

  it('seals secrets under a master key', () => {
    const master = newSecret()
    const secret = newSecret()
    const sealed = sealSecret(master, secret)
    expect(openSecret(master, sealed).equals(secret)).toBe(true)
    expect(sealSecret(master, secret).equals(sealed)).toBe(false) // fresh salt each time
    expect(() => openSecret(newSecret(), sealed)).toThrow(expect.objectContaining({ name: 'DecryptionError' }))
    expect(() => openSecret(master, sealed.subarray(0, 10))).toThrow(expect.objectContaining({ name: 'DecryptionError' }))
  })

  it('node:crypto AES-256-GCM reproduces a NIST GCM test vector (McGrew & Viega test case 14)', () => {
    // The primitive seal.ts builds on: 256-bit zero key, zero IV, one zero block.
    const k = Buffer.alloc(32)
    const iv = Buffer.alloc(12)
    const c = createCipheriv('aes-256-gcm', k, iv)
    const ct = Buffer.concat([c.update(Buffer.alloc(16)), c.final()])
    expect(ct.toString('hex')).toBe('cea7403d4d606b6e074ec5d3baf39d18')
    expect(c.getAuthTag().toString('hex')).toBe('d0d1c8a799996bf0265b98b5d48ab919')
    const d = createDecipheriv('aes-256-gcm', k, iv)
    d.setAuthTag(c.getAuthTag())
    expect(Buffer.concat([d.update(ct), d.final()]).equals(Buffer.alloc(16))).toBe(true)
  })
})
