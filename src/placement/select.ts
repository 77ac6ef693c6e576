/**
 * Node selection: picks the nodes that receive one segment's pieces so that the placement invariant
 * holds (see placement.ts), weighted by free capacity. Pure: the only randomness is the injected
 * RandomSource, so a seeded run repeats exactly.
 *
 * How it works:
 * 1. Nodes without room for a piece are dropped; each value of each policy dimension may hold at most
 *    cap = total − k − margin pieces.
 * 2. Fast path: a randomized greedy. Each step looks at the nodes that would not break a cap and keeps
 *    those whose values currently hold the fewest pieces (summed over the dimensions), so the spread
 *    is even; among them it samples two and takes the one with more free space ("power of two
 *    choices"). A few attempts, since an unlucky early pick can paint a later step into a corner.
 *    Cost O(total × nodes × dimensions) per attempt: a few milliseconds for 10,000 nodes.
 * 3. Exact fallback: nodes with the same labels over the constrained dimensions are interchangeable, so
 *    they are grouped into classes. With up to two constrained dimensions a maximum flow answers
 *    exactly; with more, maximum flows on every pair rule out most impossible cases and a
 *    depth-first search decides how many to take from each class, pruned by an upper bound on what
 *    the remaining classes can still hold and by remembering states that already failed. It finds a
 *    placement whenever one exists, within EXACT_SEARCH_MAX_STEPS search nodes.
 * 4. Best effort: when the whole policy can't be met, keep as many dimensions as possible (dropping
 *    later-listed ones first), then make each dropped dimension as even as possible.
 * 5. Spares: further distinct nodes, on the values holding fewest pieces, weighted by free space.
 */

import {
  capPerValue, checkPlacement, describeShortfall, formatBytes, joinDimensions, validatePolicy
} from './check.js'
import { InvalidPlacementRequestError, PlacementError } from './errors.js'
import type {
  Candidate, Dimension, PlacementPolicy, PlacementRequest, PlacementResult, RandomSource
} from './placement.js'

/**
 * Greedy attempts before the exact search. The greedy almost always succeeds on the first attempt when
 * a network has many more nodes than pieces; a few retries with other random picks cover most small
 * networks for less than the search costs, and the search covers the rest.
 */
export const GREEDY_ATTEMPTS = 3

/**
 * Most search nodes the exact fallback visits per feasibility question (only with three or more
 * constrained dimensions; one or two are answered by a maximum flow) before it gives up and reports
 * that it could not find a placement. A step costs O(dimensions × pieces), so this bounds a question
 * to well under a second on any network; the small networks that need the search (few classes,
 * pieces close to the caps) resolve in at most a few thousand steps, and large networks succeed
 * greedily. When the bound is hit the answer is "not found", never a wrong placement.
 */
export const EXACT_SEARCH_MAX_STEPS = 200_000

/** Tuning knobs for selectNodes; the defaults suit production. Tests use them to force each path. */
export interface SelectOptions {
  /** Greedy attempts before the exact search (default GREEDY_ATTEMPTS; 0 goes straight to the search). */
  readonly greedyAttempts?: number
  /** Search-step bound of the exact fallback (default EXACT_SEARCH_MAX_STEPS). */
  readonly maxSearchSteps?: number
}

/** At most `cap` pieces per value of `dimension`. */
interface Limit {
  readonly dimension: Dimension
  readonly cap: number
}

type Outcome =
  | { readonly kind: 'placed', readonly nodes: readonly number[] }
  | { readonly kind: 'infeasible' }
  | { readonly kind: 'gave-up' }

/** Everything one selectNodes call shares between its feasibility questions. */
interface Context {
  readonly nodes: readonly Candidate[]
  readonly total: number
  readonly random: RandomSource
  readonly greedyAttempts: number
  readonly maxSearchSteps: number
  /** Per dimension: each node's value as a small integer, and how many values there are. */
  readonly values: ReadonlyMap<Dimension, { readonly of: Int32Array, readonly count: number, readonly largest: number }>
  /** Answers already computed, by limits (a placed answer is reused as is). */
  readonly answers: Map<string, Outcome>
}

