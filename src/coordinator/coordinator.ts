/**
 * The coordinator's composition root: identity, metadata, registry, keyring, broker, the in-process
 * gateway and the HTTP API, wired once, started and stopped together.
 */
import { mkdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { Identity } from '../crypto/identity.js'
import { createCodec, type ErasureCodec } from '../erasure/index.js'
import { openMetadataStore } from '../metadata/index.js'
import type { MetadataStore } from '../metadata/metadata-store.js'
import { Gateway } from '../gateway/gateway.js'
import { PieceClient } from '../gateway/piece-client.js'
import type { Logger } from '../util/logger.js'
import { CoordinatorApi } from './api.js'
import { DEFAULT_S3_PORT, S3Server } from '../gateway/s3/s3-server.js'
import { CoordinatorBroker } from './broker.js'
import { DEFAULT_ACCOUNT, Keyring } from './keyring.js'
import { NodeRegistry, OFFLINE_AFTER_MS } from './registry.js'
import { Durability, type DurabilityInit } from './durability.js'
import { ReputationBook } from './reputation-book.js'

/** Default API port (DESIGN.md's local network contract). */
export const DEFAULT_COORDINATOR_PORT = 7070

export interface CoordinatorInit {
  /** Where the identity, master key and (by default) the SQLite metadata live. */
  dataDir: string
  host?: string
  port?: number
  /** `sqlite:PATH` or `postgres://…`; default sqlite under dataDir. */
  metadataUrl?: string
  offlineAfterMs?: number
  segmentSize?: number
  /** Port of the S3 endpoint (0 = any free port; default 9000); `false` runs no S3 endpoint. */
  s3Port?: number | false
  /** Region the S3 endpoint reports (default us-east-1). */
  s3Region?: string
  /** Audits, repair, garbage collection: intervals, graces and limits (defaults in durability.ts). */
  durability?: DurabilityInit
}

export class Coordinator {
  readonly #init: CoordinatorInit
  readonly #logger: Logger
  #metadata: MetadataStore | undefined
  #registry: NodeRegistry | undefined
  #api: CoordinatorApi | undefined
  #s3: S3Server | undefined
  #pieces: PieceClient | undefined
  #identity: Identity | undefined
  #durability: Durability | undefined
  #url = ''

  constructor (init: CoordinatorInit, components: { logger: Logger }) {
    this.#init = init
    this.#logger = components.logger
  }

  get url (): string { return this.#url }
  /** The S3 endpoint's URL ('' when it isn't running). */
  get s3Url (): string { return this.#s3?.url ?? '' }
  get s3Region (): string { return this.#s3?.region ?? '' }
  get id (): string { return this.#identity?.id ?? '' }
  get publicKey (): string { return this.#identity?.publicKey ?? '' }

  /** Opens everything and starts serving. Throws (and cleans up) when any part fails to start. */
  async start (): Promise<void> {
    const dataDir = resolve(this.#init.dataDir)
    await mkdir(dataDir, { recursive: true })
    try {
      const identity = this.#identity = await Identity.loadOrCreate(dataDir)
      const metadata = this.#metadata = await openMetadataStore(this.#init.metadataUrl ?? `sqlite:${join(dataDir, 'metadata.db')}`)
      await metadata.migrate()
      const keyring = await Keyring.open(dataDir, metadata)
      await keyring.ensureAccount(DEFAULT_ACCOUNT)
      const registry = this.#registry = new NodeRegistry({ offlineAfterMs: this.#init.offlineAfterMs ?? OFFLINE_AFTER_MS }, { metadata, logger: this.#logger.child('registry') })
      await registry.start()
      const reputation = new ReputationBook(this.#init.durability?.reputation ?? {}, { metadata, logger: this.#logger.child('reputation') })
      await reputation.start()
      const broker = new CoordinatorBroker({ registry, coordinator: identity, gateway: identity, reputation, logger: this.#logger.child('broker') })
      const pieces = this.#pieces = new PieceClient()
      const codecs = new Map<string, ErasureCodec>()
      const codec = (k: number, m: number): ErasureCodec => {
        let c = codecs.get(`${k}+${m}`)
        if (c === undefined) codecs.set(`${k}+${m}`, c = createCodec(k, m))
        return c
      }
      const gateway = new Gateway({ segmentSize: this.#init.segmentSize }, {
        metadata, broker, pieces, codec, ownerSecret: async (id) => await keyring.ownerSecret(id), logger: this.#logger.child('gateway')
      })
      const durability = this.#durability = new Durability(this.#init.durability ?? {},
        { metadata, registry, broker, pieces, identity, codec, logger: this.#logger.child('durability') }, reputation)
      this.#api = new CoordinatorApi({ host: this.#init.host ?? '127.0.0.1', port: this.#init.port ?? DEFAULT_COORDINATOR_PORT },
        { identity, broker, metadata, registry, gateway, keyring, durability, logger: this.#logger.child('api') })
      this.#url = await this.#api.start()
      if (this.#init.s3Port !== false) {
        this.#s3 = new S3Server({ host: this.#init.host ?? '127.0.0.1', port: this.#init.s3Port ?? DEFAULT_S3_PORT, region: this.#init.s3Region },
          { metadata, gateway, keys: keyring, logger: this.#logger.child('s3') })
        await this.#s3.start()
      }
      durability.start()
      this.#logger.info('coordinator started', { id: identity.id, url: this.#url, s3: this.s3Url })
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  /** Stops serving and closes the metadata store; safe to call twice. */
  async stop (): Promise<void> {
    this.#durability?.stop()
    this.#durability = undefined
    await this.#s3?.stop()
    this.#s3 = undefined
    await this.#api?.stop()
    this.#api = undefined
    this.#registry?.stop()
    this.#registry = undefined
    this.#pieces?.close()
    this.#pieces = undefined
    await this.#metadata?.close()
    this.#metadata = undefined
  }
}
