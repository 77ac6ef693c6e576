/**
 * Ed25519 identities for nodes, coordinators and gateways. The id of a party is derived from its
 * public key, so a node can't claim another node's id without its private key.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { InvalidSignatureError } from './errors.js'

/** File name of the private key inside a data directory (PKCS#8 PEM, mode 0600). */
export const IDENTITY_FILE = 'identity.pem'

/** Bytes of sha256(public key) kept in an id: 20 bytes (160 bits) is collision-safe for any node count. */
const ID_BYTES = 20

/** Derives the id (40 hex characters) of the party owning `publicKey` (SPKI DER, base64). */
export function idFromPublicKey (publicKey: string): string {
  return createHash('sha256').update(Buffer.from(publicKey, 'base64')).digest().subarray(0, ID_BYTES).toString('hex')
}

/** An ed25519 key pair with its derived id. */
export class Identity {
  readonly id: string
  /** SPKI DER, base64. */
  readonly publicKey: string
  readonly #privateKey: KeyObject

  private constructor (privateKey: KeyObject) {
    this.#privateKey = privateKey
    this.publicKey = createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).toString('base64')
    this.id = idFromPublicKey(this.publicKey)
  }

  /** A fresh random identity (kept in memory only). */
  static generate (): Identity {
    return new Identity(generateKeyPairSync('ed25519').privateKey)
  }

  /**
   * Loads the identity kept in `dir`, creating and saving a new one on first use.
   * Throws when the key file exists but is not an ed25519 private key.
   */
  static async loadOrCreate (dir: string): Promise<Identity> {
    const file = join(dir, IDENTITY_FILE)
    let pem: string | undefined
    try {
      pem = await readFile(file, 'utf8')
    } catch (err: any) {
      if (err.code !== 'ENOENT') throw err
    }
    if (pem !== undefined) {
      const key = createPrivateKey(pem)
      if (key.asymmetricKeyType !== 'ed25519') {
        throw new InvalidSignatureError(`${file} holds a ${key.asymmetricKeyType} key, not ed25519; move it away to create a new identity`)
      }
      return new Identity(key)
    }
    await mkdir(dir, { recursive: true })
    const { privateKey } = generateKeyPairSync('ed25519')
    const tmp = `${file}.${process.pid}.tmp`
    await writeFile(tmp, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600, flush: true })
    await rename(tmp, file)
    return new Identity(privateKey)
  }

  /** Signs `data` (ed25519, 64-byte signature). */
  sign (data: Uint8Array): Buffer {
    return sign(null, data, this.#privateKey)
  }
}

/** Parsed public keys, by their base64 text: parsing costs more than verifying. */
const publicKeyCache = new Map<string, KeyObject>()
const PUBLIC_KEY_CACHE_LIMIT = 10_000

/** Parses an SPKI DER base64 ed25519 public key; throws InvalidSignatureError when it is not one. */
export function parsePublicKey (publicKey: string): KeyObject {
  let key = publicKeyCache.get(publicKey)
  if (key !== undefined) return key
  try {
    key = createPublicKey({ key: Buffer.from(publicKey, 'base64'), format: 'der', type: 'spki' })
  } catch (err) {
    throw new InvalidSignatureError('public key is not a valid SPKI DER key in base64', { cause: err })
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new InvalidSignatureError(`public key is ${key.asymmetricKeyType}, expected ed25519`)
  }
  if (publicKeyCache.size >= PUBLIC_KEY_CACHE_LIMIT) publicKeyCache.clear()
  publicKeyCache.set(publicKey, key)
  return key
}

/** True when `signature` is `publicKey`'s ed25519 signature of `data`; throws only for a malformed key. */
export function verifySignature (publicKey: string, data: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64) return false
  return verify(null, data, parsePublicKey(publicKey), signature)
}
