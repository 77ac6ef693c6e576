/**
 * Repair placement against a brute force: on small random networks, whenever some choice of nodes
 * for the rebuilt pieces satisfies the policy, planRepairPlacement finds one.
 */
import { describe, expect, it } from 'vitest'
import { checkPlacement } from '../../src/placement/check.js'
import { planRepairPlacement, type KeptPiece } from '../../src/placement/repair.js'
import type { Candidate, Labels, PlacementPolicy } from '../../src/placement/placement.js'
import { seededRandom } from '../helpers/random.js'

const policy: PlacementPolicy = { dimensions: ['provider', 'region', 'operator'], margin: 0 }


function labels (random: () => number, id: number): Labels {
  const pick = (n: number, p: string): string => `${p}${Math.floor(random() * n)}`
  return { provider: pick(3, 'p'), region: pick(3, 'r'), operator: random() < 0.5 ? `o${id}` : pick(2, 'shared'), subnet: '10.0.0.0/24' }
}

function combinations<T> (items: readonly T[], n: number): T[][] {
  if (n === 0) return [[]]
  const out: T[][] = []
  items.forEach((item, i) => { for (const rest of combinations(items.slice(i + 1), n - 1)) out.push([item, ...rest]) })
  return out
}

describe('planRepairPlacement', () => {
  it('finds a policy-satisfying placement whenever one exists (random networks vs brute force)', () => {
    let feasibleSeen = 0
    for (let seed = 1; seed <= 400; seed++) {
      const random = seededRandom(seed)
      const nodes: Candidate[] = Array.from({ length: 6 + Math.floor(random() * 9) }, (_, i) => ({ id: `n${i}`, labels: labels(random, i), freeBytes: 1e9 * (1 + random()) }))
      const k = 4
      const total = 6
      // Kept pieces on distinct nodes that respect the caps on their own (at most 2 per value).
      const kept: KeptPiece[] = []
      for (const n of nodes) {
        if (kept.length >= total - 1 || random() < 0.4) continue
        const next = [...kept.map((p) => p.labels), n.labels]
        if (policy.dimensions.every((d) => next.filter((l) => l[d] === n.labels[d]).length <= 2)) kept.push({ pieceIndex: kept.length, nodeId: n.id, labels: n.labels })
      }
      const rebuild = Array.from({ length: total - kept.length }, (_, i) => kept.length + i)
      const pool = nodes.filter((n) => !kept.some((p) => p.nodeId === n.id))
      const feasible = pool.length >= rebuild.length && combinations(pool, rebuild.length)
        .some((choice) => checkPlacement([...kept.map((p) => p.labels), ...choice.map((c) => c.labels)], k, policy).ok)
      const plan = planRepairPlacement(nodes, { k, total, policy, pieceBytes: 1, kept, rebuild }, random)
      const ids = plan.targets.map((t) => t.node.id)
      expect(new Set(ids).size).toBe(ids.length)
      expect(ids.some((id) => kept.some((p) => p.nodeId === id))).toBe(false)
      // Moves (kept pieces re-placed) happen only when they make the placement better.
      for (const i of plan.moved) expect(kept.some((p) => p.pieceIndex === i)).toBe(true)
      if (plan.moved.length === 0) expect(plan.targets.length).toBe(Math.min(rebuild.length, pool.length))
      else expect(plan.targets.map((t) => t.pieceIndex).sort()).toEqual([...rebuild, ...plan.moved].sort())
      const stay = kept.filter((p) => !plan.moved.includes(p.pieceIndex))
      const result = checkPlacement([...stay.map((p) => p.labels), ...plan.targets.map((t) => t.node.labels)], k, policy)
      expect(plan.unmet).toEqual(result.unmet)
      if (feasible) {
        feasibleSeen++
        expect(result.ok, `seed ${seed}`).toBe(true)
      }
    }
    expect(feasibleSeen).toBeGreaterThan(50)
  })

  it('moves kept pieces off a crowded provider when the network allows it', () => {
    const l = (provider: string, region: string, operator: string): Labels => ({ provider, region, operator, subnet: 's' })
    const kept: KeptPiece[] = [
      { pieceIndex: 0, nodeId: 'a1', labels: l('aws', 'r1', 'o1') },
      { pieceIndex: 1, nodeId: 'a2', labels: l('aws', 'r2', 'o2') },
      { pieceIndex: 2, nodeId: 'a3', labels: l('aws', 'r3', 'o3') },
      { pieceIndex: 3, nodeId: 'h1', labels: l('hetzner', 'r1', 'o4') }
    ]
    const nodes: Candidate[] = [
      ...kept.map((p) => ({ id: p.nodeId, labels: p.labels, freeBytes: 1e9 })),
      { id: 'h2', labels: l('hetzner', 'r2', 'o5'), freeBytes: 1e9 },
      { id: 'x1', labels: l('home', 'r3', 'o6'), freeBytes: 1e9 },
      { id: 'x2', labels: l('home', 'r3', 'o7'), freeBytes: 1e9 }
    ]
    const plan = planRepairPlacement(nodes, { k: 4, total: 6, policy, pieceBytes: 1, kept, rebuild: [4, 5] }, seededRandom(7))
    expect(plan.moved).toEqual([2])
    expect(plan.unmet).toEqual([])
    expect(plan.targets.map((t) => t.pieceIndex).sort()).toEqual([2, 4, 5])
  })

  it('returns the best it can, saying what is unmet, when a provider is missing', () => {
    const l = (provider: string, region: string): Labels => ({ provider, region, operator: `${provider}-${region}`, subnet: 's' })
    const nodes: Candidate[] = ['r1', 'r2', 'r3'].flatMap((r) => [{ id: `a-${r}`, labels: l('aws', r), freeBytes: 1e9 }, { id: `h-${r}`, labels: l('hetzner', r), freeBytes: 1e9 }])
    const kept: KeptPiece[] = [{ pieceIndex: 0, nodeId: 'a-r1', labels: l('aws', 'r1') }, { pieceIndex: 1, nodeId: 'h-r2', labels: l('hetzner', 'r2') }]
    const plan = planRepairPlacement(nodes, { k: 4, total: 6, policy, pieceBytes: 1, kept, rebuild: [2, 3, 4, 5] }, seededRandom(3))
    expect(plan.targets).toHaveLength(4)
    expect(plan.unmet).toEqual(['provider'])
  })
})