/**
 * Picks `request.total` distinct nodes (and up to `request.spares` more) from `candidates` so that
 * every dimension of the policy survives losing its worst value with k + margin pieces left.
 * Candidates with less than `pieceBytes` free are skipped; a repeated id counts once (its first entry).
 *
 * Throws a PlacementError when fewer than `total` candidates have room (in either mode), when the
 * policy can't be met by any network (total − k − margin < 1, in either mode), or in 'strict' mode
 * when this network can't meet it; the message says why ("policy needs 3 providers; 2 are online:
 * aws, hetzner"). In 'best-effort' mode it instead returns the strongest placement possible, with the
 * dimensions given up in `unmet` and the reason in `reason`. Throws an InvalidPlacementRequestError
 * when the request is malformed.
 */
export function selectNodes (
  candidates: readonly Candidate[], request: PlacementRequest, random: RandomSource, options: SelectOptions = {}
): PlacementResult {
  const dimensions = validateRequest(request, random, options)
  const { k, total, policy } = request
  const cap = capPerValue(k, total, policy.margin)
  if (dimensions.length > 0 && cap < 1) {
    const shortfall = describeShortfall([], k, total, policy)
    throw new PlacementError(shortfall?.message ?? 'no network can meet this policy', { unmet: dimensions })
  }

  const online = distinctById(candidates)
  const eligible = online.filter(c => c.freeBytes >= request.pieceBytes)
  const roomy = eligible.length < online.length ? ` with ${formatBytes(request.pieceBytes)} free` : ''
  if (eligible.length < total) {
    throw new PlacementError(roomy === ''
      ? `needs ${total} nodes; ${online.length} ${online.length === 1 ? 'is' : 'are'} online`
      : `needs ${total} nodes${roomy}; ${eligible.length} of the ${online.length} online nodes have that much room`)
  }

  const ctx = createContext(eligible, dimensions, request, random, options)
  const full = dimensions.map(dimension => ({ dimension, cap }))
  const outcome = place(ctx, full)
  if (outcome.kind === 'placed') return finish(ctx, request, dimensions, outcome.nodes)

  const why = explain(ctx, request, dimensions, full, outcome, roomy)
  if (request.mode === 'strict') throw new PlacementError(why.message, { unmet: why.dimensions })
  const nodes = bestEffort(ctx, dimensions, cap)
  return finish(ctx, request, dimensions, nodes, why.message)
}

function validateRequest (request: PlacementRequest, random: RandomSource, options: SelectOptions): Dimension[] {
  const dimensions = validatePolicy(request.k, request.policy)
  const bad = (what: string, value: unknown): never => {
    throw new InvalidPlacementRequestError(`${what}, got ${String(value)}`)
  }
  if (!Number.isSafeInteger(request.total) || request.total < request.k) bad(`total must be an integer ≥ k = ${request.k}`, request.total)
  if (!Number.isSafeInteger(request.spares) || request.spares < 0) bad('spares must be a non-negative integer', request.spares)
  if (!(Number.isFinite(request.pieceBytes) && request.pieceBytes >= 0)) bad('pieceBytes must be a non-negative number', request.pieceBytes)
  if (request.mode !== 'strict' && request.mode !== 'best-effort') bad("mode must be 'strict' or 'best-effort'", request.mode)
  if (typeof random !== 'function') bad('random must be a function returning numbers in [0, 1)', random)
  const { greedyAttempts, maxSearchSteps } = options
  if (greedyAttempts !== undefined && !(Number.isSafeInteger(greedyAttempts) && greedyAttempts >= 0)) bad('greedyAttempts must be a non-negative integer', greedyAttempts)
  if (maxSearchSteps !== undefined && !(Number.isSafeInteger(maxSearchSteps) && maxSearchSteps >= 1)) bad('maxSearchSteps must be a positive integer', maxSearchSteps)
  return dimensions
}

function distinctById (candidates: readonly Candidate[]): Candidate[] {
  const seen = new Set<string>()
  const out: Candidate[] = []
  for (const c of candidates) {
    if (seen.has(c.id)) continue
    seen.add(c.id)
    out.push(c)
  }
  return out
}

