/**
 * Placement for repair: a segment keeps its healthy pieces where they are, and only the pieces being
 * rebuilt (missing, on bad nodes, or moved to fix a placement that breaks the policy) get new nodes.
 * The new nodes are chosen so that kept + new pieces satisfy the policy (at most cap pieces per value
 * of each dimension, as in select.ts) whenever the online network allows it; otherwise the strongest
 * placement found is returned with the dimensions it leaves unmet.
 *
 * Pure: randomness is injected. A randomized greedy (fewest pieces on the candidate's values, then
 * the roomier of two) answers almost always; when it fails, a bounded depth-first search over
 * candidate classes (nodes with the same policy labels) decides exactly.
 */
import { capPerValue, checkPlacement, validatePolicy } from './check.js'
import type { Candidate, Dimension, Labels, PlacementPolicy, RandomSource } from './placement.js'

/** Search nodes the exact fallback may visit per repair. */
export const REPAIR_SEARCH_MAX_STEPS = 50_000

export interface KeptPiece {
  readonly pieceIndex: number
  readonly nodeId: string
  readonly labels: Labels
}

export interface RepairPlacementRequest {
  readonly k: number
  /** k + m: how many pieces the segment should have. */
  readonly total: number
  readonly policy: PlacementPolicy
  readonly pieceBytes: number
  /** Healthy pieces that stay where they are (unless moved to fix the policy). */
  readonly kept: readonly KeptPiece[]
  /** Piece indexes to rebuild (missing or on nodes that are going away). */
  readonly rebuild: readonly number[]
  /** Nodes that must not receive a piece (they hold one of this segment, or are leaving). */
  readonly exclude?: ReadonlySet<string>
}

export interface RepairPlacement {
  /** New homes, one per piece index placed (fewer than asked when the network has too few nodes). */
  readonly targets: ReadonlyArray<{ readonly pieceIndex: number, readonly node: Candidate }>
  /** Kept pieces that are moved to satisfy the policy (their index is also in targets). */
  readonly moved: readonly number[]
  /** Dimensions the resulting placement does not satisfy. */
  readonly unmet: readonly Dimension[]
}

export function planRepairPlacement (candidates: readonly Candidate[], request: RepairPlacementRequest, random: RandomSource): RepairPlacement {
  const dimensions = validatePolicy(request.k, request.policy)
  const cap = capPerValue(request.k, request.total, request.policy.margin)
  const holding = new Set([...request.kept.map((p) => p.nodeId), ...(request.exclude ?? [])])
  const pool = candidates.filter((c) => !holding.has(c.id) && c.freeBytes >= request.pieceBytes)

  const plain = place(pool, request.kept, request.rebuild, dimensions, cap, random)
  const plainCheck = checkPlacement([...request.kept.map((p) => p.labels), ...plain.map((n) => n.labels)], request.k, request.policy)
  if (plainCheck.unmet.length === 0 || dimensions.length === 0) {
    return { targets: plain.map((node, i) => ({ pieceIndex: request.rebuild[i], node })), moved: [], unmet: plainCheck.unmet }
  }
  // The kept pieces themselves break the policy: move the fewest of them (off crowded values) so that
  // the whole segment meets it, trying every subset of kept pieces by size (a segment has ≤ 30 pieces,
  // and only subsets that clear every cap are placed, so this stays small).
  const order = [...request.kept].sort((a, b) => b.pieceIndex - a.pieceIndex)
  for (let size = 1; size <= order.length && size <= MAX_MOVES; size++) {
    for (const victims of subsets(order, size)) {
      const kept = order.filter((p) => !victims.includes(p))
      if (overCapped(kept, dimensions, cap) !== undefined) continue
      const moved = victims.map((p) => p.pieceIndex)
      const rebuild = [...request.rebuild, ...moved]
      const placed = place(pool, kept, rebuild, dimensions, cap, random)
      if (placed.length < rebuild.length) continue
      const check = checkPlacement([...kept.map((p) => p.labels), ...placed.map((n) => n.labels)], request.k, request.policy)
      if (check.unmet.length < plainCheck.unmet.length) {
        return { targets: placed.map((node, i) => ({ pieceIndex: rebuild[i], node })), moved, unmet: check.unmet }
      }
    }
  }
  return { targets: plain.map((node, i) => ({ pieceIndex: request.rebuild[i], node })), moved: [], unmet: plainCheck.unmet }
}

/** Most kept pieces one repair moves to fix a placement (bounds the subsets tried). */
const MAX_MOVES = 3

function * subsets<T> (items: readonly T[], size: number, from = 0): Generator<T[]> {
  if (size === 0) { yield []; return }
  for (let i = from; i <= items.length - size; i++) {
    for (const rest of subsets(items, size - 1, i + 1)) yield [items[i], ...rest]
  }
}

