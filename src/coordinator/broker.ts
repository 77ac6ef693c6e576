/**
 * The coordinator's side of the data path (gateway/broker.ts): places segments with the placement
 * module over the registry's online nodes, and signs the order limits that let the gateway talk to them.
 */
import { newPieceId, newSerial, ORDER_LIMIT_TTL_MS, signOrderLimit, signOrderProof, type OrderLimit, type PieceAction } from '../crypto/order-limit.js'
import type { Identity } from '../crypto/identity.js'
import type { SegmentRecord } from '../metadata/metadata-store.js'
import { PlacementError, selectNodes, type Candidate } from '../placement/index.js'
import type { BucketSettings } from '../gateway/bucket-settings.js'
import type { DownloadGrant, PieceBroker, PieceGrant, UploadPlan } from '../gateway/broker.js'
import type { Logger } from '../util/logger.js'
import { labelsOf, type NodeRegistry, type NodeView } from './registry.js'
import type { ReputationBook } from './reputation-book.js'
import { VETTING_SHARE } from './reputation.js'

export interface BrokerComponents {
  readonly registry: NodeRegistry
  /** Signs order limits. */
  readonly coordinator: Identity
  /** The party that uses them: the in-process gateway (here the same identity). */
  readonly gateway: Identity
  readonly logger: Logger
  readonly random?: () => number
  /** When given, placement skips suspended, disqualified and exiting nodes and limits vetting ones. */
  readonly reputation?: ReputationBook
}

export class CoordinatorBroker implements PieceBroker {
  readonly #c: BrokerComponents
  readonly #failures = new Map<string, number>()

  constructor (components: BrokerComponents) {
    this.#c = components
  }

  async planUpload (settings: BucketSettings, pieceBytes: number, options: { exclude?: ReadonlySet<string> } = {}): Promise<UploadPlan> {
    const random = this.#c.random ?? Math.random
    const request = {
      k: settings.k,
      total: settings.k + settings.m,
      spares: settings.spares,
      pieceBytes,
      policy: settings.policy
    }
    const all = this.candidates(options.exclude)
    let result: ReturnType<typeof selectNodes> | undefined
    const book = this.#c.reputation
    if (book !== undefined) {
      // Vetted nodes first; a vetting node joins one segment in 1/VETTING_SHARE, or whenever vetted
      // nodes alone can't hold the segment under its policy.
      const vetted = all.filter((c) => book.isVetted(c.id))
      const vetting = all.filter((c) => !book.isVetted(c.id))
      const pool = vetting.length > 0 && random() < VETTING_SHARE ? [...vetted, vetting[Math.floor(random() * vetting.length)]] : vetted
      if (pool.length < all.length && pool.length >= request.total) {
        try {
          result = selectNodes(pool, { ...request, mode: 'strict' }, random)
        } catch (err) {
          if (!(err instanceof PlacementError)) throw err
        }
      }
    }
    result ??= selectNodes(all, { ...request, mode: settings.underPlacement === 'refuse' ? 'strict' : 'best-effort' }, random)
    if (result.unmet.length > 0) this.#c.logger.warn('writing under-placed segment', { unmet: result.unmet, reason: result.reason })
    return {
      pieces: result.nodes.map((n) => this.#grant(n, 'put', pieceBytes)),
      spares: result.spares.map((n) => this.#grant(n, 'put', pieceBytes)),
      unmet: result.unmet,
      reason: result.reason ?? ''
    }
  }

  /** Online nodes that may receive new pieces (reputation permitting), minus `exclude`. */
  candidates (exclude?: ReadonlySet<string>): Candidate[] {
    const book = this.#c.reputation
    const all = this.#c.registry.candidates(exclude)
    return book === undefined ? all : all.filter((c) => book.acceptsPieces(c.id))
  }

  /** A put grant for one new piece on a chosen node (repair). */
  grantPut (nodeId: string, pieceBytes: number): PieceGrant {
    const node = this.#c.registry.get(nodeId)
    if (node === undefined) throw new TypeError(`unknown node ${nodeId}`)
    return this.#grant({ id: nodeId, labels: labelsOf(node), freeBytes: node.freeBytes }, 'put', pieceBytes)
  }

  /** An audit grant for one stored piece. */
  grantAudit (nodeId: string, pieceId: string, pieceBytes: number): PieceGrant | undefined {
    const node = this.#c.registry.get(nodeId)
    return node === undefined ? undefined : this.#signed(node, pieceId, 'audit', pieceBytes)
  }

  async planReplacements (_settings: BucketSettings, pieceBytes: number, count: number, exclude: ReadonlySet<string>): Promise<PieceGrant[]> {
    const random = this.#c.random ?? Math.random
    const candidates = this.candidates(exclude).filter((c) => c.freeBytes >= pieceBytes)
    // Weighted by free space without replacement (Efraimidis–Spirakis keys): roomier nodes first.
    const keyed = candidates.map((c) => ({ c, key: Math.pow(random(), 1 / Math.max(1, c.freeBytes / 2 ** 20)) }))
    keyed.sort((a, b) => b.key - a.key)
    return keyed.slice(0, count).map(({ c }) => this.#grant(c, 'put', pieceBytes))
  }

  async planDownload (segment: SegmentRecord, action: PieceAction = 'get'): Promise<DownloadGrant[]> {
    const grants: DownloadGrant[] = []
    for (const piece of segment.pieces) {
      const node = this.#c.registry.get(piece.nodeId)
      if (node === undefined) continue
      grants.push({
        ...this.#signed(node, piece.pieceId, action, piece.size),
        pieceIndex: piece.pieceIndex,
        hash: piece.hash,
        size: piece.size,
        online: node.online
      })
    }
    return grants
  }

  reportPieceFailure (nodeId: string, pieceId: string, kind: 'corrupt' | 'unreachable' | 'bad-receipt', detail: string): void {
    this.#failures.set(nodeId, (this.#failures.get(nodeId) ?? 0) + 1)
    const level = kind === 'unreachable' ? 'info' : 'warn'
    this.#c.logger[level]('piece transfer failed', { node: nodeId, piece: pieceId, kind, detail })
  }

  /** Failed or corrupt piece transfers reported per node since start (reputation will build on this). */
  failures (): ReadonlyMap<string, number> {
    return this.#failures
  }

  #limit (nodeId: string, pieceId: string, action: PieceAction, maxBytes: number): OrderLimit {
    const now = Date.now()
    return {
      version: 1,
      serial: newSerial(),
      coordinatorId: this.#c.coordinator.id,
      nodeId,
      pieceId,
      action,
      maxBytes,
      issuedAt: now,
      expiresAt: now + ORDER_LIMIT_TTL_MS,
      downloaderKey: this.#c.gateway.publicKey
    }
  }

  #grant (candidate: Candidate, action: PieceAction, pieceBytes: number): PieceGrant {
    const node = this.#c.registry.get(candidate.id)!
    this.#c.registry.reserve(node.id, pieceBytes)
    return this.#signed(node, newPieceId(), action, pieceBytes)
  }

  /** A grant for one transfer of `pieceId` with `node`: a signed order limit and the gateway's proof. */
  #signed (node: NodeView, pieceId: string, action: PieceAction, maxBytes: number): PieceGrant {
    const limit = this.#limit(node.id, pieceId, action, maxBytes)
    return {
      nodeId: node.id,
      nodeUrl: node.url,
      nodePublicKey: node.publicKey,
      labels: labelsOf(node),
      pieceId,
      orderLimit: signOrderLimit(this.#c.coordinator, limit),
      orderProof: signOrderProof(this.#c.gateway, limit)
    }
  }
}
