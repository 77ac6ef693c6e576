import { describe, expect, it } from 'vitest'
import {
  DEFAULT_POLICY, InvalidPlacementRequestError, PlacementError, selectNodes
} from '../../src/placement/index.js'
import type { Candidate, PlacementRequest } from '../../src/placement/index.js'
import { GiB, MiB, bruteUnmet, nineNodeNetwork, node, seededRandom, tally } from './helpers.js'

const K4_OF_6: PlacementRequest = {
  k: 4, total: 6, spares: 0, pieceBytes: 16 * MiB, policy: DEFAULT_POLICY, mode: 'strict'
}

function ids (nodes: readonly Candidate[]): string[] {
  return nodes.map(n => n.id)
}

function expectError (fn: () => unknown, name: string): Error {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(Error)
    expect((err as Error).name).toBe(name)
    return err as Error
  }
  throw new Error(`expected ${name}, nothing was thrown`)
}

describe('selectNodes on the 3 providers × 3 regions network', () => {
  it('always puts at most 2 pieces on each provider and each region', () => {
    const network = nineNodeNetwork()
    for (let seed = 1; seed <= 300; seed++) {
      const result = selectNodes(network, K4_OF_6, seededRandom(seed))
      expect(result.nodes).toHaveLength(6)
      expect(new Set(ids(result.nodes)).size).toBe(6)
      for (const d of ['provider', 'region'] as const) {
        const counts = tally(result.nodes.map(n => n.labels), d)
        expect([...counts.values()].every(c => c <= 2)).toBe(true)
        expect(counts.size).toBe(3)
      }
      expect(result.unmet).toEqual([])
      expect(result.reason).toBeUndefined()
      expect(result.spares).toEqual([])
    }
  })

  it('repeats exactly for the same seed and varies across seeds', () => {
    const network = nineNodeNetwork()
    const a = ids(selectNodes(network, K4_OF_6, seededRandom(42)).nodes)
    const b = ids(selectNodes(network, K4_OF_6, seededRandom(42)).nodes)
    expect(a).toEqual(b)
    const seen = new Set<string>()
    for (let seed = 1; seed <= 50; seed++) seen.add(ids(selectNodes(network, K4_OF_6, seededRandom(seed)).nodes).sort().join())
    expect(seen.size).toBeGreaterThan(3)
  })

  it('finds the same kind of placement through the exact search alone', () => {
    const network = nineNodeNetwork()
    for (let seed = 1; seed <= 50; seed++) {
      const result = selectNodes(network, K4_OF_6, seededRandom(seed), { greedyAttempts: 0 })
      expect(new Set(ids(result.nodes)).size).toBe(6)
      expect(bruteUnmet(result.nodes.map(n => n.labels), 4, 0, ['provider', 'region', 'operator'])).toEqual([])
    }
  })

  it('adds spares on nodes not already used, up to what the network has', () => {
    const network = nineNodeNetwork()
    const result = selectNodes(network, { ...K4_OF_6, spares: 2 }, seededRandom(7))
    expect(result.spares).toHaveLength(2)
    const all = [...ids(result.nodes), ...ids(result.spares)]
    expect(new Set(all).size).toBe(8)
    const more = selectNodes(network, { ...K4_OF_6, spares: 10 }, seededRandom(7))
    expect(more.spares).toHaveLength(3)
    expect(new Set([...ids(more.nodes), ...ids(more.spares)]).size).toBe(9)
  })

  describe('with one provider gone', () => {
    const twoProviders = nineNodeNetwork().filter(n => n.labels.provider !== 'hetzner')

    it('strict mode throws a PlacementError naming the online providers', () => {
      const err = expectError(() => selectNodes(twoProviders, K4_OF_6, seededRandom(1)), 'PlacementError')
      expect(err).toBeInstanceOf(PlacementError)
      expect(err.message).toContain('policy needs 3 providers; 2 are online: aws, gcp')
      expect((err as PlacementError).unmet).toEqual(['provider'])
    })

    it('best-effort keeps region, gives up provider and splits 3/3', () => {
      for (let seed = 1; seed <= 100; seed++) {
        const result = selectNodes(twoProviders, { ...K4_OF_6, mode: 'best-effort' }, seededRandom(seed))
        expect(result.nodes).toHaveLength(6)
        expect(new Set(ids(result.nodes)).size).toBe(6)
        expect(result.unmet).toEqual(['provider'])
        expect(result.reason).toContain('policy needs 3 providers; 2 are online: aws, gcp')
        const providers = tally(result.nodes.map(n => n.labels), 'provider')
        expect([...providers.values()]).toEqual([3, 3])
        const regions = tally(result.nodes.map(n => n.labels), 'region')
        expect([...regions.values()].every(c => c === 2)).toBe(true)
      }
    })
  })
})

