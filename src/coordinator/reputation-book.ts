/**
 * The coordinator's reputation book: every node's ReputationRecord in memory, written through to
 * metadata on every change (so standing survives restarts). Placement, repair and `shoal status` ask
 * it; the auditor and node exit change it. Rules live in reputation.ts.
 */
import type { ExitState, MetadataStore, ReputationRecord } from '../metadata/metadata-store.js'
import type { Logger } from '../util/logger.js'
import { applyAudit, auditScore, DEFAULT_REPUTATION, newReputation, unknownScore, withStanding, type AuditOutcome, type ReputationSettings } from './reputation.js'

export class ReputationBook {
  readonly #records = new Map<string, ReputationRecord>()
  readonly #metadata: MetadataStore
  readonly #logger: Logger
  readonly #settings: ReputationSettings
  /** Writes in flight, chained per node so they land in order. */
  readonly #writes = new Map<string, Promise<void>>()

  constructor (settings: Partial<ReputationSettings>, components: { metadata: MetadataStore, logger: Logger }) {
    const given = Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined))
    this.#settings = { ...DEFAULT_REPUTATION, ...given }
    this.#metadata = components.metadata
    this.#logger = components.logger
  }

  get settings (): ReputationSettings { return this.#settings }

  async start (): Promise<void> {
    for (const r of await this.#metadata.listReputations()) this.#records.set(r.nodeId, r)
  }

  /** The node's record (a fresh vetting one for a node never audited). */
  get (nodeId: string): ReputationRecord {
    return this.#records.get(nodeId) ?? newReputation(nodeId, Date.now())
  }

  /** Whether placement may give the node new pieces at all. */
  acceptsPieces (nodeId: string): boolean {
    const r = this.#records.get(nodeId)
    if (r === undefined) return true
    return (r.standing === 'vetting' || r.standing === 'active') && r.exitState === 'none'
  }

  isVetted (nodeId: string): boolean {
    return this.#records.get(nodeId)?.standing === 'active'
  }

  /** Whether the node's pieces still count toward a segment's health (not disqualified, not leaving). */
  holdsHealthyPieces (nodeId: string): boolean {
    const r = this.#records.get(nodeId)
    return r === undefined || (r.standing !== 'disqualified' && r.exitState === 'none')
  }

  /** Whether the node is leaving for good (disqualified, exiting or exited): its pieces must move. */
  isDeparting (nodeId: string): boolean {
    const r = this.#records.get(nodeId)
    return r !== undefined && (r.standing === 'disqualified' || r.exitState !== 'none')
  }

  /** Records one audit outcome; logs standing changes. */
  async record (nodeId: string, outcome: AuditOutcome, now = Date.now()): Promise<ReputationRecord> {
    const before = this.get(nodeId)
    const after = applyAudit(before, outcome, now, this.#settings)
    this.#note(before, after)
    await this.#put(after)
    return after
  }

  /** Re-applies the standing rules (suspensions expire into disqualification with time). */
  async refresh (now = Date.now()): Promise<void> {
    for (const r of this.#records.values()) {
      const next = withStanding(r, now, this.#settings)
      if (next !== r) {
        this.#note(r, next)
        await this.#put(next)
      }
    }
  }

  async setExit (nodeId: string, exitState: ExitState): Promise<ReputationRecord> {
    const r = { ...this.get(nodeId), exitState, updatedAt: Date.now() }
    await this.#put(r)
    return r
  }

  /** For `shoal status`: the record plus its scores. */
  view (nodeId: string): ReputationRecord & { auditScore: number, unknownScore: number } {
    const r = this.get(nodeId)
    return { ...r, auditScore: auditScore(r), unknownScore: unknownScore(r) }
  }

  #note (before: ReputationRecord, after: ReputationRecord): void {
    if (before.standing === after.standing) return
    const level = after.standing === 'disqualified' || after.standing === 'suspended' ? 'warn' : 'info'
    this.#logger[level]('node standing changed', { node: after.nodeId, from: before.standing, to: after.standing, reason: after.standingReason })
  }

  async #put (r: ReputationRecord): Promise<void> {
    this.#records.set(r.nodeId, r)
    const previous = this.#writes.get(r.nodeId) ?? Promise.resolve()
    const write = previous.then(async () => { await this.#metadata.putReputation(this.#records.get(r.nodeId)!) })
    this.#writes.set(r.nodeId, write.catch(() => {}))
    await write
  }
}
