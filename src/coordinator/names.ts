/**
 * Rules for bucket names and object keys, shared by the coordinator's API and (later) the S3 gateway.
 */
import { BadRequestError } from '../util/http.js'

/** S3's limit on key length, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024

/**
 * Checks a bucket name against the S3 naming rules (3–63 characters of a-z, 0-9, '.', '-', starting
 * and ending with a letter or digit, no '..', not an IP address). Throws BadRequestError saying which rule.
 */
export function validateBucketName (name: string): string {
  if (name.length < 3 || name.length > 63) throw new BadRequestError(`bucket name "${name}" must be 3 to 63 characters long`)
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name)) {
    throw new BadRequestError(`bucket name "${name}" may contain only lowercase letters, digits, '.' and '-', and must start and end with a letter or digit`)
  }
  if (name.includes('..')) throw new BadRequestError(`bucket name "${name}" must not contain ".."`)
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) throw new BadRequestError(`bucket name "${name}" must not look like an IP address`)
  return name
}

/**
 * Checks an object key: 1 to 1024 UTF-8 bytes, valid Unicode (no lone surrogates). Keys are opaque:
 * "../../etc/passwd" is a fine key, since keys never become file paths.
 */
export function validateObjectKey (key: string): string {
  if (key.length === 0) throw new BadRequestError('object key must not be empty')
  if (!key.isWellFormed()) throw new BadRequestError('object key is not valid Unicode')
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw new BadRequestError(`object key is longer than ${MAX_KEY_BYTES} bytes`)
  return key
}
