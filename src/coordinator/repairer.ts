/**
 * Repair: a checker that finds segments at risk and a repairer that restores them.
 *
 * A piece is healthy when its row exists, its node is known, not disqualified, not exiting, and either
 * online or offline for less than `graceMs` (a node rebooting is not an outage worth a rebuild). A
 * segment needs repair when fewer than `repairBelow` pieces (default: all k + m) are healthy, or when
 * its healthy pieces break its bucket's placement policy and the network now allows better (written
 * under-placed during an outage, or a node's labels changed). Segments are repaired most-at-risk first:
 * fewest healthy pieces beyond k.
 *
 * The repairer downloads k verified pieces (from any node that still answers, exiting ones included),
 * rebuilds the missing shards, uploads them to nodes chosen by planRepairPlacement, and swaps them
 * into metadata with one compare-and-set (replacePieces): when the object was deleted or the segment
 * changed meanwhile nothing is swapped and the new pieces are deleted again (garbage collection
 * catches any that could not be). Replaced pieces are deleted from their nodes when reachable; the
 * others are removed by garbage collection when their node returns. Concurrency and bandwidth are bounded.
 */
import type { MetadataStore, PieceReplacement, StoredSegmentRecord } from '../metadata/metadata-store.js'
import { parseBucketSettings, type BucketSettings } from '../gateway/bucket-settings.js'
import type { PieceGrant, PieceTransport } from '../gateway/broker.js'
import { fetchShards } from '../gateway/segment-reader.js'
import type { SegmentComponents } from '../gateway/segment-writer.js'
import { planRepairPlacement } from '../placement/repair.js'
import { checkPlacement, describeUnmet } from '../placement/check.js'
import type { ErasureCodec } from '../erasure/index.js'
import type { Logger } from '../util/logger.js'
import type { CoordinatorBroker } from './broker.js'
import { labelsOf, type NodeRegistry } from './registry.js'
import type { ReputationBook } from './reputation-book.js'

/** How long a node may be offline before its pieces are rebuilt elsewhere (production default). */
export const REPAIR_GRACE_MS = 30 * 60_000
/** Segments repaired at once. */
export const REPAIR_CONCURRENCY = 2
/**
 * Pieces a segment should have: k + the bucket's m. A segment is coded with m + spares parity shards
 * (the long-tail cut stores only k + m of them), so any missing index can be rebuilt.
 */
export function targetPieces (segment: { k: number, m: number }, settings: BucketSettings): number {
  return Math.min(segment.k + segment.m, segment.k + settings.m)
}

/** Segments the checker reads per metadata query. */
const CHECK_PAGE = 500

export interface RepairSettings {
  readonly graceMs: number
  readonly concurrency: number
  /** Bytes per second the repairer may move (download + upload); 0 = unlimited. */
  readonly bandwidth: number
  /** Repair when fewer than this many pieces are healthy; undefined = k + m (any loss). */
  readonly repairBelow?: number
}

export interface RepairComponents {
  readonly metadata: MetadataStore
  readonly registry: NodeRegistry
  readonly broker: CoordinatorBroker
  readonly pieces: PieceTransport
  readonly reputation: ReputationBook
  readonly codec: (k: number, m: number) => ErasureCodec
  readonly logger: Logger
}

export interface SegmentRisk {
  readonly segment: StoredSegmentRecord
  readonly settings: BucketSettings
  /** Piece indexes whose pieces are healthy. */
  readonly healthy: readonly number[]
  /** Why the checker flagged it. */
  readonly reason: 'redundancy' | 'policy'
}

export interface RepairPassReport {
  readonly checked: number
  /** Segments with fewer healthy pieces than the repair threshold (0 = full redundancy everywhere). */
  readonly atRisk: number
  /** Segments whose healthy pieces break their placement policy (re-spread when the network allows). */
  readonly policyViolations: number
  readonly repaired: number
  readonly failed: number
  /** Segments with fewer than k healthy pieces: not repairable now (their data may still come back). */
  readonly unrepairable: number
  readonly piecesRebuilt: number
  readonly bytesRebuilt: number
  readonly bytesMoved: number
  readonly exited: readonly string[]
}

export interface RepairTotals {
  readonly passes: number
  readonly repaired: number
  readonly piecesRebuilt: number
  readonly bytesRebuilt: number
  readonly lastPassAt: number
  /** Segments at risk found by the last pass. */
  readonly atRisk: number
}

export class Repairer {
  readonly #c: RepairComponents
  readonly #s: RepairSettings
  #running: Promise<RepairPassReport> | undefined
  #totals: RepairTotals = { passes: 0, repaired: 0, piecesRebuilt: 0, bytesRebuilt: 0, lastPassAt: 0, atRisk: 0 }
  #budgetAt = 0

