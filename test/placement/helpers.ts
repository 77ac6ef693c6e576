/**
 * Test helpers for placement: a seeded PRNG (so every run repeats exactly), network builders, and an
 * independent brute-force checker of the placement invariant (it shares no code with src/placement).
 */

import type { Candidate, Dimension, Labels } from '../../src/placement/index.js'

export const ALL_DIMENSIONS: readonly Dimension[] = ['provider', 'region', 'operator', 'subnet']

import { randomInt, seededRandom } from '../helpers/random.js'
export { randomInt, seededRandom }

export const GiB = 1024 ** 3
export const MiB = 1024 ** 2

export function node (id: string, labels: Partial<Labels>, freeBytes = 100 * GiB): Candidate {
  return {
    id,
    labels: {
      provider: labels.provider ?? 'p',
      region: labels.region ?? 'r',
      operator: labels.operator ?? `op-${id}`,
      subnet: labels.subnet ?? `10.0.${id.length}.0/24`
    },
    freeBytes
  }
}

/** The local-network shape: 3 providers × 3 regions, one node each, distinct operators and subnets. */
export function nineNodeNetwork (): Candidate[] {
  const providers = ['aws', 'gcp', 'hetzner']
  const regions = ['eu', 'us-east', 'us-west']
  const out: Candidate[] = []
  let n = 0
  for (const provider of providers) {
    for (const region of regions) {
      n++
      out.push(node(`n${n}`, { provider, region, operator: `op-${n}`, subnet: `10.0.${n}.0/24` }))
    }
  }
  return out
}

/** Pieces per value of one dimension, counted by hand. */
export function tally (labels: readonly Labels[], dimension: Dimension): Map<string, number> {
  const m = new Map<string, number>()
  for (const l of labels) m.set(l[dimension], (m.get(l[dimension]) ?? 0) + 1)
  return m
}

/**
 * The invariant straight from its definition: for dimension D, take every value, remove all pieces on
 * nodes of that value, and see whether k + margin pieces are left. Returns the unmet dimensions.
 */
export function bruteUnmet (labels: readonly Labels[], k: number, margin: number, dims: readonly Dimension[]): Dimension[] {
  const unmet: Dimension[] = []
  for (const d of dims) {
    const values = new Set(labels.map(l => l[d]))
    let survives = true
    for (const v of values) {
      const remaining = labels.filter(l => l[d] !== v).length
      if (remaining < k + margin) survives = false
    }
    if (values.size === 0 && labels.length < k + margin) survives = false
    if (!survives) unmet.push(d)
  }
  return unmet
}

/** Largest number of pieces on one value of a dimension. */
export function maxPerValue (labels: readonly Labels[], d: Dimension): number {
  let most = 0
  for (const n of tally(labels, d).values()) most = Math.max(most, n)
  return most
}

/** Every subset of `size` of the indexes 0..n−1, in lexicographic order (the array is reused). */
export function * subsets (n: number, size: number): Generator<readonly number[]> {
  if (size > n || size < 0) return
  const idx = Array.from({ length: size }, (_, i) => i)
  while (true) {
    yield idx
    let i = size - 1
    while (i >= 0 && idx[i] === n - size + i) i--
    if (i < 0) return
    idx[i] = (idx[i] ?? 0) + 1
    for (let j = i + 1; j < size; j++) idx[j] = (idx[j - 1] ?? 0) + 1
  }
}