function overCapped (kept: readonly KeptPiece[], dimensions: readonly Dimension[], cap: number): { dimension: Dimension, value: string } | undefined {
  for (const dimension of dimensions) {
    const counts = new Map<string, number>()
    for (const p of kept) counts.set(p.labels[dimension], (counts.get(p.labels[dimension]) ?? 0) + 1)
    for (const [value, n] of counts) if (n > cap) return { dimension, value }
  }
  return undefined
}

/**
 * Chooses `rebuild.length` distinct nodes from `pool` so that, with `kept`, no value exceeds `cap`:
 * greedy first, then an exact bounded search; when neither finds one, the greedy's best effort.
 */
function place (pool: readonly Candidate[], kept: readonly KeptPiece[], rebuild: readonly number[], dimensions: readonly Dimension[], cap: number, random: RandomSource): Candidate[] {
  const counts = new Map<string, number>()
  const key = (d: Dimension, v: string): string => `${d}\u0000${v}`
  for (const p of kept) for (const d of dimensions) counts.set(key(d, p.labels[d]), (counts.get(key(d, p.labels[d])) ?? 0) + 1)
  const fits = (c: Candidate, extra: Map<string, number>): boolean =>
    dimensions.every((d) => (counts.get(key(d, c.labels[d])) ?? 0) + (extra.get(key(d, c.labels[d])) ?? 0) < cap)

  let best: Candidate[] = []
  for (let attempt = 0; attempt < 3; attempt++) {
    const extra = new Map<string, number>()
    const chosen: Candidate[] = []
    let ok = true
    for (let i = 0; i < rebuild.length; i++) {
      const open = pool.filter((c) => !chosen.includes(c))
      if (open.length === 0) break
      const feasible = open.filter((c) => fits(c, extra))
      const load = (c: Candidate): number => dimensions.reduce((s, d) => s + (counts.get(key(d, c.labels[d])) ?? 0) + (extra.get(key(d, c.labels[d])) ?? 0), 0)
      const from = feasible.length > 0 ? feasible : open
      if (feasible.length === 0) ok = false
      const least = Math.min(...from.map(load))
      const lightest = from.filter((c) => load(c) === least)
      const a = lightest[Math.floor(random() * lightest.length)]
      const b = lightest[Math.floor(random() * lightest.length)]
      const pick = b.freeBytes > a.freeBytes ? b : a
      chosen.push(pick)
      for (const d of dimensions) extra.set(key(d, pick.labels[d]), (extra.get(key(d, pick.labels[d])) ?? 0) + 1)
    }
    if (ok && chosen.length === rebuild.length) return chosen
    if (best.length === 0) best = chosen
  }
  if (dimensions.length === 0 || pool.length < rebuild.length) return best
  return search(pool, rebuild.length, dimensions, cap, counts, key, random) ?? best
}

/** Exact: classes of nodes with equal policy labels; choose how many from each, in class order. */
function search (pool: readonly Candidate[], need: number, dimensions: readonly Dimension[], cap: number,
  counts: ReadonlyMap<string, number>, key: (d: Dimension, v: string) => string, random: RandomSource): Candidate[] | undefined {
  const classes = new Map<string, Candidate[]>()
  for (const c of pool) {
    const id = dimensions.map((d) => c.labels[d]).join('\u0001')
    const list = classes.get(id) ?? []
    list.push(c)
    classes.set(id, list)
  }
  const list = [...classes.values()]
  for (const members of list) members.sort((a, b) => b.freeBytes - a.freeBytes || (random() - 0.5))
  const extra = new Map<string, number>()
  const take: number[] = new Array<number>(list.length).fill(0)
  let steps = 0
  const room = (members: Candidate[]): number => Math.min(...dimensions.map((d) => cap - (counts.get(key(d, members[0].labels[d])) ?? 0) - (extra.get(key(d, members[0].labels[d])) ?? 0)))
  const dfs = (from: number, left: number): boolean => {
    if (left === 0) return true
    if (++steps > REPAIR_SEARCH_MAX_STEPS) return false
    for (let i = from; i < list.length; i++) {
      const members = list[i]
      if (take[i] >= members.length || room(members) < 1) continue
      take[i]++
      for (const d of dimensions) extra.set(key(d, members[0].labels[d]), (extra.get(key(d, members[0].labels[d])) ?? 0) + 1)
      if (dfs(i, left - 1)) return true
      take[i]--
      for (const d of dimensions) extra.set(key(d, members[0].labels[d]), (extra.get(key(d, members[0].labels[d])) ?? 0) - 1)
    }
    return false
  }
  if (!dfs(0, need)) return undefined
  return list.flatMap((members, i) => members.slice(0, take[i]))
}
