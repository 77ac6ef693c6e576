/**
 * Node reputation: what audits say about a node, and the standing that follows from it.
 *
 * Scores are beta reputations (as in Storj's audit system): each outcome decays the old evidence by
 * LAMBDA and adds one unit to alpha (good) or beta (bad); the score is alpha / (alpha + beta), 1 for a
 * node that never failed. With LAMBDA = 0.95 a node with a long clean record falls below 0.6 after
 * ten consecutive failures, while one failure (a single rotten block) costs only 5%.
 *
 * Standing, and what moves it (thresholds are ReputationSettings with these defaults):
 * - vetting: every new node. It gets at most one piece of a segment, and only when the segment can't
 *   be placed on vetted nodes alone or a VETTING_SHARE coin flip says so — a small share of new data
 *   until it has passed `vettingAudits` audits, then it is active.
 * - active: placement uses it freely.
 * - suspended: its unknown-audit score (audits it was online for but answered with errors or
 *   timeouts) fell below `suspendBelow`. It gets no new pieces; it is reinstated when the score
 *   recovers, and disqualified when it stays suspended longer than `suspensionGraceMs`.
 * - disqualified: its audit score (wrong bytes, missing pieces) fell below `disqualifyBelow`.
 *   Permanent: it gets no new pieces and its pieces are repaired elsewhere.
 * Being offline is not an audit failure: it lowers the uptime score (shown in `shoal status`), and a
 * node offline past the repair grace has its pieces rebuilt elsewhere (see repair.ts).
 */
import type { ReputationRecord } from '../metadata/metadata-store.js'

/** Weight kept by old evidence at each new audit. */
export const LAMBDA = 0.95

export interface ReputationSettings {
  /** Audits a new node must pass before it is active (default 10). */
  readonly vettingAudits: number
  /** Audit score below which a node is disqualified (default 0.6). */
  readonly disqualifyBelow: number
  /** Unknown-audit score below which a node is suspended (default 0.6). */
  readonly suspendBelow: number
  /** How long a node may stay suspended before it is disqualified (default 7 days). */
  readonly suspensionGraceMs: number
}

export const DEFAULT_REPUTATION: ReputationSettings = Object.freeze({
  vettingAudits: 10,
  disqualifyBelow: 0.6,
  suspendBelow: 0.6,
  suspensionGraceMs: 7 * 24 * 3600_000
})

/** Chance that a segment includes one vetting node even when vetted nodes alone could hold it. */
export const VETTING_SHARE = 0.05

export type AuditOutcome =
  | { readonly kind: 'success', readonly latencyMs: number }
  /** Wrong bytes, a proof that does not verify, or a piece the node should hold and doesn't. */
  | { readonly kind: 'failure', readonly reason: string }
  /** The node is up but answered with an error or not in time. */
  | { readonly kind: 'unknown', readonly reason: string }
  /** The node is offline. */
  | { readonly kind: 'offline' }

export function newReputation (nodeId: string, now: number): ReputationRecord {
  return {
    nodeId,
    standing: 'vetting',
    standingReason: '',
    standingSince: now,
    exitState: 'none',
    audits: 0,
    auditSuccesses: 0,
    auditFailures: 0,
    auditUnknown: 0,
    auditOffline: 0,
    auditAlpha: 1,
    auditBeta: 0,
    unknownAlpha: 1,
    unknownBeta: 0,
    uptimeScore: 1,
    latencyMs: 0,
    updatedAt: now
  }
}

export function auditScore (r: ReputationRecord): number {
  return r.auditAlpha / (r.auditAlpha + r.auditBeta)
}

export function unknownScore (r: ReputationRecord): number {
  return r.unknownAlpha / (r.unknownAlpha + r.unknownBeta)
}

/** The record after one audit outcome, with the standing the thresholds give. Pure. */
export function applyAudit (r: ReputationRecord, outcome: AuditOutcome, now: number, settings: ReputationSettings = DEFAULT_REPUTATION): ReputationRecord {
  let next: ReputationRecord = { ...r, updatedAt: now }
  const online = outcome.kind !== 'offline'
  next = { ...next, uptimeScore: LAMBDA * r.uptimeScore + (1 - LAMBDA) * (online ? 1 : 0) }
  switch (outcome.kind) {
    case 'offline':
      next = { ...next, auditOffline: r.auditOffline + 1 }
      break
    case 'success':
      next = {
        ...next,
        audits: r.audits + 1,
        auditSuccesses: r.auditSuccesses + 1,
        auditAlpha: LAMBDA * r.auditAlpha + 1,
        auditBeta: LAMBDA * r.auditBeta,
        unknownAlpha: LAMBDA * r.unknownAlpha + 1,
        unknownBeta: LAMBDA * r.unknownBeta,
        latencyMs: r.auditSuccesses === 0 ? outcome.latencyMs : 0.8 * r.latencyMs + 0.2 * outcome.latencyMs
      }
      break
    case 'failure':
      next = {
        ...next,
        audits: r.audits + 1,
        auditFailures: r.auditFailures + 1,
        auditAlpha: LAMBDA * r.auditAlpha,
        auditBeta: LAMBDA * r.auditBeta + 1
      }
      break
    case 'unknown':
      next = {
        ...next,
        audits: r.audits + 1,
        auditUnknown: r.auditUnknown + 1,
        unknownAlpha: LAMBDA * r.unknownAlpha,
        unknownBeta: LAMBDA * r.unknownBeta + 1
      }
      break
  }
  return withStanding(next, now, settings)
}

/** Applies the standing rules to a record whose counters changed (also used on a timer for suspensions). */
export function withStanding (r: ReputationRecord, now: number, settings: ReputationSettings = DEFAULT_REPUTATION): ReputationRecord {
  if (r.standing === 'disqualified') return r
  const set = (standing: ReputationRecord['standing'], reason: string): ReputationRecord =>
    standing === r.standing && reason === r.standingReason ? r : { ...r, standing, standingReason: reason, standingSince: standing === r.standing ? r.standingSince : now }
  const audit = auditScore(r)
  if (audit < settings.disqualifyBelow) {
    return set('disqualified', `audit score ${audit.toFixed(2)} fell below ${settings.disqualifyBelow} (${r.auditFailures} failed audits of ${r.audits})`)
  }
  const unknown = unknownScore(r)
  if (unknown < settings.suspendBelow) {
    if (r.standing === 'suspended' && now - r.standingSince > settings.suspensionGraceMs) {
      return set('disqualified', `suspended for longer than ${Math.round(settings.suspensionGraceMs / 3600_000)} h`)
    }
    return set('suspended', `unknown-audit score ${unknown.toFixed(2)} fell below ${settings.suspendBelow} (${r.auditUnknown} audits answered with errors)`)
  }
  return set(r.auditSuccesses >= settings.vettingAudits ? 'active' : 'vetting', '')
}