  constructor (settings: Partial<RepairSettings>, components: RepairComponents) {
    this.#s = {
      graceMs: settings.graceMs ?? REPAIR_GRACE_MS,
      concurrency: settings.concurrency ?? REPAIR_CONCURRENCY,
      bandwidth: settings.bandwidth ?? 0,
      repairBelow: settings.repairBelow
    }
    if (!Number.isSafeInteger(this.#s.concurrency) || this.#s.concurrency < 1) throw new RangeError('repair concurrency must be a positive integer')
    if (!(this.#s.bandwidth >= 0) || !(this.#s.graceMs >= 0)) throw new RangeError('repair bandwidth and grace must be non-negative')
    this.#c = components
  }

  get totals (): RepairTotals { return this.#totals }
  get settings (): RepairSettings { return this.#s }

  /** Whether a piece on `nodeId` counts as healthy now. */
  isHealthy (nodeId: string, now = Date.now()): boolean {
    const node = this.#c.registry.get(nodeId)
    if (node === undefined || !this.#c.reputation.holdsHealthyPieces(nodeId)) return false
    return node.online || now - node.lastSeen < this.#s.graceMs
  }

  /** Every segment at risk, most at risk first. */
  async check (): Promise<{ checked: number, risks: SegmentRisk[], settled: StoredSegmentRecord[] }> {
    const settingsOf = new Map<string, BucketSettings | undefined>()
    const risks: SegmentRisk[] = []
    /** Recorded as under-placed, but their healthy pieces meet the policy now (a domain came back). */
    const settled: StoredSegmentRecord[] = []
    let checked = 0
    let after: { uploadId: string, index: number } | undefined
    const now = Date.now()
    for (;;) {
      const page = await this.#c.metadata.listSegments(after, CHECK_PAGE)
      if (page.length === 0) break
      after = { uploadId: page[page.length - 1].uploadId, index: page[page.length - 1].index }
      for (const segment of page) {
        checked++
        if (!settingsOf.has(segment.bucket)) {
          const bucket = await this.#c.metadata.getBucket(segment.bucket)
          settingsOf.set(segment.bucket, bucket === undefined ? undefined : parseBucketSettings(bucket.settings))
        }
        const settings = settingsOf.get(segment.bucket)
        if (settings === undefined) continue
        const healthy = segment.pieces.filter((p) => this.isHealthy(p.nodeId, now)).map((p) => p.pieceIndex)
        const departing = segment.pieces.some((p) => this.#c.reputation.isDeparting(p.nodeId))
        if (departing || healthy.length < (this.#s.repairBelow ?? targetPieces(segment, settings))) {
          risks.push({ segment, settings, healthy, reason: 'redundancy' })
          continue
        }
        const labels = segment.pieces.filter((p) => healthy.includes(p.pieceIndex)).map((p) => this.#c.registry.get(p.nodeId)!).map(labelsOf)
        if (!checkPlacement(labels, segment.k, settings.policy).ok) risks.push({ segment, settings, healthy, reason: 'policy' })
        else if (segment.underPlaced) settled.push(segment)
      }
    }
    risks.sort((a, b) => (a.healthy.length - a.segment.k) - (b.healthy.length - b.segment.k) ||
      (a.reason === b.reason ? 0 : a.reason === 'redundancy' ? -1 : 1))
    return { checked, risks, settled }
  }

  /** One checker pass and the repairs it calls for (joins a pass already running). */
  async runPass (): Promise<RepairPassReport> {
    this.#running ??= this.#pass().finally(() => { this.#running = undefined })
    return await this.#running
  }

  async #pass (): Promise<RepairPassReport> {
    const { checked, risks, settled } = await this.check()
    for (const segment of settled) {
      await this.#c.metadata.replacePieces(segment.uploadId, segment.index, [], { underPlaced: false, placementNote: '' })
    }
    const atRisk = risks.filter((r) => r.reason === 'redundancy').length
    const report = { checked, atRisk, policyViolations: risks.length - atRisk, repaired: 0, failed: 0, unrepairable: 0, piecesRebuilt: 0, bytesRebuilt: 0, bytesMoved: 0, exited: [] as string[] }
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < risks.length) {
        const risk = risks[next++]
        if (risk.healthy.length < risk.segment.k && !this.#readable(risk.segment)) {
          report.unrepairable++
          continue
        }
        try {
          const result = await this.repairSegment(risk)
          if (result.rebuilt > 0) report.repaired++
          report.piecesRebuilt += result.rebuilt
          report.bytesRebuilt += result.rebuilt * risk.segment.shardSize
          report.bytesMoved += result.moved
        } catch (err) {
          report.failed++
          this.#c.logger.warn('repair of a segment failed; it will be retried next pass', { bucket: risk.segment.bucket, key: risk.segment.key, segment: risk.segment.index, err })
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(this.#s.concurrency, Math.max(1, risks.length)) }, worker))
    report.exited.push(...await this.#finishExits())
    if (report.repaired > 0 || report.failed > 0 || report.unrepairable > 0) {
      this.#c.logger.info('repair pass', { checked, atRisk, policyViolations: report.policyViolations, repaired: report.repaired, failed: report.failed, unrepairable: report.unrepairable, bytesRebuilt: report.bytesRebuilt })
    }
    this.#totals = {
      passes: this.#totals.passes + 1,
      repaired: this.#totals.repaired + report.repaired,
      piecesRebuilt: this.#totals.piecesRebuilt + report.piecesRebuilt,
      bytesRebuilt: this.#totals.bytesRebuilt + report.bytesRebuilt,
      lastPassAt: Date.now(),
      atRisk
    }
    return report
  }

  /** Whether k pieces are at least reachable (healthy or not: an exiting node still serves its pieces). */
  #readable (segment: StoredSegmentRecord): boolean {
    return segment.pieces.filter((p) => this.#c.registry.get(p.nodeId)?.online === true).length >= segment.k
  }

  /** Rebuilds and re-places what `risk` calls for. Returns pieces rebuilt and bytes moved. */
  async repairSegment (risk: SegmentRisk): Promise<{ rebuilt: number, moved: number }> {
    const { segment, settings } = risk
    const total = targetPieces(segment, settings)
    const keptPieces = segment.pieces.filter((p) => risk.healthy.includes(p.pieceIndex))
    // Rebuild until the segment has its target count again: first the indexes whose pieces are on
    // unhealthy nodes (so their rows move off those nodes), then indexes with no piece at all.
    const unhealthy = segment.pieces.filter((p) => !risk.healthy.includes(p.pieceIndex)).map((p) => p.pieceIndex)
    const absent: number[] = []
    for (let i = 0; i < segment.k + segment.m; i++) if (!segment.pieces.some((p) => p.pieceIndex === i)) absent.push(i)
    const rebuild = [...unhealthy, ...absent].slice(0, Math.max(0, total - keptPieces.length))
    const exclude = new Set(segment.pieces.map((p) => p.nodeId))
    const plan = planRepairPlacement(this.#c.broker.candidates(), {
      k: segment.k,
      total,
      policy: settings.policy,
      pieceBytes: segment.shardSize,
      kept: keptPieces.map((p) => ({ pieceIndex: p.pieceIndex, nodeId: p.nodeId, labels: labelsOf(this.#c.registry.get(p.nodeId)!) })),
      rebuild,
      exclude
    }, Math.random)
    if (plan.targets.length === 0 && keptPieces.length >= total && segment.pieces.some((p) => this.#c.reputation.isDeparting(p.nodeId))) {
      // Whole without the departing pieces: just forget them.
      const drops = segment.pieces.filter((p) => this.#c.reputation.isDeparting(p.nodeId))
      const swapped = await this.#c.metadata.replacePieces(segment.uploadId, segment.index,
        drops.map((p) => ({ pieceIndex: p.pieceIndex, expectedPieceId: p.pieceId, piece: null })), { underPlaced: segment.underPlaced, placementNote: segment.placementNote })
      if (swapped) await this.#deletePieces({ ...segment, pieces: drops })
      return { rebuilt: 0, moved: 0 }
    }
    if (plan.targets.length === 0) {
      this.#c.logger.info('no node can take a rebuilt piece now', { bucket: segment.bucket, key: segment.key, segment: segment.index, rebuild })
      return { rebuilt: 0, moved: 0 }
    }

    await this.#throttle((segment.k + plan.targets.length) * segment.shardSize)
    const components: SegmentComponents = { broker: this.#c.broker, pieces: this.#c.pieces, codec: this.#c.codec, logger: this.#c.logger }
    const { shards, present } = await fetchShards(components, segment, undefined, undefined, { onlineOnly: true })
    if (present.some((p) => !p)) await this.#c.codec(segment.k, segment.m).reconstruct(shards, present)

    // Upload each rebuilt shard; a node that fails is replaced by another candidate once.
    const uploaded: Array<{ pieceIndex: number, grant: PieceGrant, hash: string }> = []
    const used = new Set([...exclude, ...plan.targets.map((t) => t.node.id)])
    await Promise.all(plan.targets.map(async (target) => {
      let nodeId = target.node.id
      for (let attempt = 0; attempt < 2; attempt++) {
        const grant = this.#c.broker.grantPut(nodeId, segment.shardSize)
        try {
          const hash = await this.#c.pieces.upload(grant, shards[target.pieceIndex])
          uploaded.push({ pieceIndex: target.pieceIndex, grant, hash })
          return
        } catch (err) {
          this.#c.logger.warn('repair upload failed; trying another node', { node: nodeId, err })
          const spare = this.#c.broker.candidates(used).find((c) => c.freeBytes >= segment.shardSize)
          if (spare === undefined) return
          used.add(spare.id)
          nodeId = spare.id
        }
      }
    }))
    if (uploaded.length === 0) throw new Error('no rebuilt piece could be stored')

    const byIndex = new Map(segment.pieces.map((p) => [p.pieceIndex, p]))
    const replacements: PieceReplacement[] = uploaded.map((u) => ({
      pieceIndex: u.pieceIndex,
      expectedPieceId: byIndex.get(u.pieceIndex)?.pieceId,
      piece: { pieceIndex: u.pieceIndex, nodeId: u.grant.nodeId, pieceId: u.grant.pieceId, size: segment.shardSize, hash: u.hash }
    }))
    const replaced = new Set(uploaded.map((u) => u.pieceIndex))
    // Pieces on departing nodes that were not replaced are dropped once the segment is whole again.
    if (keptPieces.length - plan.moved.length + uploaded.length >= total) {
      for (const p of segment.pieces) {
        if (!replaced.has(p.pieceIndex) && this.#c.reputation.isDeparting(p.nodeId)) {
          replacements.push({ pieceIndex: p.pieceIndex, expectedPieceId: p.pieceId, piece: null })
          replaced.add(p.pieceIndex)
        }
      }
    }
    const finalLabels = [
      ...segment.pieces.filter((p) => !replaced.has(p.pieceIndex) && risk.healthy.includes(p.pieceIndex)).map((p) => labelsOf(this.#c.registry.get(p.nodeId)!)),
      ...uploaded.map((u) => u.grant.labels)
    ]
    const check = checkPlacement(finalLabels, segment.k, settings.policy)
    const swapped = await this.#c.metadata.replacePieces(segment.uploadId, segment.index, replacements, {
      underPlaced: !check.ok,
      placementNote: check.ok ? '' : describeUnmet(check, segment.k, settings.policy.margin)
    })
    if (!swapped) {
      // Deleted or changed meanwhile: the new pieces are garbage now.
      this.#c.logger.info('segment changed during its repair; the rebuilt pieces are dropped', { bucket: segment.bucket, key: segment.key, segment: segment.index })
      await this.#deletePieces({ ...segment, pieces: replacements.flatMap((r) => r.piece === null ? [] : [r.piece]) })
      return { rebuilt: 0, moved: 0 }
    }
    await this.#deletePieces({ ...segment, pieces: segment.pieces.filter((p) => replaced.has(p.pieceIndex)) })
    return { rebuilt: uploaded.length, moved: (segment.k + uploaded.length) * segment.shardSize }
  }

  /** Best effort: pieces on nodes that are offline now are removed by garbage collection later. */
  async #deletePieces (segment: StoredSegmentRecord): Promise<void> {
    if (segment.pieces.length === 0) return
    const grants = await this.#c.broker.planDownload(segment, 'delete')
    await Promise.all(grants.filter((g) => g.online).map(async (g) => {
      try {
        await this.#c.pieces.delete(g)
      } catch (err) {
        this.#c.logger.debug('could not delete a replaced piece; garbage collection will', { node: g.nodeId, piece: g.pieceId, err })
      }
    }))
  }

  /** Nodes asked to exit whose pieces have all been moved are marked exited. */
  async #finishExits (): Promise<string[]> {
    const done: string[] = []
    for (const node of this.#c.registry.list()) {
      if (this.#c.reputation.get(node.id).exitState !== 'exiting') continue
      if ((await this.#c.metadata.piecesOfNode(node.id, '', 1)).length > 0) continue
      await this.#c.reputation.setExit(node.id, 'exited')
      this.#c.logger.info('node exit complete: it holds no pieces any more', { node: node.id })
      done.push(node.id)
    }
    return done
  }

  /** Waits so that moved bytes stay within the bandwidth setting. */
  async #throttle (bytes: number): Promise<void> {
    if (this.#s.bandwidth <= 0) return
    const now = Date.now()
    const start = Math.max(now, this.#budgetAt)
    this.#budgetAt = start + bytes / this.#s.bandwidth * 1000
    if (start > now) await new Promise((resolve) => setTimeout(resolve, start - now))
  }
}
