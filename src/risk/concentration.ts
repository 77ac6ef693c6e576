/**
 * Concentration of one dimension under one weighting: shares, the Herfindahl–Hirschman index and the
 * Nakamoto coefficients. Sums are exact (bigint): a network's capacity passes 2^53 bytes long before it
 * is large (100k nodes × 100 TB), and "strictly more than a half" must not turn on a rounding error.
 */

import { HHI_DECIMALS, SHARE_DECIMALS } from './risk.js'
import type { Concentration, EntityShare } from './risk.js'

const SHARE_SCALE = 10n ** BigInt(SHARE_DECIMALS)
/** HHI = 10,000 · Σ bᵢ² / T², kept in units of 10^-HHI_DECIMALS. */
const HHI_SCALE = 10_000n * 10n ** BigInt(HHI_DECIMALS)

/**
 * The concentration of entities given as [name, bytes] (bytes ≥ 0; names distinct). Shares and the HHI
 * are rounded half up from exact ratios; the Nakamoto coefficients compare exact sums. Never throws.
 */
export function concentration (entities: Iterable<readonly [string, bigint]>): Concentration {
  const sorted = [...entities].sort(([nameA, a], [nameB, b]) =>
    a !== b ? (a > b ? -1 : 1) : (nameA < nameB ? -1 : nameA > nameB ? 1 : 0))
  let total = 0n
  let squares = 0n
  for (const [, bytes] of sorted) {
    total += bytes
    squares += bytes * bytes
  }
  const shares: EntityShare[] = sorted.map(([name, bytes]) => ({
    name,
    bytes: Number(bytes),
    share: total === 0n ? 0 : Number(roundedRatio(bytes * SHARE_SCALE, total)) / Number(SHARE_SCALE)
  }))
  const hhi = total === 0n
    ? 0
    : Number(roundedRatio(squares * HHI_SCALE, total * total)) / 10 ** HHI_DECIMALS
  return {
    totalBytes: Number(total),
    hhi,
    nakamoto: {
      overThird: nakamoto(sorted, total, 3n),
      overHalf: nakamoto(sorted, total, 2n)
    },
    shares
  }
}

/**
 * The fewest entities, largest first, whose bytes sum to strictly more than total / divisor
 * (compared as sum · divisor > total, so exactly a half is not more than a half). 0 when total is 0.
 */
function nakamoto (sorted: ReadonlyArray<readonly [string, bigint]>, total: bigint, divisor: bigint): number {
  if (total === 0n) return 0
  let sum = 0n
  for (let i = 0; i < sorted.length; i++) {
    sum += sorted[i]?.[1] ?? 0n
    if (sum * divisor > total) return i + 1
  }
  return sorted.length
}

/** round(a / b), halves up, for a ≥ 0 and b > 0. */
function roundedRatio (a: bigint, b: bigint): bigint {
  return (2n * a + b) / (2n * b)
}
