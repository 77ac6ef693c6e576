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
/** The account that owns buckets created through the coordinator's API before access keys exist. */
export const DEFAULT_ACCOUNT = 'default'

export class Keyring {
  readonly #master: Buffer
  readonly #metadata: MetadataStore
  readonly #secrets = new Map<string, Buffer>()

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
