/**
 * Test helpers for risk: a seeded PRNG, node builders, random networks, and an independent brute-force
 * model of the report (it shares no code with src/risk: per domain it removes the domain's nodes from
 * every segment's piece list and counts what is left, from the definitions in src/risk/risk.ts).
 */

import type { RiskDimension, RiskInput, RiskNode, RiskSegment } from '../../src/risk/index.js'

export const DIMENSIONS: readonly RiskDimension[] = ['provider', 'region', 'operator', 'country', 'asn']

import { randomInt, seededRandom } from '../helpers/random.js'
export { randomInt, seededRandom }

export function node (id: string, labels: Partial<Omit<RiskNode, 'id'>> = {}): RiskNode {
  return {
    id,
    provider: labels.provider ?? 'p',
    region: labels.region ?? 'r',
    operator: labels.operator ?? `op-${id}`,
    country: labels.country ?? 'XX',
    asn: labels.asn ?? 'unknown',
    capacityBytes: labels.capacityBytes ?? 1000,
    online: labels.online ?? true
  }
}

/** One segment; pieces given as [nodeId, bytes]. */
export function segment (bucket: string, key: string, k: number, pieces: ReadonlyArray<readonly [string, number]>): RiskSegment {
  return { bucket, key, k, pieces: pieces.map(([nodeId, bytes]) => ({ nodeId, bytes })) }
}

/** A random network with its segments (as an array, so the brute force can read it again). */
export interface Network {
  readonly nodes: RiskNode[]
  readonly segments: RiskSegment[]
  readonly objects: number
  readonly bucket?: string
}

export function randomNetwork (random: () => number): Network {
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)] as T
  const alphabet = (prefix: string): string[] => Array.from({ length: randomInt(random, 1, 5) }, (_, i) => `${prefix}${i}`)
  const providers = alphabet('p')
  const regions = alphabet('r')
  const operators = alphabet('o')
  const countries = alphabet('c')
  const asns = alphabet('AS')
  const nodeCount = randomInt(random, 1, 12)
  const nodes = Array.from({ length: nodeCount }, (_, i): RiskNode => ({
    id: `n${i}`,
    provider: pick(providers),
    region: pick(regions),
    operator: pick(operators),
    country: pick(countries),
    asn: pick(asns),
    capacityBytes: random() < 0.15 ? 0 : randomInt(random, 1, 10_000),
    online: random() < 0.8
  }))
  const ids = nodes.map(n => n.id)
  const objects: Array<{ bucket: string, key: string }> = []
  const segments: RiskSegment[] = []
  const objectCount = randomInt(random, 0, 15)
  for (let o = 0; o < objectCount; o++) {
    const bucket = pick(['b1', 'b2'])
    const key = `k${o}`
    objects.push({ bucket, key })
    const segmentCount = randomInt(random, 1, 3)
    for (let s = 0; s < segmentCount; s++) {
      const pieceCount = randomInt(random, 0, 7)
      const pieces = Array.from({ length: pieceCount }, () => ({
        // Now and then a piece on a node the report does not know (deleted from metadata).
        nodeId: random() < 0.05 ? 'ghost' : pick(ids),
        bytes: randomInt(random, 0, 500)
      }))
      segments.push({ bucket, key, k: randomInt(random, 1, 4), pieces })
    }
  }
  // Segments of one object need not be adjacent.
  for (let i = segments.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const t = segments[i] as RiskSegment
    segments[i] = segments[j] as RiskSegment
    segments[j] = t
  }
  const bucket = random() < 0.25 ? 'b1' : undefined
  const inline = randomInt(random, 0, 3)
  const inScope = objects.filter(o => bucket === undefined || o.bucket === bucket).length
  return { nodes, segments, objects: inScope + inline, ...(bucket === undefined ? {} : { bucket }) }
}

export function inputOf (network: Network): RiskInput {
  return { ...network, segments: network.segments }
}

export interface BruteImpact {
  objectsUnavailable: number
  objectsLost: number
  segmentsUnavailable: number
  segmentsLost: number
  unavailable: string[]
  lost: string[]
}

/**
 * The outage of the nodes for which `out` is true, by definition: for every segment in scope, count
 * its pieces on known nodes outside the outage (online ones, and all); fewer than k online → the
 * object is unavailable, fewer than k at all → lost. Objects are named "bucket/key", sorted.
 */
export function bruteOutage (network: Network, out: (node: RiskNode) => boolean): BruteImpact {
  const byId = new Map(network.nodes.map(n => [n.id, n]))
  const unavailable = new Set<string>()
  const lost = new Set<string>()
  let segmentsUnavailable = 0
  let segmentsLost = 0
  for (const s of network.segments) {
    if (network.bucket !== undefined && s.bucket !== network.bucket) continue
    const remaining = s.pieces.map(p => byId.get(p.nodeId)).filter((n): n is RiskNode => n !== undefined && !out(n))
    const remainingOnline = remaining.filter(n => n.online)
    const name = `${s.bucket}/${s.key}`
    if (remainingOnline.length < s.k) {
      segmentsUnavailable++
      unavailable.add(name)
    }
    if (remaining.length < s.k) {
      segmentsLost++
      lost.add(name)
    }
  }
  return {
    objectsUnavailable: unavailable.size,
    objectsLost: lost.size,
    segmentsUnavailable,
    segmentsLost,
    unavailable: [...unavailable].sort(),
    lost: [...lost].sort()
  }
}

/** Bytes per label value under one weighting, summed naively. */
export function bruteBytes (network: Network, dimension: RiskDimension, weighting: 'stored' | 'capacity'): Map<string, number> {
  const sums = new Map<string, number>(network.nodes.map(n => [n[dimension], 0]))
  if (weighting === 'capacity') {
    for (const n of network.nodes) sums.set(n[dimension], (sums.get(n[dimension]) ?? 0) + n.capacityBytes)
    return sums
  }
  const byId = new Map(network.nodes.map(n => [n.id, n]))
  for (const s of network.segments) {
    if (network.bucket !== undefined && s.bucket !== network.bucket) continue
    for (const p of s.pieces) {
      const n = byId.get(p.nodeId)
      if (n !== undefined) sums.set(n[dimension], (sums.get(n[dimension]) ?? 0) + p.bytes)
    }
  }
  return sums
}

/**
 * The Nakamoto coefficient by exhaustive search: the size of the smallest subset of values whose bytes
 * sum to strictly more than total · num / den (0 when total is 0). Independent of any greedy order.
 */
export function bruteNakamoto (bytes: readonly number[], num: number, den: number): number {
  const total = bytes.reduce((a, b) => a + b, 0)
  if (total === 0) return 0
  let best = Infinity
  for (let mask = 1; mask < 1 << bytes.length; mask++) {
    let sum = 0
    let size = 0
    bytes.forEach((b, i) => {
      if ((mask & (1 << i)) !== 0) {
        sum += b
        size++
      }
    })
    if (sum * den > total * num && size < best) best = size
  }
  return best
}
