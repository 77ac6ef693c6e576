/**
 * Garbage collection. Each pass:
 * 1. marks pending uploads older than this coordinator process aborted (their writer died with it);
 * 2. forgets garbage uploads (aborted, or committed and no longer visible) older than `graceMs`;
 * 3. sends every online node a signed retain set: a Bloom filter (10% false positives) of every
 *    piece id metadata still records on it, with `createdBefore` = snapshot time − graceMs. The node
 *    deletes the pieces not in the filter that are older than createdBefore.
 *
 * Why nothing referenced is ever deleted: a Bloom filter has no false negatives, so a piece recorded
 * at the snapshot is kept; a piece recorded after the snapshot (a segment being written, a repair
 * being swapped in) was created after createdBefore as long as every piece is recorded within graceMs
 * of being stored — order limits expire after 10 minutes, so a grace of at least that (default 1 h)
 * holds. False positives only keep some garbage until a later pass (each pass uses a fresh seed).
 */
import { signRetainRequest } from '../crypto/retain.js'
import type { Identity } from '../crypto/identity.js'
import type { MetadataStore } from '../metadata/metadata-store.js'
import type { PieceClient } from '../gateway/piece-client.js'
import { BloomFilter } from '../util/bloom.js'
import type { Logger } from '../util/logger.js'
import type { NodeRegistry } from './registry.js'

/** Pieces must be recorded in metadata within this long of being stored (see above). */
export const GC_GRACE_MS = 60 * 60_000
/** Ids read per metadata query when building a retain set. */
const PAGE = 10_000

export interface GcComponents {
  readonly metadata: MetadataStore
  readonly registry: NodeRegistry
  readonly pieces: PieceClient
  readonly identity: Identity
  readonly logger: Logger
}

export interface GcPassReport {
  readonly abortedStale: number
  readonly purgedUploads: number
  readonly nodes: ReadonlyArray<{ readonly nodeId: string, readonly retained: number, readonly filterBytes: number, readonly deleted?: number, readonly deletedBytes?: number, readonly error?: string }>
  readonly deletedPieces: number
  readonly deletedBytes: number
}

export class GarbageCollector {
  readonly #c: GcComponents
  readonly #graceMs: number
  readonly #startedAt: number
  #running: Promise<GcPassReport> | undefined

  constructor (init: { graceMs?: number, startedAt?: number }, components: GcComponents) {
    this.#c = components
    this.#graceMs = init.graceMs ?? GC_GRACE_MS
    this.#startedAt = init.startedAt ?? Date.now()
  }

  get graceMs (): number { return this.#graceMs }

  async runPass (): Promise<GcPassReport> {
    this.#running ??= this.#pass().finally(() => { this.#running = undefined })
    return await this.#running
  }

  async #pass (): Promise<GcPassReport> {
    const { metadata } = this.#c
    const abortedStale = await metadata.abortStaleUploads(this.#startedAt)
    let purgedUploads = 0
    const snapshot = Date.now()
    for (;;) {
      const ids = await metadata.garbageUploads(snapshot - this.#graceMs, 500)
      for (const id of ids) {
        try {
          await metadata.purgeUpload(id)
          purgedUploads++
        } catch (err) {
          this.#c.logger.debug('could not purge an upload', { upload: id, err })
        }
      }
      if (ids.length < 500) break
    }
    const nodes: Array<GcPassReport['nodes'][number]> = []
    let deletedPieces = 0
    let deletedBytes = 0
    for (const node of this.#c.registry.list()) {
      if (!node.online) continue
      const taken = Date.now()
      const ids: string[] = []
      for (let page = await metadata.pieceIdsOfNode(node.id, '', PAGE); page.length > 0; page = await metadata.pieceIdsOfNode(node.id, page[page.length - 1], PAGE)) {
        ids.push(...page)
        if (page.length < PAGE) break
      }
      const filter = BloomFilter.forCount(Math.max(1, ids.length), 0.1)
      for (const id of ids) filter.add(id)
      const encoded = filter.encode()
      const signed = signRetainRequest(this.#c.identity, { version: 1, nodeId: node.id, createdBefore: taken - this.#graceMs, filter: encoded })
      try {
        const result = await this.#c.pieces.retain(node.url, node.id, signed)
        nodes.push({ nodeId: node.id, retained: ids.length, filterBytes: encoded.length, deleted: result.deleted, deletedBytes: result.deletedBytes })
        deletedPieces += result.deleted
        deletedBytes += result.deletedBytes
      } catch (err) {
        nodes.push({ nodeId: node.id, retained: ids.length, filterBytes: encoded.length, error: err instanceof Error ? err.message : String(err) })
        this.#c.logger.info('could not send a retain set; next pass will', { node: node.id, err })
      }
    }
    if (deletedPieces > 0 || purgedUploads > 0 || abortedStale > 0) {
      this.#c.logger.info('garbage collection pass', { abortedStale, purgedUploads, deletedPieces, deletedBytes })
    }
    return { abortedStale, purgedUploads, nodes, deletedPieces, deletedBytes }
  }
}
