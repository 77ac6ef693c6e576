/**
 * Reputation rules. Expected scores are worked out by hand from the beta-reputation recurrence
 * (alpha' = 0.95·alpha + good, beta' = 0.95·beta + bad), not taken from the code under test.
 */
import { describe, expect, it } from 'vitest'
import { applyAudit, auditScore, DEFAULT_REPUTATION, newReputation, unknownScore, withStanding } from '../../src/coordinator/reputation.js'
import type { ReputationRecord } from '../../src/metadata/metadata-store.js'

const ok = { kind: 'success', latencyMs: 10 } as const
const bad = { kind: 'failure', reason: 'corrupt' } as const
const flaky = { kind: 'unknown', reason: 'HTTP 500' } as const

function run (r: ReputationRecord, outcomes: ReadonlyArray<Parameters<typeof applyAudit>[1]>, now = 1000): ReputationRecord {
  for (const o of outcomes) r = applyAudit(r, o, now)
  return r
}

describe('reputation', () => {
  it('starts vetting with perfect scores and is vetted after 10 passed audits', () => {
    let r = newReputation('n', 0)
    expect([r.standing, auditScore(r), unknownScore(r), r.uptimeScore]).toEqual(['vetting', 1, 1, 1])
    r = run(r, Array(9).fill(ok))
    expect(r.standing).toBe('vetting')
    r = run(r, [ok])
    expect(r.standing).toBe('active')
    expect([r.audits, r.auditSuccesses]).toEqual([10, 10])
  })

  it('computes the beta score by the recurrence', () => {
    // (1, 0) → success: (1.95, 0) → failure: (1.8525, 1) → score 1.8525 / 2.8525
    const r = run(newReputation('n', 0), [ok, bad])
    expect(r.auditAlpha).toBeCloseTo(1.8525, 10)
    expect(r.auditBeta).toBeCloseTo(1, 10)
    expect(auditScore(r)).toBeCloseTo(1.8525 / 2.8525, 10)
  })

  it('survives a single failure after a clean record, and is disqualified after repeated ones', () => {
    let r = run(newReputation('n', 0), Array(60).fill(ok))
    // alpha after 60 successes from 1: 0.95^60 + (1 − 0.95^60)/0.05 ≈ 19.05; one failure: score = 0.95·α/(0.95·α + 1) ≈ 0.948
    r = run(r, [bad])
    expect(r.standing).toBe('active')
    expect(auditScore(r)).toBeCloseTo(0.95 * 19.0786 / (0.95 * 19.0786 + 1), 2)
    let failures = 1
    while (r.standing !== 'disqualified' && failures < 100) { r = run(r, [bad]); failures++ }
    // score after n failures from (α, 0): 0.95^n·α / (0.95^n·α + (1 − 0.95^n)/0.05) < 0.6 first at n = 10 (α ≈ 19.08)
    expect(failures).toBe(10)
    expect(r.standingReason).toMatch(/audit score 0\.\d\d fell below 0.6/)
    // Terminal.
    expect(run(r, Array(100).fill(ok)).standing).toBe('disqualified')
  })

  it('suspends on unknown outcomes, reinstates on recovery, disqualifies after the grace', () => {
    let r = run(newReputation('n', 0), Array(20).fill(ok))
    while (r.standing !== 'suspended') r = run(r, [flaky])
    expect(auditScore(r)).toBe(1) // unknown outcomes never touch the audit score
    const since = r.standingSince
    r = run(r, Array(20).fill(ok), since + 1)
    expect(r.standing).toBe('active')
    while (r.standing !== 'suspended') r = run(r, [flaky], since + 2)
    expect(withStanding(r, since + 2 + DEFAULT_REPUTATION.suspensionGraceMs - 1).standing).toBe('suspended')
    expect(withStanding(r, since + 3 + DEFAULT_REPUTATION.suspensionGraceMs).standing).toBe('disqualified')
  })

  it('counts offline audits against uptime only', () => {
    const r = run(newReputation('n', 0), [{ kind: 'offline' }, { kind: 'offline' }])
    expect(r.uptimeScore).toBeCloseTo(0.9025, 10) // 1 → 0.95 → 0.9025
    expect([r.audits, r.auditOffline, r.standing]).toEqual([0, 2, 'vetting'])
  })
})