describe('selectNodes failures', () => {
  it('throws in both modes when there are fewer nodes than pieces', () => {
    const five = nineNodeNetwork().slice(0, 5)
    for (const mode of ['strict', 'best-effort'] as const) {
      const err = expectError(() => selectNodes(five, { ...K4_OF_6, mode }, seededRandom(1)), 'PlacementError')
      expect(err.message).toBe('needs 6 nodes; 5 are online')
    }
  })

  it('skips nodes without room for a piece and says so when too few are left', () => {
    const network = nineNodeNetwork().map((n, i) => ({ ...n, freeBytes: i < 4 ? 16 * MiB : 16 * MiB - 1 }))
    const err = expectError(() => selectNodes(network, { ...K4_OF_6, mode: 'best-effort' }, seededRandom(1)), 'PlacementError')
    expect(err.message).toBe('needs 6 nodes with 16.0 MiB free; 4 of the 9 online nodes have that much room')

    const roomy = nineNodeNetwork().map((n, i) => ({ ...n, freeBytes: i === 0 ? MiB : GiB }))
    for (let seed = 1; seed <= 50; seed++) {
      const result = selectNodes(roomy, { ...K4_OF_6, spares: 3 }, seededRandom(seed))
      expect([...ids(result.nodes), ...ids(result.spares)]).not.toContain('n1')
    }
  })

  it('refuses a policy no network can meet, even in best-effort mode', () => {
    const network = nineNodeNetwork()
    for (const mode of ['strict', 'best-effort'] as const) {
      const err = expectError(() => selectNodes(network, { ...K4_OF_6, total: 4, mode }, seededRandom(1)), 'PlacementError')
      expect(err.message).toContain('no network can meet this policy')
    }
  })

  it('explains a combination of dimensions that no set of nodes meets together', () => {
    // Every node is on provider A or in region x, so with at most 2 pieces per provider and per region
    // only 4 of the 5 pieces fit, although each dimension alone could hold 5.
    const network = [
      node('a1', { provider: 'A', region: 'y' }), node('a2', { provider: 'A', region: 'z' }),
      node('a3', { provider: 'A', region: 'w' }), node('b', { provider: 'B', region: 'x' }),
      node('c', { provider: 'C', region: 'x' }), node('d', { provider: 'D', region: 'x' })
    ]
    const request: PlacementRequest = { k: 3, total: 5, spares: 0, pieceBytes: 0, policy: DEFAULT_POLICY, mode: 'strict' }
    const err = expectError(() => selectNodes(network, request, seededRandom(3)), 'PlacementError')
    expect(err.message).toBe('no combination of the 6 online nodes satisfies provider and region together')
    expect((err as PlacementError).unmet).toEqual(['provider', 'region'])

    const result = selectNodes(network, { ...request, mode: 'best-effort' }, seededRandom(3))
    expect(result.unmet).toEqual(['region'])
    expect(result.reason).toBe(err.message)
    expect(Math.max(...tally(result.nodes.map(n => n.labels), 'provider').values())).toBe(2)
    expect(Math.max(...tally(result.nodes.map(n => n.labels), 'region').values())).toBe(3)
  })

  it('searches when three dimensions clash though every pair fits, and says when the search gave up', () => {
    // One piece per provider, region and operator. p0 forces d (r2, o0); p1 then must be c (r0, o1);
    // p2 would need r1 and o2, which no node has. Yet any two of the dimensions can be met.
    const network = [
      node('a', { provider: 'p2', region: 'r0', operator: 'o2' }), node('b', { provider: 'p2', region: 'r0', operator: 'o0' }),
      node('c', { provider: 'p1', region: 'r0', operator: 'o1' }), node('d', { provider: 'p0', region: 'r2', operator: 'o0' }),
      node('e', { provider: 'p2', region: 'r2', operator: 'o2' }), node('f', { provider: 'p1', region: 'r1', operator: 'o0' })
    ]
    const request: PlacementRequest = { k: 2, total: 3, spares: 0, pieceBytes: 0, policy: DEFAULT_POLICY, mode: 'strict' }
    const err = expectError(() => selectNodes(network, request, seededRandom(3)), 'PlacementError')
    expect(err.message).toBe('no combination of the 6 online nodes satisfies provider, region and operator together')
    const limited = expectError(() => selectNodes(network, request, seededRandom(3), { greedyAttempts: 0, maxSearchSteps: 1 }), 'PlacementError')
    expect(limited.message).toBe('no placement of 3 pieces over the 6 online nodes satisfying provider, region and ' +
      'operator together was found within the search limit of 1 steps')
    const best = selectNodes(network, { ...request, mode: 'best-effort' }, seededRandom(3))
    expect(best.unmet).toEqual(['operator'])
  })

  it('rejects malformed requests with InvalidPlacementRequestError', () => {
    const network = nineNodeNetwork()
    const bad: PlacementRequest[] = [
      { ...K4_OF_6, k: 0 },
      { ...K4_OF_6, k: 2.5 },
      { ...K4_OF_6, total: 3 },
      { ...K4_OF_6, spares: -1 },
      { ...K4_OF_6, pieceBytes: Number.NaN },
      { ...K4_OF_6, policy: { dimensions: ['provider'], margin: -1 } },
      { ...K4_OF_6, policy: { dimensions: ['country' as never], margin: 0 } },
      { ...K4_OF_6, mode: 'lenient' as never }
    ]
    for (const request of bad) {
      const err = expectError(() => selectNodes(network, request, seededRandom(1)), 'InvalidPlacementRequestError')
      expect(err).toBeInstanceOf(InvalidPlacementRequestError)
    }
  })

  it('counts a repeated node id once', () => {
    const network = nineNodeNetwork()
    const doubled = [...network.slice(0, 5), ...network.slice(0, 5)]
    const err = expectError(() => selectNodes(doubled, K4_OF_6, seededRandom(1)), 'PlacementError')
    expect(err.message).toBe('needs 6 nodes; 5 are online')
  })
})

