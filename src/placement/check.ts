/**
 * The placement invariant, checked on a set of pieces that already exist, and the sentences that
 * explain a shortfall to users. The uploader uses checkPlacement to decide when its long-tail cut may
 * stop waiting, repair uses it to re-check stored segments, and selectNodes uses the messages.
 *
 * Invariant: for each dimension D of the policy, removing every node of D's worst value (the one
 * holding most pieces) leaves at least k + margin pieces. So each value may hold at most
 * pieces − k − margin pieces.
 */

import { InvalidPlacementRequestError } from './errors.js'
import { DIMENSIONS } from './placement.js'
import type { Dimension, Labels, PlacementCheck, PlacementPolicy, WorstValue } from './placement.js'

/** At most this many label values are listed in one message; the rest are counted ("…and 7 more"). */
export const MESSAGE_MAX_VALUES = 10

/** How each dimension reads in a sentence when there are several ("3 providers"). */
const PLURAL: Readonly<Record<Dimension, string>> = {
  provider: 'providers',
  region: 'regions',
  operator: 'operators',
  subnet: 'subnets'
}

/**
 * Most pieces one value of a dimension may hold so that losing it leaves k + margin:
 * total − k − margin. Below 1 no network can meet a policy with any dimension. Never throws.
 */
export function capPerValue (k: number, total: number, margin: number): number {
  return total - k - margin
}

/**
 * Checks k and the policy (positive integer k, non-negative integer margin, known dimensions) and
 * returns the policy's dimensions without repeats, in policy order. Throws an
 * InvalidPlacementRequestError naming the first bad field.
 */
export function validatePolicy (k: number, policy: PlacementPolicy): Dimension[] {
  if (!Number.isSafeInteger(k) || k < 1) {
    throw new InvalidPlacementRequestError(`k must be a positive integer, got ${String(k)}`)
  }
  if (!Number.isSafeInteger(policy.margin) || policy.margin < 0) {
    throw new InvalidPlacementRequestError(`policy margin must be a non-negative integer, got ${String(policy.margin)}`)
  }
  const dimensions: Dimension[] = []
  for (const d of policy.dimensions) {
    if (!(DIMENSIONS as readonly string[]).includes(d)) {
      throw new InvalidPlacementRequestError(
        `unknown placement dimension ${JSON.stringify(d)}; expected one of ${DIMENSIONS.join(', ')}`)
    }
    if (!dimensions.includes(d)) dimensions.push(d)
  }
  return dimensions
}

/**
 * Checks the invariant on the labels of the nodes holding one segment's pieces (one entry per piece,
 * so pieces = labels.length). `ok` is true when at least k + margin pieces exist and every policy
 * dimension is met; `unmet` lists the dimensions that are not. With an empty policy only the count
 * matters. Throws an InvalidPlacementRequestError when k or the policy is malformed.
 */
export function checkPlacement (labels: readonly Labels[], k: number, policy: PlacementPolicy): PlacementCheck {
  const dimensions = validatePolicy(k, policy)
  const pieces = labels.length
  const worst = {} as Record<Dimension, WorstValue>
  for (const d of DIMENSIONS) worst[d] = worstValue(labels, d)
  const unmet = dimensions.filter(d => pieces - worst[d].pieces < k + policy.margin)
  return {
    ok: unmet.length === 0 && pieces >= k + policy.margin,
    unmet,
    worst,
    pieces
  }
}

function worstValue (labels: readonly Labels[], dimension: Dimension): WorstValue {
  const counts = countValues(labels.map(l => l[dimension]))
  let best: WorstValue = { value: '', pieces: 0 }
  for (const [value, pieces] of counts) {
    if (pieces > best.pieces || (pieces === best.pieces && value < best.value)) best = { value, pieces }
  }
  return best
}

/**
 * One sentence per unmet dimension of a check, e.g. "losing provider aws (3 of 6 pieces) would leave
 * 3, fewer than k + margin = 4". Returns '' when nothing is unmet. Never throws.
 */