function createContext (
  nodes: readonly Candidate[], dimensions: readonly Dimension[], request: PlacementRequest,
  random: RandomSource, options: SelectOptions
): Context {
  const values = new Map<Dimension, { of: Int32Array, count: number, largest: number }>()
  for (const d of dimensions) {
    const ids = new Map<string, number>()
    const sizes: number[] = []
    const of = new Int32Array(nodes.length)
    nodes.forEach((node, i) => {
      const label = node.labels[d]
      let id = ids.get(label)
      if (id === undefined) {
        id = ids.size
        ids.set(label, id)
        sizes.push(0)
      }
      of[i] = id
      sizes[id] = (sizes[id] ?? 0) + 1
    })
    let largest = 0
    for (const size of sizes) largest = Math.max(largest, size)
    values.set(d, { of, count: ids.size, largest })
  }
  return {
    nodes,
    total: request.total,
    random,
    greedyAttempts: options.greedyAttempts ?? GREEDY_ATTEMPTS,
    maxSearchSteps: options.maxSearchSteps ?? EXACT_SEARCH_MAX_STEPS,
    values,
    answers: new Map()
  }
}

function valuesOf (ctx: Context, dimension: Dimension): { readonly of: Int32Array, readonly count: number, readonly largest: number } {
  const v = ctx.values.get(dimension)
  if (v === undefined) throw new Error(`internal: dimension ${dimension} was not indexed`)
  return v
}

/**
 * Can `total` nodes be placed under these limits? One greedy attempt first (it succeeds on almost
 * every real question, and spreads best); then a maximum-flow screen (exact for up to two
 * constrained dimensions), so that impossible questions don't cost further attempts; then the other
 * greedy attempts; then the exact answer. Answers are remembered for the rest of the call.
 */
function place (ctx: Context, limits: readonly Limit[]): Outcome {
  const key = limits.map(l => `${l.dimension}:${l.cap}`).join(',')
  const known = ctx.answers.get(key)
  if (known !== undefined) return known
  const tryGreedy = (): Outcome | undefined => {
    const nodes = greedy(ctx, limits)
    return nodes === undefined ? undefined : { kind: 'placed', nodes }
  }
  let outcome = ctx.greedyAttempts > 0 ? tryGreedy() : undefined
  if (outcome === undefined) {
    const problem = classify(ctx, limits)
    const screened = screen(ctx, problem)
    if (screened === 'infeasible') outcome = { kind: 'infeasible' }
    for (let attempt = 1; attempt < ctx.greedyAttempts && outcome === undefined; attempt++) outcome = tryGreedy()
    outcome ??= exact(ctx, problem, screened === 'infeasible' ? undefined : screened)
  }
  ctx.answers.set(key, outcome)
  return outcome
}

/** A random index in [0, n), robust to a source that returns 1 or garbage. */
function randomIndex (random: RandomSource, n: number): number {
  const r = random()
  const i = Math.floor((Number.isFinite(r) ? r : 0) * n)
  return Math.min(n - 1, Math.max(0, i))
}

/** Power of two choices: two uniform samples from the pool, the one with more free space wins. */
function twoChoices (ctx: Context, pool: readonly number[]): number {
  const a = pool[randomIndex(ctx.random, pool.length)] ?? 0
  const b = pool[randomIndex(ctx.random, pool.length)] ?? 0
  return (ctx.nodes[b]?.freeBytes ?? 0) > (ctx.nodes[a]?.freeBytes ?? 0) ? b : a
}

/**
 * Picks `count` nodes one at a time, each among the unchosen nodes under every cap whose values hold
 * the fewest pieces so far, by two choices. Returns the picks, or undefined when some step finds no
 * node under the caps (only when `caps` is given; without caps it stops when the nodes run out).
 */
function spread (
  ctx: Context, dimensions: readonly Dimension[], caps: readonly number[] | undefined,
  chosen: Uint8Array, count: number, counts: readonly Int32Array[]
): number[] | undefined {
  const of = dimensions.map(d => valuesOf(ctx, d).of)
  const picks: number[] = []
  const pool: number[] = []
  for (let step = 0; step < count; step++) {
    pool.length = 0
    let fewest = Infinity
    for (let i = 0; i < ctx.nodes.length; i++) {
      if (chosen[i] === 1) continue
      let load = 0
      let allowed = true
      for (let l = 0; l < of.length; l++) {
        const held = counts[l]?.[of[l]?.[i] ?? 0] ?? 0
        if (caps !== undefined && held >= (caps[l] ?? 0)) {
          allowed = false
          break
        }
        load += held
      }
      if (!allowed || load > fewest) continue
      if (load < fewest) {
        fewest = load
        pool.length = 0
      }
      pool.push(i)
    }
    if (pool.length === 0) return caps === undefined ? picks : undefined
    const pick = twoChoices(ctx, pool)
    chosen[pick] = 1
    picks.push(pick)
    for (let l = 0; l < of.length; l++) {
      const c = counts[l]
      const v = of[l]?.[pick] ?? 0
      if (c !== undefined) c[v] = (c[v] ?? 0) + 1
    }
  }
  return picks
}