describe('selectNodes weighting and spread', () => {
  it('picks nodes with more free space more often', () => {
    // Distinct labels everywhere, so the policy never narrows the choice: only free space matters.
    const tiers = [10 * GiB, 100 * GiB, 1000 * GiB]
    const network = Array.from({ length: 30 }, (_, i) =>
      node(`n${i}`, { provider: `p${i}`, region: `r${i}` }, tiers[i % 3]))
    const picks = new Map<string, number>()
    const random = seededRandom(2024)
    const runs = 3000
    for (let run = 0; run < runs; run++) {
      const result = selectNodes(network, { ...K4_OF_6, total: 6, k: 3 }, random)
      for (const n of result.nodes) picks.set(n.id, (picks.get(n.id) ?? 0) + 1)
    }
    const perTier = tiers.map((_, t) => network.filter((_, i) => i % 3 === t).map(n => picks.get(n.id) ?? 0))
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length
    // Uniform choice would give every node 6/30 × 3000 = 600 picks.
    expect(mean(perTier[0] ?? [])).toBeLessThan(500)
    expect(mean(perTier[2] ?? [])).toBeGreaterThan(700)
    expect(mean(perTier[1] ?? [])).toBeGreaterThan(mean(perTier[0] ?? []) * 1.2)
    expect(mean(perTier[2] ?? [])).toBeGreaterThan(mean(perTier[1] ?? []) * 1.2)
    // Even the smallest nodes get some work (weighting, not exclusion).
    expect(Math.min(...(perTier[0] ?? []))).toBeGreaterThan(50)
  })

  it('spreads pieces evenly over values even where the caps would allow more', () => {
    // 4 providers × 5 nodes; k=2, total=8 allows 6 per provider, yet the spread is 2 each.
    const network = Array.from({ length: 20 }, (_, i) => node(`n${i}`, { provider: `p${i % 4}`, region: `r${i}` }))
    const request: PlacementRequest = {
      k: 2, total: 8, spares: 4, pieceBytes: 0, policy: { dimensions: ['provider'], margin: 0 }, mode: 'strict'
    }
    for (let seed = 1; seed <= 50; seed++) {
      const result = selectNodes(network, request, seededRandom(seed))
      expect([...tally(result.nodes.map(n => n.labels), 'provider').values()]).toEqual([2, 2, 2, 2])
      // Spares go to the values with fewest pieces: one more per provider.
      expect([...tally(result.spares.map(n => n.labels), 'provider').values()].sort()).toEqual([1, 1, 1, 1])
    }
  })

  it('places on a 10,000-node network', () => {
    const random = seededRandom(99)
    const network: Candidate[] = Array.from({ length: 10_000 }, (_, i) => node(`n${i}`, {
      provider: `p${Math.floor(random() * 12)}`,
      region: `r${Math.floor(random() * 40)}`,
      operator: `o${Math.floor(random() * 3000)}`,
      subnet: `10.${Math.floor(random() * 50)}.${Math.floor(random() * 40)}.0/24`
    }, Math.floor(random() * 4000) * GiB))
    const request: PlacementRequest = {
      k: 29, total: 80, spares: 30, pieceBytes: 64 * MiB,
      policy: { dimensions: ['provider', 'region', 'operator', 'subnet'], margin: 10 }, mode: 'strict'
    }
    const result = selectNodes(network, request, random)
    expect(result.nodes).toHaveLength(80)
    expect(result.spares).toHaveLength(30)
    expect(new Set([...ids(result.nodes), ...ids(result.spares)]).size).toBe(110)
    expect(result.nodes.every(n => n.freeBytes >= 64 * MiB)).toBe(true)
    expect(bruteUnmet(result.nodes.map(n => n.labels), 29, 10, ['provider', 'region', 'operator', 'subnet'])).toEqual([])
  })
  it('settles a clash on a 10,000-node network without searching it node by node', () => {
    // Every node is on provider A or in region x; at most 30 pieces per provider and per region
    // leaves room for 60 of 80 pieces, though each dimension alone could hold them all.
    const network: Candidate[] = []
    for (let i = 0; i < 5000; i++) network.push(node(`a${i}`, { provider: 'A', region: `r${i % 50}`, subnet: `s${i % 2000}` }))
    for (let i = 0; i < 5000; i++) network.push(node(`b${i}`, { provider: `B${i % 50}`, region: 'x', subnet: `s${i % 2000}` }))
    const request: PlacementRequest = {
      k: 50, total: 80, spares: 10, pieceBytes: 0,
      policy: { dimensions: ['provider', 'region', 'operator', 'subnet'], margin: 0 }, mode: 'strict'
    }
    const err = expectError(() => selectNodes(network, request, seededRandom(5)), 'PlacementError')
    expect(err.message).toBe('no combination of the 10000 online nodes satisfies provider and region together')
    const best = selectNodes(network, { ...request, mode: 'best-effort' }, seededRandom(5))
    expect(best.unmet).toEqual(['region'])
    expect(Math.max(...tally(best.nodes.map(n => n.labels), 'provider').values())).toBeLessThanOrEqual(30)
    // All 50 B providers sit in region x, and A can take only 30: region x must take the other 50.
    expect(tally(best.nodes.map(n => n.labels), 'region').get('x')).toBe(50)
  })
})
