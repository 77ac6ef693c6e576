/**
 * One streaming pass over the segments, shared by riskReport and dryRunOutage. For each partition of
 * the nodes into failure domains (provider, region, …, or "this one domain") it counts, per domain,
 * the segments and objects that would be unavailable / lost if that domain went down.
 *
 * Memory: O(nodes + objects + entities) plus, per partition, one entry for each (object, domain) pair
 * that the domain alone would make unavailable or lost although it is not so already. A domain can do
 * that to a segment only by holding one of its pieces, so those pairs number at most the distinct
 * domains holding an object's pieces: none in a well-placed network, never more than the object's
 * piece count. Objects that are unavailable or lost already (the baseline) are counted once, not once per
 * domain. Pieces themselves are never kept.
 *
 * Per segment of n pieces the work is O(n · partitions), with no allocation.
 */

import { InvalidRiskInputError } from './errors.js'
import type { Availability, RiskNode, RiskSegment } from './risk.js'

/** The nodes, validated, with each node's position. */
export interface NodeIndex {
  readonly nodes: readonly RiskNode[]
  readonly indexOf: ReadonlyMap<string, number>
  readonly online: Uint8Array
}

/** A cut of the nodes into domains: entityOf[node position] is its domain's index in `names`, or −1. */
export interface Partition {
  readonly names: readonly string[]
  readonly entityOf: Int32Array
}

/** Per domain of one partition: what its outage would make unavailable / lost, baseline included. */
export interface PartitionImpact {
  readonly segmentsUnavailable: readonly number[]
  readonly segmentsLost: readonly number[]
  readonly objectsUnavailable: readonly number[]
  readonly objectsLost: readonly number[]
  /** Objects each domain alone makes unavailable / lost (not so at baseline); undefined when none. */
  readonly causedUnavailable: ReadonlyArray<ReadonlySet<number> | undefined>
  readonly causedLost: ReadonlyArray<ReadonlySet<number> | undefined>
}

export interface ScanResult {
  /** Bytes of the in-scope pieces each node holds, by node position. */
  readonly nodeStored: Float64Array
  readonly segments: number
  readonly pieces: number
  readonly unknownNodePieces: number
  readonly unknownNodeBytes: number
  /** Bucket and key of each distinct object seen, by object index. */
  readonly objectBuckets: readonly string[]
  readonly objectKeys: readonly string[]
  /** Per object: BASELINE_UNAVAILABLE | BASELINE_LOST bits. */
  readonly objectFlags: Uint8Array
  readonly baseline: Availability
  readonly partitions: readonly PartitionImpact[]
}

export const BASELINE_UNAVAILABLE = 1
export const BASELINE_LOST = 2

/** Validates the nodes (distinct ids, non-negative safe-integer capacity) and indexes them. */
export function indexNodes (nodes: readonly RiskNode[]): NodeIndex {
  const indexOf = new Map<string, number>()
  const online = new Uint8Array(nodes.length)
  nodes.forEach((node, i) => {
    if (indexOf.has(node.id)) throw new InvalidRiskInputError(`node ${JSON.stringify(node.id)} is listed twice`)
    if (!isSize(node.capacityBytes)) {
      throw new InvalidRiskInputError(
        `node ${JSON.stringify(node.id)}: capacityBytes must be a non-negative safe integer, got ${String(node.capacityBytes)}`)
    }
    indexOf.set(node.id, i)
    online[i] = node.online ? 1 : 0
  })
  return { nodes, indexOf, online }
}

/** The partition of the nodes by a label: one domain per distinct value, in order of first appearance. */
export function partitionBy (index: NodeIndex, label: (node: RiskNode) => string): Partition {
  const positions = new Map<string, number>()
  const entityOf = new Int32Array(index.nodes.length)
  index.nodes.forEach((node, i) => {
    const value = label(node)
    let e = positions.get(value)
    if (e === undefined) {
      e = positions.size
      positions.set(value, e)
    }
    entityOf[i] = e
  })
  return { names: [...positions.keys()], entityOf }
}

/**
 * Reads every segment once (only those of `bucket` when given). Throws an InvalidRiskInputError on a
 * segment whose k is not a positive integer or a piece whose bytes is not a non-negative safe integer.
 */