function emptyCounts (ctx: Context, dimensions: readonly Dimension[]): Int32Array[] {
  return dimensions.map(d => new Int32Array(valuesOf(ctx, d).count))
}

function greedy (ctx: Context, limits: readonly Limit[]): number[] | undefined {
  const dimensions = limits.map(l => l.dimension)
  return spread(ctx, dimensions, limits.map(l => l.cap), new Uint8Array(ctx.nodes.length), ctx.total,
    emptyCounts(ctx, dimensions))
}

/** Nodes with the same values over the constrained dimensions: any of them will do as well as another. */
interface NodeClass {
  readonly members: number[]
  /** The class's value on each binding limit. */
  readonly values: readonly number[]
}

/** A feasibility question in classes: the limits that can bind, and nodes grouped by their values. */
interface Problem {
  readonly binding: readonly Limit[]
  readonly classes: readonly NodeClass[]
}

/**
 * Leaves out limits that can't bind (a cap of total or more, or no value with more nodes than the
 * cap) and groups the nodes into classes by their values on the rest, biggest class first (deciding
 * big classes early shrinks the search fastest).
 */
function classify (ctx: Context, limits: readonly Limit[]): Problem {
  const binding = limits.filter(l => l.cap < ctx.total && valuesOf(ctx, l.dimension).largest > l.cap)
  const of = binding.map(l => valuesOf(ctx, l.dimension).of)
  const byKey = new Map<string, NodeClass>()
  for (let i = 0; i < ctx.nodes.length; i++) {
    const values = of.map(o => o[i] ?? 0)
    const key = values.join(',')
    const existing = byKey.get(key)
    if (existing === undefined) byKey.set(key, { members: [i], values })
    else existing.members.push(i)
  }
  return { binding, classes: [...byKey.values()].sort((a, b) => b.members.length - a.members.length) }
}

/**
 * Maximum flows on the binding limits, one pair at a time. One or two binding limits make the
 * question a bipartite b-matching (values of one dimension on one side, of the other on the other,
 * classes as edges), which the flow answers exactly: 'infeasible', or how many to take per class.
 * With more, each pair is a relaxation: a pair that can't hold `total` settles 'infeasible', else
 * the answer is still open (undefined).
 */
function screen (ctx: Context, problem: Problem): Int32Array | 'infeasible' | undefined {
  const { binding, classes } = problem
  if (binding.length === 0) return undefined
  if (binding.length <= 2) return flowTake(ctx, binding, classes, 0, binding.length - 1) ?? 'infeasible'
  for (let a = 0; a < binding.length; a++) {
    for (let b = a + 1; b < binding.length; b++) {
      if (flowTake(ctx, binding, classes, a, b) === undefined) return 'infeasible'
    }
  }
  return undefined
}

/**
 * The exact answer once screen() has not ruled the question out: no binding limit takes any nodes;
 * counts from the flow are used as they are; otherwise (three or more binding limits) a search over
 * how many to take from each class, which may answer 'gave-up' (see EXACT_SEARCH_MAX_STEPS).
 */
function exact (ctx: Context, problem: Problem, counts: Int32Array | undefined): Outcome {
  const { binding, classes } = problem
  if (binding.length === 0) return { kind: 'placed', nodes: takeWeighted(ctx, ctx.nodes.map((_, i) => i), ctx.total) }
  let take = counts
  if (take === undefined) {
    const found = searchTake(ctx, binding, classes)
    if (found === 'gave-up') return { kind: 'gave-up' }
    if (found === undefined) return { kind: 'infeasible' }
    take = found
  }
  const nodes: number[] = []
  classes.forEach((cls, i) => { nodes.push(...takeWeighted(ctx, cls.members, take[i] ?? 0)) })
  return { kind: 'placed', nodes: shuffle(ctx, nodes) }
}

/**
 * Maximum flow (Dinic) from a source through the values of limit `a`, the classes, and the values
 * of limit `b` to a sink, values capped at their limit's cap, classes at their size, the whole at
 * `total`. Returns how many to take from each class when the flow reaches `total`, else undefined.
 * With a === b (one binding limit) the classes hang straight off the values of that limit.
 */
