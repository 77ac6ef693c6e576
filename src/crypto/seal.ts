/**
 * Client-side encryption: AES-256-GCM under a per-object key derived from the bucket owner's secret.
 * Nodes only ever see ciphertext. Each segment has its own nonce (derived from its index), and each
 * object its own key (HKDF over a random per-upload salt), so a (key, nonce) pair is never reused.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'
import { DecryptionError } from './errors.js'

export const KEY_BYTES = 32
export const SALT_BYTES = 16
/** AES-GCM authentication tag appended to every sealed segment. */
export const TAG_BYTES = 16
const NONCE_BYTES = 12

const OBJECT_KEY_INFO = Buffer.from('shoal/object-key/v1')
const SECRET_KEY_INFO = Buffer.from('shoal/sealed-secret/v1')

/** A new random 32-byte secret (an owner's secret, a coordinator's master key). */
export function newSecret (): Buffer {
  return randomBytes(KEY_BYTES)
}

/** A new random per-upload salt. */
export function newSalt (): Buffer {
  return randomBytes(SALT_BYTES)
}

/** HKDF-SHA256(ownerSecret, salt, "shoal/object-key/v1") → 32-byte AES key. */
export function deriveObjectKey (ownerSecret: Uint8Array, salt: Uint8Array): Buffer {
  if (ownerSecret.length !== KEY_BYTES) throw new RangeError(`owner secret must be ${KEY_BYTES} bytes`)
  return Buffer.from(hkdfSync('sha256', ownerSecret, salt, OBJECT_KEY_INFO, KEY_BYTES))
}

function segmentNonce (index: number): Buffer {
  const nonce = Buffer.alloc(NONCE_BYTES)
  nonce.writeBigUInt64BE(BigInt(index), 4)
  return nonce
}

/**
 * Encrypts segment `index` of an object into `out` (which must have room for the plaintext + TAG_BYTES)
 * and returns the number of bytes written. The plaintext may come as several parts (the chunks it
 * arrived in), so that the uploader encrypts straight into the erasure coder's data shards without
 * first joining the segment into one buffer.
 */
export function sealSegmentInto (key: Uint8Array, index: number, plaintext: Uint8Array | readonly Uint8Array[], out: Buffer): number {
  const parts = plaintext instanceof Uint8Array ? [plaintext] : plaintext
  const length = parts.reduce((a, p) => a + p.length, 0)
  if (out.length < length + TAG_BYTES) throw new RangeError('output buffer too small for sealed segment')
  const cipher = createCipheriv('aes-256-gcm', key, segmentNonce(index))
  cipher.setAAD(segmentNonce(index))
  let n = 0
  // update() on one large buffer would allocate a second copy; bounded chunks keep the copy small.
  for (const part of parts) {
    for (let off = 0; off < part.length; off += SEAL_CHUNK) {
      n += cipher.update(part.subarray(off, Math.min(off + SEAL_CHUNK, part.length))).copy(out, n)
    }
  }
  n += cipher.final().copy(out, n)
  n += cipher.getAuthTag().copy(out, n)
  return n
}

/** Chunk size for streaming AES-GCM through node:crypto (bounded temporary allocations). */
const SEAL_CHUNK = 1024 * 1024

/** Encrypts segment `index` (see sealSegmentInto) into a new buffer. */
export function sealSegment (key: Uint8Array, index: number, plaintext: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(plaintext.length + TAG_BYTES)
  sealSegmentInto(key, index, plaintext, out)
  return out
}

/** Decrypts and authenticates segment `index`; throws DecryptionError on a wrong key or tampered bytes. */
export function openSegment (key: Uint8Array, index: number, sealed: Uint8Array): Buffer {
  if (sealed.length < TAG_BYTES) throw new DecryptionError(`sealed segment ${index} is shorter than its authentication tag`)
  const body = sealed.subarray(0, sealed.length - TAG_BYTES)
  const decipher = createDecipheriv('aes-256-gcm', key, segmentNonce(index))
  decipher.setAAD(segmentNonce(index))
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES))
  const out = Buffer.allocUnsafe(body.length)
  let n = 0
  try {
    for (let off = 0; off < body.length; off += SEAL_CHUNK) {
      n += decipher.update(body.subarray(off, Math.min(off + SEAL_CHUNK, body.length))).copy(out, n)
    }
    n += decipher.final().copy(out, n)
  } catch (err) {
    throw new DecryptionError(`segment ${index} failed authentication: wrong key or corrupted data`, { cause: err })
  }
  return out.subarray(0, n)
}

/**
 * Decrypts and authenticates segment `index` in place: `sealed` (ciphertext + tag) is overwritten with
 * the plaintext, which is returned as a view of its first bytes. Saves a segment-sized allocation on
 * every read. Throws DecryptionError on a wrong key or tampered bytes (the buffer then holds garbage).
 */
export function openSegmentInPlace (key: Uint8Array, index: number, sealed: Buffer): Buffer {
  if (sealed.length < TAG_BYTES) throw new DecryptionError(`sealed segment ${index} is shorter than its authentication tag`)
  const length = sealed.length - TAG_BYTES
  const decipher = createDecipheriv('aes-256-gcm', key, segmentNonce(index))
  decipher.setAAD(segmentNonce(index))
  decipher.setAuthTag(sealed.subarray(length))
  let n = 0
  try {
    for (let off = 0; off < length; off += SEAL_CHUNK) {
      // update() returns a new buffer for this chunk, so writing it back over its own source is safe.
      n += decipher.update(sealed.subarray(off, Math.min(off + SEAL_CHUNK, length))).copy(sealed, n)
    }
    n += decipher.final().copy(sealed, n)
  } catch (err) {
    throw new DecryptionError(`segment ${index} failed authentication: wrong key or corrupted data`, { cause: err })
  }
  return sealed.subarray(0, n)
}

/** Seals a small secret (an owner's secret) under a master key for storage at rest: salt || ciphertext || tag. */
export function sealSecret (masterKey: Uint8Array, secret: Uint8Array): Buffer {
  const salt = newSalt()
  const key = Buffer.from(hkdfSync('sha256', masterKey, salt, SECRET_KEY_INFO, KEY_BYTES))
  return Buffer.concat([salt, sealSegment(key, 0, secret)])
}

/** Opens what sealSecret produced; throws DecryptionError on the wrong master key or tampering. */
export function openSecret (masterKey: Uint8Array, sealed: Uint8Array): Buffer {
  if (sealed.length < SALT_BYTES + TAG_BYTES) throw new DecryptionError('sealed secret is too short')
  const salt = sealed.subarray(0, SALT_BYTES)
  const key = Buffer.from(hkdfSync('sha256', masterKey, salt, SECRET_KEY_INFO, KEY_BYTES))
  return openSegment(key, 0, sealed.subarray(SALT_BYTES))
}