export function scan (index: NodeIndex, segments: Iterable<RiskSegment>, bucket: string | undefined, partitions: readonly Partition[]): ScanResult {
  const nodeStored = new Float64Array(index.nodes.length)
  const objectIds = new Map<string, Map<string, number>>()
  const objectBuckets: string[] = []
  const objectKeys: string[] = []
  let flags = new Uint8Array(1024)
  let segmentCount = 0
  let pieceCount = 0
  let unknownNodePieces = 0
  let unknownNodeBytes = 0
  let segmentsUnavailable = 0
  let segmentsLost = 0

  const acc = partitions.map(p => {
    const n = p.names.length
    return {
      entityOf: p.entityOf,
      segUnavailable: new Array<number>(n).fill(0),
      segLost: new Array<number>(n).fill(0),
      causedUnavailable: new Array<Set<number> | undefined>(n),
      causedLost: new Array<Set<number> | undefined>(n),
      // Scratch, zero between segments: pieces of the current segment in each domain.
      allIn: new Int32Array(n),
      onlineIn: new Int32Array(n),
      touched: new Int32Array(n)
    }
  })
  let held = new Int32Array(64)

  for (const segment of segments) {
    if (bucket !== undefined && segment.bucket !== bucket) continue
    const { k, pieces } = segment
    if (!Number.isSafeInteger(k) || k < 1) {
      throw new InvalidRiskInputError(`segment of ${name(segment)}: k must be a positive integer, got ${String(k)}`)
    }
    let byKey = objectIds.get(segment.bucket)
    if (byKey === undefined) {
      byKey = new Map()
      objectIds.set(segment.bucket, byKey)
    }
    let object = byKey.get(segment.key)
    if (object === undefined) {
      object = objectBuckets.length
      byKey.set(segment.key, object)
      objectBuckets.push(segment.bucket)
      objectKeys.push(segment.key)
      if (object >= flags.length) {
        const grown = new Uint8Array(flags.length * 2)
        grown.set(flags)
        flags = grown
      }
    }
    segmentCount++

    // Resolve the pieces to node positions; a piece on an unknown node counts as missing.
    if (held.length < pieces.length) held = new Int32Array(pieces.length * 2)
    let total = 0
    let online = 0
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]
      if (piece === undefined) continue
      if (!isSize(piece.bytes)) {
        throw new InvalidRiskInputError(
          `segment of ${name(segment)}: piece ${i} bytes must be a non-negative safe integer, got ${String(piece.bytes)}`)
      }
      const node = index.indexOf.get(piece.nodeId)
      if (node === undefined) {
        unknownNodePieces++
        unknownNodeBytes += piece.bytes
        continue
      }
      pieceCount++
      nodeStored[node] = (nodeStored[node] ?? 0) + piece.bytes
      held[total++] = node
      online += index.online[node] ?? 0
    }

    const unavailableNow = online < k
    if (unavailableNow) {
      segmentsUnavailable++
      flags[object] = (flags[object] ?? 0) | BASELINE_UNAVAILABLE
    }
    if (total < k) {
      // Lost already: no outage can add anything to this segment.
      segmentsLost++
      flags[object] = (flags[object] ?? 0) | BASELINE_LOST
      continue
    }

    for (const a of acc) {
      let touched = 0
      for (let i = 0; i < total; i++) {
        const node = held[i] ?? 0
        const e = a.entityOf[node] ?? -1
        if (e < 0) continue
        if (a.allIn[e] === 0) a.touched[touched++] = e
        a.allIn[e] = (a.allIn[e] ?? 0) + 1
        a.onlineIn[e] = (a.onlineIn[e] ?? 0) + (index.online[node] ?? 0)
      }
      for (let j = 0; j < touched; j++) {
        const e = a.touched[j] ?? 0
        const lost = total - (a.allIn[e] ?? 0) < k
        const unavailable = !unavailableNow && online - (a.onlineIn[e] ?? 0) < k
        a.allIn[e] = 0
        a.onlineIn[e] = 0
        if (unavailable) {
          a.segUnavailable[e] = (a.segUnavailable[e] ?? 0) + 1
          if (((flags[object] ?? 0) & BASELINE_UNAVAILABLE) === 0) a.causedUnavailable[e] = addTo(a.causedUnavailable[e], object)
        }
        if (lost) {
          a.segLost[e] = (a.segLost[e] ?? 0) + 1
          if (((flags[object] ?? 0) & BASELINE_LOST) === 0) a.causedLost[e] = addTo(a.causedLost[e], object)
        }
      }
    }
  }

  const objectFlags = flags.subarray(0, objectBuckets.length)
  // An object may have become unavailable / lost at baseline through a later segment: it is then
  // counted in the baseline, and no longer as caused by a domain.
  const prune = (sets: Array<Set<number> | undefined>, bit: number): void => {
    for (const set of sets) {
      if (set === undefined) continue
      for (const object of set) if (((objectFlags[object] ?? 0) & bit) !== 0) set.delete(object)
    }
  }
  let objectsUnavailable = 0
  let objectsLost = 0
  for (const f of objectFlags) {
    if ((f & BASELINE_UNAVAILABLE) !== 0) objectsUnavailable++
    if ((f & BASELINE_LOST) !== 0) objectsLost++
  }
  const impacts = acc.map((a): PartitionImpact => {
    prune(a.causedUnavailable, BASELINE_UNAVAILABLE)
    prune(a.causedLost, BASELINE_LOST)
    return {
      segmentsUnavailable: a.segUnavailable.map(n => n + segmentsUnavailable),
      segmentsLost: a.segLost.map(n => n + segmentsLost),
      objectsUnavailable: Array.from(a.causedUnavailable, s => (s?.size ?? 0) + objectsUnavailable),
      objectsLost: Array.from(a.causedLost, s => (s?.size ?? 0) + objectsLost),
      causedUnavailable: a.causedUnavailable,
      causedLost: a.causedLost
    }
  })

  return {
    nodeStored,
    segments: segmentCount,
    pieces: pieceCount,
    unknownNodePieces,
    unknownNodeBytes,
    objectBuckets,
    objectKeys,
    objectFlags,
    baseline: { objectsUnavailable, objectsLost, segmentsUnavailable, segmentsLost },
    partitions: impacts
  }
}

function addTo (set: Set<number> | undefined, object: number): Set<number> {
  const s = set ?? new Set<number>()
  s.add(object)
  return s
}

function isSize (n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0
}

function name (segment: RiskSegment): string {
  return JSON.stringify(`${segment.bucket}/${segment.key}`)
}