function flowTake (
  ctx: Context, binding: readonly Limit[], classes: readonly NodeClass[], a: number, b: number
): Int32Array | undefined {
  const countA = valuesOf(ctx, binding[a]?.dimension ?? 'provider').count
  const countB = valuesOf(ctx, binding[b]?.dimension ?? 'provider').count
  const capA = binding[a]?.cap ?? 0
  const capB = binding[b]?.cap ?? 0
  // Vertices: 0 source, 1 sink, then the values of a, then the values of b (unless a === b).
  const source = 0
  const sink = 1
  const firstA = 2
  const firstB = a === b ? firstA : firstA + countA
  const vertices = a === b ? firstA + countA : firstB + countB
  const head = new Int32Array(vertices).fill(-1)
  const to: number[] = []
  const cap: number[] = []
  const next: number[] = []
  const addEdge = (u: number, v: number, c: number): number => {
    to.push(v, u)
    cap.push(c, 0)
    next.push(head[u] ?? -1, head[v] ?? -1)
    head[u] = to.length - 2
    head[v] = to.length - 1
    return to.length - 2
  }
  for (let v = 0; v < countA; v++) addEdge(source, firstA + v, capA)
  if (a !== b) for (let v = 0; v < countB; v++) addEdge(firstB + v, sink, capB)
  // In the one-limit case each class goes from its value straight to the sink.
  const classEdge = classes.map(cls => addEdge(
    firstA + (cls.values[a] ?? 0), a === b ? sink : firstB + (cls.values[b] ?? 0), cls.members.length))

  const level = new Int32Array(vertices)
  const cursor = new Int32Array(vertices)
  const bfs = (): boolean => {
    level.fill(-1)
    level[source] = 0
    const queue = [source]
    for (let q = 0; q < queue.length; q++) {
      const u = queue[q] ?? 0
      for (let e = head[u] ?? -1; e !== -1; e = next[e] ?? -1) {
        const v = to[e] ?? 0
        if ((cap[e] ?? 0) > 0 && level[v] === -1) {
          level[v] = (level[u] ?? 0) + 1
          queue.push(v)
        }
      }
    }
    return level[sink] !== -1
  }
  // The graph has at most four layers, so the recursion is at most four deep.
  const push = (u: number, limit: number): number => {
    if (u === sink) return limit
    for (; (cursor[u] ?? -1) !== -1; cursor[u] = next[cursor[u] ?? 0] ?? -1) {
      const e = cursor[u] ?? 0
      const v = to[e] ?? 0
      if ((cap[e] ?? 0) <= 0 || level[v] !== (level[u] ?? 0) + 1) continue
      const pushed = push(v, Math.min(limit, cap[e] ?? 0))
      if (pushed > 0) {
        cap[e] = (cap[e] ?? 0) - pushed
        cap[e ^ 1] = (cap[e ^ 1] ?? 0) + pushed
        return pushed
      }
    }
    return 0
  }
  let flow = 0
  while (flow < ctx.total && bfs()) {
    cursor.set(head)
    while (flow < ctx.total) {
      const pushed = push(source, ctx.total - flow)
      if (pushed === 0) break
      flow += pushed
    }
  }
  if (flow < ctx.total) return undefined
  // The flow on a class's edge is the residual capacity of its reverse edge.
  return Int32Array.from(classEdge, e => cap[e ^ 1] ?? 0)
}

/**
 * Most characters of failed-state keys the search remembers. Forgetting only costs pruning, never
 * correctness, and this keeps the memory of one search to a few tens of MiB on any network.
 */
const SEARCH_MEMO_MAX_CHARS = 8_000_000

/**
 * Depth-first search over how many nodes to take from each class (most first), for three or more
 * binding limits. Pruned by an upper bound kept up to date as it goes (under each limit, each value
 * can still take at most min(room under its cap, its undecided nodes)) and by remembering states that
 * failed (whether the rest can be completed depends only on the class reached and on how many pieces
 * each value holds). Returns the counts, undefined when none exist, or 'gave-up' after
 * ctx.maxSearchSteps search nodes.
 */
