/**
 * Durability as one part of the coordinator: the reputation book, the auditor, the repairer and the
 * garbage collector, each run on its own timer (0 = only on request), plus node exit and the risk
 * report the API serves. Timers never overlap a pass with itself.
 */
import type { Identity } from '../crypto/identity.js'
import type { ErasureCodec } from '../erasure/index.js'
import type { MetadataStore } from '../metadata/metadata-store.js'
import type { PieceClient } from '../gateway/piece-client.js'
import { PARTS_BUCKET } from '../gateway/s3/multipart.js'
import { asnOf, dryRunOutage, riskReport, type OutageDomain, type OutageImpact, type RiskInput, type RiskReport, type RiskSegment } from '../risk/index.js'
import type { Logger } from '../util/logger.js'
import { Auditor, type AuditRoundReport } from './auditor.js'
import type { CoordinatorBroker } from './broker.js'
import { GarbageCollector, type GcPassReport } from './garbage-collector.js'
import type { NodeRegistry } from './registry.js'
import { Repairer, type RepairPassReport } from './repairer.js'
import { ReputationBook } from './reputation-book.js'
import type { ReputationSettings } from './reputation.js'

export const AUDIT_INTERVAL_MS = 30_000
export const REPAIR_INTERVAL_MS = 60_000
export const GC_INTERVAL_MS = 10 * 60_000

export interface DurabilityInit {
  /** Between audit rounds (0: only on request). */
  readonly auditIntervalMs?: number
  readonly auditPiecesPerRound?: number
  readonly repairIntervalMs?: number
  readonly repairGraceMs?: number
  readonly repairConcurrency?: number
  readonly repairBandwidth?: number
  readonly gcIntervalMs?: number
  readonly gcGraceMs?: number
  readonly reputation?: Partial<ReputationSettings>
}

export interface DurabilityComponents {
  readonly metadata: MetadataStore
  readonly registry: NodeRegistry
  readonly broker: CoordinatorBroker
  readonly pieces: PieceClient
  readonly identity: Identity
  readonly codec: (k: number, m: number) => ErasureCodec
  readonly logger: Logger
}

export class Durability {
  readonly reputation: ReputationBook
  readonly auditor: Auditor
  readonly repairer: Repairer
  readonly gc: GarbageCollector
  readonly #init: DurabilityInit
  readonly #c: DurabilityComponents
  readonly #timers: NodeJS.Timeout[] = []
  #lastGc: GcPassReport | undefined

  constructor (init: DurabilityInit, components: DurabilityComponents, reputation: ReputationBook) {
    this.#init = init
    this.#c = components
    this.reputation = reputation
    const { metadata, registry, broker, pieces, logger } = components
    this.auditor = new Auditor({ piecesPerRound: init.auditPiecesPerRound }, { metadata, registry, broker, pieces, reputation, logger: logger.child('audit') })
    this.repairer = new Repairer({ graceMs: init.repairGraceMs, concurrency: init.repairConcurrency, bandwidth: init.repairBandwidth },
      { metadata, registry, broker, pieces, reputation, codec: components.codec, logger: logger.child('repair') })
    this.gc = new GarbageCollector({ graceMs: init.gcGraceMs }, { metadata, registry, pieces, identity: components.identity, logger: logger.child('gc') })
  }

  /** Starts the timers. */
  start (): void {
    const every = (ms: number | undefined, fallback: number, run: () => Promise<unknown>): void => {
      const interval = ms ?? fallback
      if (interval <= 0) return
      const timer = setInterval(() => { run().catch((err: unknown) => { this.#c.logger.error('durability task failed', { err }) }) }, interval)
      timer.unref()
      this.#timers.push(timer)
    }
    every(this.#init.auditIntervalMs, AUDIT_INTERVAL_MS, async () => { await this.audit(); await this.reputation.refresh() })
    every(this.#init.repairIntervalMs, REPAIR_INTERVAL_MS, async () => await this.repair())
    every(this.#init.gcIntervalMs, GC_INTERVAL_MS, async () => await this.collect())
  }

  stop (): void {
    for (const t of this.#timers.splice(0)) clearInterval(t)
  }

  async audit (): Promise<AuditRoundReport> { return await this.auditor.runRound() }
  async repair (): Promise<RepairPassReport> { return await this.repairer.runPass() }
  async collect (): Promise<GcPassReport> {
    this.#lastGc = await this.gc.runPass()
    return this.#lastGc
  }

  /** Starts a graceful exit: no new pieces; repair moves its pieces away; then it is 'exited'. */
  async exit (nodeId: string): Promise<void> {
    await this.reputation.setExit(nodeId, 'exiting')
    this.#c.logger.info('node exit requested: moving its pieces away', { node: nodeId })
  }

  /** What `shoal status` and the dashboard show about durability. */
  summary (): unknown {
    const audits = this.auditor.totals
    return {
      audits: { ...audits, bytesPerAudit: audits.audits === 0 ? 0 : Math.round(audits.bytes / audits.audits) },
      repair: { ...this.repairer.totals, graceMs: this.repairer.settings.graceMs },
      gc: { graceMs: this.gc.graceMs, last: this.#lastGc === undefined ? null : { ...this.#lastGc, nodes: undefined } }
    }
  }

  /** The concentration report over every visible object (or one bucket). */
  async risk (bucket?: string): Promise<RiskReport> {
    return riskReport(await this.#riskInput(bucket))
  }

  /** Which objects one domain's outage would make unavailable or lose, from metadata alone. */
  async outage (domain: OutageDomain): Promise<OutageImpact> {
    return dryRunOutage(await this.#riskInput(), domain)
  }

  async #riskInput (bucket?: string): Promise<RiskInput> {
    const { metadata, registry } = this.#c
    const nodes = registry.list().map((n) => ({
      id: n.id, provider: n.provider, region: n.region, operator: n.operator, country: n.country, asn: asnOf(n), capacityBytes: n.capacityBytes, online: n.online
    }))
    const segments: RiskSegment[] = []
    let after: { uploadId: string, index: number } | undefined
    for (;;) {
      const page = await metadata.listSegments(after, 1000)
      if (page.length === 0) break
      after = { uploadId: page[page.length - 1].uploadId, index: page[page.length - 1].index }
      for (const s of page) {
        if (s.bucket === PARTS_BUCKET || (bucket !== undefined && s.bucket !== bucket)) continue
        segments.push({ bucket: s.bucket, key: s.key, k: s.k, pieces: s.pieces.map((p) => ({ nodeId: p.nodeId, bytes: p.size })) })
      }
    }
    const stats = await metadata.stats()
    let objects = stats.objects
    if (bucket !== undefined) {
      objects = 0
      for (let page = await metadata.listObjects(bucket, { limit: 1000 }); page.length > 0; page = await metadata.listObjects(bucket, { limit: 1000, startAfter: page[page.length - 1].key })) objects += page.length
    } else {
      const parts = await metadata.listObjects(PARTS_BUCKET, { limit: 100_000 }).catch(() => [])
      objects -= parts.length
    }
    return { nodes, segments, objects, ...(bucket !== undefined ? { bucket } : {}) }
  }
}
