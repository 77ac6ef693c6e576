/**
 * Placement: which nodes hold the pieces of a segment so that no single provider, region, operator or
 * subnet can take it down. Pure (no I/O, no clock, injected randomness). See placement.ts for the
 * contract and invariant, select.ts for how nodes are picked, check.ts for the checker.
 */

import { InvalidAddressError } from './errors.js'
import type { PlacementPolicy } from './placement.js'

export { DIMENSIONS } from './placement.js'
export type {
  Candidate, Dimension, Labels, PlacementCheck, PlacementPolicy, PlacementRequest, PlacementResult,
  RandomSource, WorstValue
} from './placement.js'
export { InvalidAddressError, InvalidPlacementRequestError, PlacementError } from './errors.js'
export type { PlacementErrorOptions } from './errors.js'
export {
  MESSAGE_MAX_VALUES, capPerValue, checkPlacement, describeShortfall, describeUnmet, formatBytes,
  joinDimensions, validatePolicy
} from './check.js'
export type { Shortfall } from './check.js'
export { EXACT_SEARCH_MAX_STEPS, GREEDY_ATTEMPTS, selectNodes } from './select.js'
export type { SelectOptions } from './select.js'

/**
 * The policy used when a bucket sets none: survive losing any one provider, any one region or any one
 * operator, with nothing to spare beyond k (with the default k=4, total=6: at most 2 pieces per value).
 *
 * `subnet` is opt-in: every node of a local network (`shoal up`) runs on 127.0.0.1, so all of them
 * share 127.0.0.0/24 and a subnet rule could never be met there. Production policies should add it.
 */
export const DEFAULT_POLICY: PlacementPolicy = Object.freeze({
  dimensions: Object.freeze(['provider', 'region', 'operator'] as const),
  margin: 0
})

/** Prefix length of an IPv4 subnet: a /24 is the smallest block routinely assigned to one network. */
export const IPV4_SUBNET_BITS = 24

/** Prefix length of an IPv6 subnet: a /48 is the usual assignment to one site (RFC 6177). */
export const IPV6_SUBNET_BITS = 48

/**
 * The subnet label of an address: IPv4 → its /24 ("203.0.113.0/24"), IPv6 → its /48 in RFC 5952 form
 * ("2001:db8:abcd::/48"); an IPv4-mapped IPv6 address (::ffff:203.0.113.7) counts as its IPv4 address.
 * Brackets ("[::1]") and an IPv6 zone ("fe80::1%eth0") are accepted and ignored. Throws an
 * InvalidAddressError for anything that is not an IP address (host names included).
 */
export function subnetOf (address: string): string {
  let text = String(address).trim()
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1)
  const v4 = parseIPv4(text)
  if (v4 !== undefined) return ipv4Subnet(v4)
  const percent = text.indexOf('%')
  if (percent > 0) text = text.slice(0, percent)
  const v6 = parseIPv6(text)
  if (v6 === undefined) throw new InvalidAddressError(`not an IPv4 or IPv6 address: ${JSON.stringify(address)}`)
  const isMapped = v6.slice(0, 5).every(g => g === 0) && v6[5] === 0xffff
  if (isMapped) {
    const hi = v6[6] ?? 0
    const lo = v6[7] ?? 0
    return ipv4Subnet([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff])
  }
  const groups = v6.map((g, i) => (i * 16 < IPV6_SUBNET_BITS ? g : 0))
  return `${formatIPv6(groups)}/${IPV6_SUBNET_BITS}`
}

function ipv4Subnet (octets: readonly number[]): string {
  // IPV4_SUBNET_BITS is a whole number of octets, so masking is keeping the first three.
  const keep = IPV4_SUBNET_BITS / 8
  return `${octets.map((o, i) => (i < keep ? o : 0)).join('.')}/${IPV4_SUBNET_BITS}`
}

/** Dotted-quad IPv4, strictly: four decimal octets 0–255, no leading zeros (which some read as octal). */
function parseIPv4 (text: string): number[] | undefined {
  const parts = text.split('.')
  if (parts.length !== 4) return undefined
  const octets: number[] = []
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined
    const n = Number(p)
    if (n > 255) return undefined
    octets.push(n)
  }
  return octets
}

/** RFC 4291 text form to eight 16-bit groups, or undefined. */
function parseIPv6 (text: string): number[] | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(text)) return undefined
  const halves = text.split('::')
  if (halves.length > 2) return undefined
  const groupsOf = (part: string, allowV4: boolean): number[] | undefined => {
    if (part === '') return []
    const items = part.split(':')
    const out: number[] = []
    for (let i = 0; i < items.length; i++) {
      const item = items[i] ?? ''
      if (item.includes('.')) {
        if (!allowV4 || i !== items.length - 1) return undefined
        const v4 = parseIPv4(item)
        if (v4 === undefined) return undefined
        out.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0))
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(item)) return undefined
        out.push(parseInt(item, 16))
      }
    }
    return out
  }
  if (halves.length === 1) {
    const groups = groupsOf(text, true)
    return groups !== undefined && groups.length === 8 ? groups : undefined
  }
  const head = groupsOf(halves[0] ?? '', false)
  const tail = groupsOf(halves[1] ?? '', true)
  if (head === undefined || tail === undefined) return undefined
  const missing = 8 - head.length - tail.length
  if (missing < 1) return undefined
  return [...head, ...new Array<number>(missing).fill(0), ...tail]
}

/** RFC 5952: lower-case hex, no leading zeros, the longest run of two or more zero groups as "::". */
function formatIPv6 (groups: readonly number[]): string {
  let bestStart = -1
  let bestLength = 0
  for (let i = 0; i < groups.length;) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < groups.length && groups[j] === 0) j++
    if (j - i > bestLength) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  const hex = groups.map(g => g.toString(16))
  if (bestLength < 2) return hex.join(':')
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`
}