function searchTake (
  ctx: Context, binding: readonly Limit[], classes: readonly NodeClass[]
): Int32Array | undefined | 'gave-up' {
  const caps = binding.map(l => l.cap)
  const used = binding.map(l => new Int32Array(valuesOf(ctx, l.dimension).count))
  const left = binding.map(l => new Int32Array(valuesOf(ctx, l.dimension).count))
  for (const cls of classes) {
    cls.values.forEach((v, l) => {
      const a = left[l]
      if (a !== undefined) a[v] = (a[v] ?? 0) + cls.members.length
    })
  }
  const room = binding.map((_, l) => {
    let r = 0
    const a = left[l] ?? new Int32Array(0)
    for (let v = 0; v < a.length; v++) r += Math.min(caps[l] ?? 0, a[v] ?? 0)
    return r
  })
  // Values holding pieces, per limit, for the memo key (at most `total` of them).
  const holding = binding.map(() => new Map<number, number>())
  const change = (l: number, v: number, usedBy: number, leftBy: number): void => {
    const u = used[l]
    const a = left[l]
    if (u === undefined || a === undefined) return
    const cap = caps[l] ?? 0
    const before = Math.min(cap - (u[v] ?? 0), a[v] ?? 0)
    u[v] = (u[v] ?? 0) + usedBy
    a[v] = (a[v] ?? 0) + leftBy
    room[l] = (room[l] ?? 0) - before + Math.min(cap - (u[v] ?? 0), a[v] ?? 0)
    const held = holding[l]
    if (held !== undefined && usedBy !== 0) {
      if ((u[v] ?? 0) === 0) held.delete(v)
      else held.set(v, u[v] ?? 0)
    }
  }
  const stateKey = (index: number): string =>
    `${index}|${holding.map(h => [...h].sort((x, y) => x[0] - y[0]).map(([v, n]) => `${v}:${n}`).join(',')).join(';')}`

  const take = new Int32Array(classes.length)
  const failed = new Set<string>()
  let memoChars = 0
  let steps = 0
  let gaveUp = false
  const search = (index: number, need: number): boolean => {
    if (need === 0) return true
    if (index === classes.length || gaveUp) return false
    if (++steps > ctx.maxSearchSteps) {
      gaveUp = true
      return false
    }
    if (room.some(r => r < need)) return false
    const key = stateKey(index)
    if (failed.has(key)) return false
    const cls = classes[index]
    if (cls === undefined) return false
    let most = Math.min(cls.members.length, need)
    cls.values.forEach((v, l) => { most = Math.min(most, (caps[l] ?? 0) - (used[l]?.[v] ?? 0)) })
    cls.values.forEach((v, l) => { change(l, v, 0, -cls.members.length) })
    let found = false
    for (let x = most; x >= 0 && !found && !gaveUp; x--) {
      cls.values.forEach((v, l) => { change(l, v, x, 0) })
      if (search(index + 1, need - x)) {
        take[index] = x
        found = true
      }
      cls.values.forEach((v, l) => { change(l, v, -x, 0) })
    }
    cls.values.forEach((v, l) => { change(l, v, 0, cls.members.length) })
    if (!found && !gaveUp && memoChars < SEARCH_MEMO_MAX_CHARS) {
      failed.add(key)
      memoChars += key.length
    }
    return found
  }
  if (search(0, ctx.total)) return take
  return gaveUp ? 'gave-up' : undefined
}

/** `count` distinct members, each by two choices among those not yet taken. */
function takeWeighted (ctx: Context, members: readonly number[], count: number): number[] {
  const rest = [...members]
  const out: number[] = []
  while (out.length < count && rest.length > 0) {
    const pick = twoChoices(ctx, rest)
    out.push(pick)
    const at = rest.indexOf(pick)
    rest[at] = rest[rest.length - 1] ?? pick
    rest.pop()
  }
  return out
}

/** Fisher–Yates, so that piece order says nothing about classes. */
function shuffle (ctx: Context, items: number[]): number[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomIndex(ctx.random, i + 1)
    const t = items[i] ?? 0
    items[i] = items[j] ?? 0
    items[j] = t
  }
  return items
}

/**
 * Why the full policy can't be met: a single dimension's shortfall when there is one, else the
 * smallest set of dimensions that can't be met together, else (search gave up) that it gave up.
 */