export function describeUnmet (check: PlacementCheck, k: number, margin: number): string {
  const parts: string[] = []
  if (check.pieces < k + margin) parts.push(`only ${check.pieces} pieces, fewer than k + margin = ${k + margin}`)
  for (const d of check.unmet) {
    const w = check.worst[d]
    parts.push(`losing ${d} ${w.value} (${w.pieces} of ${check.pieces} pieces) would leave ` +
      `${check.pieces - w.pieces}, fewer than k + margin = ${k + margin}`)
  }
  return parts.join('; ')
}

/** A dimension-by-dimension reason why no placement can exist, see describeShortfall. */
export interface Shortfall {
  /** The dimensions that on their own can't hold `total` pieces, in policy order. */
  readonly dimensions: readonly Dimension[]
  /** Why, in user terms, e.g. "policy needs 3 providers; 2 are online: aws, hetzner (…)". */
  readonly message: string
}

/**
 * Explains why the eligible nodes (their labels, one entry per node) can't take `total` pieces under
 * the policy when each dimension is looked at on its own: too few values ("policy needs 3 providers;
 * 2 are online: aws, hetzner") or too few nodes behind the values there are. `online` qualifies the
 * word "online" in the message (e.g. "online with 16.0 MiB free"). Returns undefined when every
 * dimension on its own could hold the pieces (then only their combination can fail, which needs a
 * search: see selectNodes). Throws an InvalidPlacementRequestError when k or the policy is malformed.
 */
export function describeShortfall (
  eligible: readonly Labels[], k: number, total: number, policy: PlacementPolicy, online = 'online'
): Shortfall | undefined {
  const dimensions = validatePolicy(k, policy)
  const cap = capPerValue(k, total, policy.margin)
  if (dimensions.length === 0) return undefined
  const why = (domain: string): string => `at most ${Math.max(cap, 0)} of ${total} pieces may share one ` +
    `${domain} so that losing it leaves k + margin = ${k + policy.margin}`
  if (cap < 1) {
    return {
      dimensions,
      message: `no network can meet this policy: with k = ${k}, margin = ${policy.margin} and ${total} pieces, ` +
        `${why('failure domain')}, so no piece could be placed; raise the number of pieces or lower the margin`
    }
  }
  const failing: Dimension[] = []
  const parts: string[] = []
  for (const d of dimensions) {
    const counts = countValues(eligible.map(l => l[d]))
    let room = 0
    for (const n of counts.values()) room += Math.min(n, cap)
    if (room >= total) continue
    failing.push(d)
    const values = [...counts.keys()].sort()
    const needed = Math.ceil(total / cap)
    const reason = `(${why(d)})`
    if (values.length < needed) {
      parts.push(`policy needs ${needed} ${PLURAL[d]}; ${values.length} ${values.length === 1 ? 'is' : 'are'} ` +
        `${online}${values.length > 0 ? ': ' + listValues(values) : ''} ${reason}`)
    } else {
      const detail = values.map(v => `${v}: ${counts.get(v) ?? 0} ${counts.get(v) === 1 ? 'node' : 'nodes'}`)
      parts.push(`the ${values.length} ${PLURAL[d]} ${online} can hold only ${room} of ${total} pieces ` +
        `(${listValues(detail)}) ${reason}`)
    }
  }
  if (failing.length === 0) return undefined
  return { dimensions: failing, message: parts.join('; ') }
}

/**
 * Bytes for people: "512 B", "16.0 MiB", "1.5 TiB" (binary units, one decimal). Never throws;
 * non-finite input is printed as is.
 */
export function formatBytes (bytes: number): string {
  if (!Number.isFinite(bytes)) return `${String(bytes)} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB']
  if (Math.abs(bytes) < 1024) return `${bytes} B`
  let value = bytes / 1024
  let unit = 0
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(1)} ${units[unit] ?? ''}`
}

/** "provider and region", "provider, region and operator". Never throws. */
export function joinDimensions (dimensions: readonly Dimension[]): string {
  if (dimensions.length <= 1) return dimensions.join('')
  return `${dimensions.slice(0, -1).join(', ')} and ${dimensions[dimensions.length - 1] ?? ''}`
}

function listValues (values: readonly string[]): string {
  if (values.length <= MESSAGE_MAX_VALUES) return values.join(', ')
  return `${values.slice(0, MESSAGE_MAX_VALUES).join(', ')} …and ${values.length - MESSAGE_MAX_VALUES} more`
}

function countValues (values: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>()
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1)
  return counts
}
