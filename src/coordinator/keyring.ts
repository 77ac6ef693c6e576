/**
 * The coordinator's secrets: its master key (in the data directory, mode 0600) and the owners'
 * secrets it seals with that key in metadata. Object keys derive from owners' secrets, so losing the
 * master key loses the data: back up DATA_DIR/master.key.
 */
import { randomBytes } from 'node:crypto'
import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { KEY_BYTES, newSecret, openSecret, sealSecret } from '../crypto/seal.js'
import type { AccountRecord, MetadataStore } from '../metadata/metadata-store.js'

export const MASTER_KEY_FILE = 'master.key'
/** Access key ids look like AWS's: 20 upper-case letters and digits (here starting with SHOAL). */
const ACCESS_KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
/** Secrets: 40 characters of base64's alphabet, like AWS's, ~238 bits. */
const SECRET_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

function randomAlphabet (length: number, alphabet: string): string {
  // alphabet lengths are powers of two (32, 64), so taking bytes modulo the length is unbiased.
  return [...randomBytes(length)].map((b) => alphabet[b % alphabet.length]).join('')
}
/** The account that owns buckets created through the coordinator's API before access keys exist. */
export const DEFAULT_ACCOUNT = 'default'

export class Keyring {
  readonly #master: Buffer
  readonly #metadata: MetadataStore
  readonly #secrets = new Map<string, Buffer>()
  readonly #keys = new Map<string, { secretAccessKey: string, accountId: string }>()

  private constructor (master: Buffer, metadata: MetadataStore) {
    this.#master = master
    this.#metadata = metadata
  }

  /** Loads (or creates, on first start) the master key in `dataDir`. Throws when the file is damaged. */
  static async open (dataDir: string, metadata: MetadataStore): Promise<Keyring> {
    const file = join(dataDir, MASTER_KEY_FILE)
    let key: Buffer
    try {
      key = await readFile(file)
      if (key.length !== KEY_BYTES) throw new Error(`${file} must hold exactly ${KEY_BYTES} bytes; it holds ${key.length}. Restore it from backup`)
    } catch (err: any) {
      if (err.code !== 'ENOENT') throw err
      key = newSecret()
      const tmp = `${file}.${process.pid}.tmp`
      await writeFile(tmp, key, { mode: 0o600, flush: true })
      await rename(tmp, file)
    }
    return new Keyring(key, metadata)
  }

  /** Returns the account named `name`, creating it with a fresh secret when missing. */
  async ensureAccount (name: string): Promise<AccountRecord> {
    const existing = await this.#metadata.getAccountByName(name)
    if (existing !== undefined) return existing
    const account: AccountRecord = { id: randomBytes(12).toString('hex'), name, sealedSecret: sealSecret(this.#master, newSecret()), createdAt: Date.now() }
    try {
      await this.#metadata.createAccount(account)
      return account
    } catch (err) {
      const raced = await this.#metadata.getAccountByName(name)
      if (raced !== undefined) return raced
      throw err
    }
  }

  /**
   * Creates an S3 access key for the account named `accountName` (creating the account when missing).
   * The secret is returned once and stored only sealed with the master key.
   */
  async createAccessKey (accountName: string): Promise<{ accessKeyId: string, secretAccessKey: string, accountId: string }> {
    const account = await this.ensureAccount(accountName)
    const accessKeyId = 'SHOAL' + randomAlphabet(15, ACCESS_KEY_ALPHABET)
    const secretAccessKey = randomAlphabet(40, SECRET_ALPHABET)
    await this.#metadata.createAccessKey({ accessKeyId, accountId: account.id, sealedSecret: sealSecret(this.#master, Buffer.from(secretAccessKey)), createdAt: Date.now() })
    return { accessKeyId, secretAccessKey, accountId: account.id }
  }

  /** The secret and account of an access key, or undefined when there is no such key. */
  async accessKey (accessKeyId: string): Promise<{ secretAccessKey: string, accountId: string } | undefined> {
    const cached = this.#keys.get(accessKeyId)
    if (cached !== undefined) return cached
    const record = await this.#metadata.getAccessKey(accessKeyId)
    if (record === undefined) return undefined
    const found = { secretAccessKey: openSecret(this.#master, record.sealedSecret).toString(), accountId: record.accountId }
    this.#keys.set(accessKeyId, found)
    return found
  }

  /** Deletes an access key; returns whether it existed. */
  async deleteAccessKey (accessKeyId: string): Promise<boolean> {
    this.#keys.delete(accessKeyId)
    return await this.#metadata.deleteAccessKey(accessKeyId)
  }

  /** The owner's secret for `ownerId`. Throws when the account is unknown or its secret doesn't open. */
  async ownerSecret (ownerId: string): Promise<Buffer> {
    const cached = this.#secrets.get(ownerId)
    if (cached !== undefined) return cached
    const account = await this.#metadata.getAccount(ownerId)
    if (account === undefined) throw new Error(`account ${ownerId} does not exist`)
    const secret = openSecret(this.#master, account.sealedSecret)
    this.#secrets.set(ownerId, secret)
    return secret
  }
}