function explain (
  ctx: Context, request: PlacementRequest, dimensions: readonly Dimension[], full: readonly Limit[],
  outcome: Outcome, roomy: string
): { readonly dimensions: readonly Dimension[], readonly message: string } {
  const shortfall = describeShortfall(ctx.nodes.map(n => n.labels), request.k, request.total, request.policy, `online${roomy}`)
  if (shortfall !== undefined) return shortfall
  const nodes = `the ${ctx.nodes.length} online nodes${roomy}`
  // Smallest first, so the message names only the dimensions that clash (sort is stable, so among
  // equal sizes earlier-listed dimensions still come first).
  for (const subset of subsetsBySize(dimensions).sort((a, b) => a.length - b.length)) {
    if (subset.length < 2) continue
    const answer = subset.length === dimensions.length ? outcome : place(ctx, full.filter(l => subset.includes(l.dimension)))
    if (answer.kind === 'infeasible') {
      return { dimensions: subset, message: `no combination of ${nodes} satisfies ${joinDimensions(subset)} together` }
    }
  }
  return {
    dimensions,
    message: `no placement of ${request.total} pieces over ${nodes} satisfying ${joinDimensions(dimensions)} ` +
      `together was found within the search limit of ${ctx.maxSearchSteps} steps`
  }
}

/**
 * Every subset of the dimensions, largest first; among equal sizes, those keeping earlier-listed
 * dimensions first (a bit mask with the first dimension as its highest bit, in decreasing order).
 */
function subsetsBySize (dimensions: readonly Dimension[]): Dimension[][] {
  const n = dimensions.length
  const subset = (mask: number): Dimension[] => dimensions.filter((_, j) => (mask & (1 << (n - 1 - j))) !== 0)
  const masks: number[] = []
  for (let mask = (1 << n) - 1; mask >= 0; mask--) masks.push(mask)
  masks.sort((a, b) => subset(b).length - subset(a).length || b - a)
  return masks.map(subset)
}

/**
 * The strongest placement still possible: the largest set of dimensions that can be met at the
 * policy's cap (dropping later-listed ones first), then, one dropped dimension at a time in policy
 * order, the smallest cap that still works (binary search: being placeable only gets easier as a cap
 * grows), so dropped dimensions are spread as evenly as the network allows.
 */
function bestEffort (ctx: Context, dimensions: readonly Dimension[], cap: number): readonly number[] {
  let nodes: readonly number[] | undefined
  let kept: Dimension[] = []
  for (const subset of subsetsBySize(dimensions)) {
    if (subset.length === dimensions.length) continue
    const outcome = place(ctx, subset.map(dimension => ({ dimension, cap })))
    if (outcome.kind === 'placed') {
      nodes = outcome.nodes
      kept = subset
      break
    }
  }
  // The empty subset always places: there are at least `total` eligible nodes.
  if (nodes === undefined) throw new Error('internal: no placement even without a policy')
  const limits: Limit[] = kept.map(dimension => ({ dimension, cap }))
  for (const dimension of dimensions) {
    if (kept.includes(dimension)) continue
    // A cap of `cap` or less is known not to work (else this dimension would have been kept).
    let low = Math.max(cap + 1, Math.ceil(ctx.total / valuesOf(ctx, dimension).count))
    let high = ctx.total
    while (low < high) {
      const mid = Math.floor((low + high) / 2)
      const outcome = place(ctx, [...limits, { dimension, cap: mid }])
      if (outcome.kind === 'placed') {
        high = mid
        nodes = outcome.nodes
      } else {
        low = mid + 1
      }
    }
    limits.push({ dimension, cap: high })
  }
  return nodes
}

function finish (
  ctx: Context, request: PlacementRequest, dimensions: readonly Dimension[], picks: readonly number[], reason?: string
): PlacementResult {
  const chosen = new Uint8Array(ctx.nodes.length)
  const counts = emptyCounts(ctx, dimensions)
  for (const i of picks) {
    chosen[i] = 1
    dimensions.forEach((d, l) => {
      const c = counts[l]
      const v = valuesOf(ctx, d).of[i] ?? 0
      if (c !== undefined) c[v] = (c[v] ?? 0) + 1
    })
  }
  const spareIndexes = spread(ctx, dimensions, undefined, chosen, request.spares, counts) ?? []
  const nodes = picks.map(i => nodeAt(ctx, i))
  const policy: PlacementPolicy = request.policy
  const { unmet } = checkPlacement(nodes.map(n => n.labels), request.k, policy)
  return {
    nodes,
    spares: spareIndexes.map(i => nodeAt(ctx, i)),
    unmet,
    ...(unmet.length > 0 ? { reason: reason ?? 'the network cannot meet the whole policy' } : {})
  }
}

function nodeAt (ctx: Context, i: number): Candidate {
  const node = ctx.nodes[i]
  if (node === undefined) throw new Error(`internal: no node at ${i}`)
  return node
}
