/**
 * Continuous audits. Each round challenges every node the same number of times (regardless of how
 * much it stores): for each node the next `piecesPerRound` pieces of a cursor that walks its pieces in
 * piece-id order, each for one random 8 KiB block, which the node answers with the block and its Merkle
 * path — verified against the root kept in metadata, a few KiB per audit. A cursor visits every piece,
 * so a rotten or missing piece is found within ceil(pieces on the node / piecesPerRound) rounds.
 *
 * Outcomes feed the reputation book. A piece that fails (wrong bytes, or the node says it has none) is
 * removed from the segment's record at once, so the repair checker rebuilds it elsewhere.
 */
import { randomInt } from 'node:crypto'
import { leafCount } from '../crypto/merkle.js'
import type { MetadataStore } from '../metadata/metadata-store.js'
import type { PieceTransport } from '../gateway/broker.js'
import { PieceTransferError } from '../gateway/errors.js'
import type { Logger } from '../util/logger.js'
import type { CoordinatorBroker } from './broker.js'
import type { NodeRegistry } from './registry.js'
import type { ReputationBook } from './reputation-book.js'
import type { AuditOutcome } from './reputation.js'

/** Pieces audited per node per round. */
export const AUDIT_PIECES_PER_ROUND = 2
/** Nodes audited at once. */
const AUDIT_CONCURRENCY = 8

export interface AuditorComponents {
  readonly metadata: MetadataStore
  readonly registry: NodeRegistry
  readonly broker: CoordinatorBroker
  readonly pieces: PieceTransport
  readonly reputation: ReputationBook
  readonly logger: Logger
}

export interface AuditRoundReport {
  readonly nodes: number
  readonly audits: number
  readonly successes: number
  readonly failures: number
  readonly unknown: number
  readonly offline: number
  /** Bytes the audits moved (challenge replies). */
  readonly bytes: number
  /** Failed audits: node, piece, why. */
  readonly failed: ReadonlyArray<{ readonly nodeId: string, readonly pieceId: string, readonly reason: string }>
}

/** A round's report while it is being counted. */
type Tally = { -readonly [K in keyof AuditRoundReport]: K extends 'failed' ? Array<AuditRoundReport['failed'][number]> : AuditRoundReport[K] }

export interface AuditTotals {
  readonly rounds: number
  readonly audits: number
  readonly failures: number
  readonly bytes: number
}

export class Auditor {
  readonly #c: AuditorComponents
  readonly #piecesPerRound: number
  readonly #cursors = new Map<string, string>()
  #totals: AuditTotals = { rounds: 0, audits: 0, failures: 0, bytes: 0 }
  #running: Promise<AuditRoundReport> | undefined

  constructor (init: { piecesPerRound?: number }, components: AuditorComponents) {
    this.#c = components
    this.#piecesPerRound = init.piecesPerRound ?? AUDIT_PIECES_PER_ROUND
  }

  get totals (): AuditTotals { return this.#totals }

  /** Audits every known node once (joins a round already running). */
  async runRound (): Promise<AuditRoundReport> {
    this.#running ??= this.#round().finally(() => { this.#running = undefined })
    return await this.#running
  }

  async #round (): Promise<AuditRoundReport> {
    const nodes = this.#c.registry.list().filter((n) => this.#c.reputation.get(n.id).exitState !== 'exited')
    const report: Tally = { nodes: nodes.length, audits: 0, successes: 0, failures: 0, unknown: 0, offline: 0, bytes: 0, failed: [] }
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < nodes.length) {
        const node = nodes[next++]
        try {
          await this.#auditNode(node.id, node.online, report)
        } catch (err) {
          this.#c.logger.error('audit of a node failed', { node: node.id, err })
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(AUDIT_CONCURRENCY, nodes.length) }, worker))
    this.#totals = {
      rounds: this.#totals.rounds + 1,
      audits: this.#totals.audits + report.audits,
      failures: this.#totals.failures + report.failures,
      bytes: this.#totals.bytes + report.bytes
    }
    if (report.failures > 0) this.#c.logger.warn('audit round found failures', { audits: report.audits, failures: report.failures })
    return report
  }

  async #auditNode (nodeId: string, online: boolean, report: Tally): Promise<void> {
    if (!online) {
      report.offline++
      await this.#c.reputation.record(nodeId, { kind: 'offline' })
      return
    }
    const cursor = this.#cursors.get(nodeId) ?? ''
    let pieces = await this.#c.metadata.piecesOfNode(nodeId, cursor, this.#piecesPerRound)
    if (pieces.length < this.#piecesPerRound && cursor !== '') {
      // Wrap around: the walk starts again from the first piece.
      const more = await this.#c.metadata.piecesOfNode(nodeId, '', this.#piecesPerRound - pieces.length)
      pieces = [...pieces, ...more.filter((p) => !pieces.some((q) => q.pieceId === p.pieceId))]
    }
    if (pieces.length === 0) return
    this.#cursors.set(nodeId, pieces[pieces.length - 1].pieceId)
    for (const piece of pieces) {
      const grant = this.#c.broker.grantAudit(nodeId, piece.pieceId, piece.size)
      if (grant === undefined) return
      const blocks = leafCount(piece.size)
      const block = blocks <= 1 ? 0 : randomInt(blocks)
      const started = performance.now()
      let outcome: AuditOutcome
      try {
        const { bytes } = await this.#c.pieces.audit(grant, block, { hash: piece.hash, size: piece.size })
        report.bytes += bytes
        outcome = { kind: 'success', latencyMs: performance.now() - started }
      } catch (err) {
        outcome = classify(err)
      }
      report.audits += outcome.kind === 'offline' ? 0 : 1
      if (outcome.kind === 'success') report.successes++
      else if (outcome.kind === 'offline') report.offline++
      else if (outcome.kind === 'unknown') report.unknown++
      else {
        report.failures++
        report.failed.push({ nodeId, pieceId: piece.pieceId, reason: outcome.reason })
        this.#c.logger.warn('audit failed: piece is lost or corrupt; it will be repaired', { node: nodeId, piece: piece.pieceId, reason: outcome.reason })
        await this.#c.metadata.removePiece(piece.uploadId, piece.segmentIndex, piece.pieceIndex, piece.pieceId)
        this.#c.broker.reportPieceFailure(nodeId, piece.pieceId, 'corrupt', outcome.reason)
      }
      await this.#c.reputation.record(nodeId, outcome)
      if (outcome.kind === 'offline') return
    }
  }
}

function classify (err: unknown): AuditOutcome {
  if (!(err instanceof PieceTransferError)) return { kind: 'unknown', reason: String(err) }
  switch (err.kind) {
    case 'corrupt': return { kind: 'failure', reason: err.message }
    case 'refused': return err.status === 404 ? { kind: 'failure', reason: err.message } : { kind: 'unknown', reason: err.message }
    case 'unreachable': return { kind: 'offline' }
    default: return { kind: 'unknown', reason: err.message }
  }
}
