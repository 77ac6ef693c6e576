/**
 * The concentration-risk report and the outage dry run, over one streaming pass of the segments
 * (scan.ts). Pure: nodes and segments come in, plain data goes out.
 */

import { concentration } from './concentration.js'
import { InvalidRiskInputError } from './errors.js'
import { DRY_RUN_MAX_OBJECTS, RISK_DIMENSIONS } from './risk.js'
import type {
  AffectedObject, AffectedObjects, BlastRadius, Concentration, DryRunOptions, OutageDomain, OutageImpact,
  RiskDimension, RiskInput, RiskNode, RiskReport, Weighting
} from './risk.js'
import { BASELINE_LOST, BASELINE_UNAVAILABLE, indexNodes, partitionBy, scan } from './scan.js'
import type { NodeIndex, Partition, PartitionImpact, ScanResult } from './scan.js'

/**
 * The concentration-risk report of the nodes and the segments in scope: per dimension, shares of
 * stored bytes and of capacity with their HHI and Nakamoto coefficients, and every entity's blast
 * radius. Reads `segments` once. Throws an InvalidRiskInputError on malformed input (duplicate node
 * id, bad size or k, `objects` not a non-negative integer).
 */
export function riskReport (input: RiskInput): RiskReport {
  checkObjects(input.objects)
  const index = indexNodes(input.nodes)
  const partitions = RISK_DIMENSIONS.map(d => partitionBy(index, n => n[d]))
  const result = scan(index, input.segments, input.bucket, partitions)

  const concentrations = {} as Record<RiskDimension, Record<Weighting, Concentration>>
  const blastRadius = {} as Record<RiskDimension, BlastRadius[]>
  RISK_DIMENSIONS.forEach((dimension, d) => {
    const partition = partitions[d] as Partition
    const impact = result.partitions[d] as PartitionImpact
    concentrations[dimension] = {
      stored: concentration(sumBy(partition, i => BigInt(result.nodeStored[i] ?? 0))),
      capacity: concentration(sumBy(partition, i => BigInt(index.nodes[i]?.capacityBytes ?? 0)))
    }
    const nodes = countNodes(index, partition)
    blastRadius[dimension] = partition.names
      .map((name, e): BlastRadius => ({
        name,
        nodes: nodes.all[e] ?? 0,
        onlineNodes: nodes.online[e] ?? 0,
        objectsUnavailable: impact.objectsUnavailable[e] ?? 0,
        objectsLost: impact.objectsLost[e] ?? 0,
        segmentsUnavailable: impact.segmentsUnavailable[e] ?? 0,
        segmentsLost: impact.segmentsLost[e] ?? 0
      }))
      .sort((a, b) =>
        b.objectsUnavailable - a.objectsUnavailable || b.objectsLost - a.objectsLost ||
        b.segmentsUnavailable - a.segmentsUnavailable || b.segmentsLost - a.segmentsLost ||
        compareText(a.name, b.name))
  })

  let storedBytes = 0
  for (const bytes of result.nodeStored) storedBytes += bytes
  let capacityBytes = 0
  let onlineCapacityBytes = 0
  let onlineNodes = 0
  for (const node of index.nodes) {
    capacityBytes += node.capacityBytes
    if (node.online) {
      onlineNodes++
      onlineCapacityBytes += node.capacityBytes
    }
  }
  return {
    bucket: input.bucket ?? null,
    totals: {
      nodes: index.nodes.length,
      onlineNodes,
      objects: Math.max(input.objects, result.objectBuckets.length),
      objectsWithSegments: result.objectBuckets.length,
      segments: result.segments,
      pieces: result.pieces,
      storedBytes,
      capacityBytes,
      onlineCapacityBytes,
      unknownNodePieces: result.unknownNodePieces,
      unknownNodeBytes: result.unknownNodeBytes
    },
    baseline: result.baseline,
    concentration: concentrations,
    blastRadius
  }
}

/**
 * What the outage of one domain would do given the current online state: every node whose `dimension`
 * label equals `value`, or (dimension 'node') the node with that id. Counts exactly, and lists up to
 * `maxObjects` objects per list. A value that matches no node is not an error: `nodes` is 0 and only the
 * baseline is affected. Throws an InvalidRiskInputError for an unknown dimension, a bad maxObjects, or
 * malformed input as riskReport does.
 */
export function dryRunOutage (input: RiskInput, domain: OutageDomain, options: DryRunOptions = {}): OutageImpact {
  checkObjects(input.objects)
  const { dimension, value } = domain
  if (dimension !== 'node' && !(RISK_DIMENSIONS as readonly string[]).includes(dimension)) {
    throw new InvalidRiskInputError(
      `unknown outage dimension ${JSON.stringify(dimension)}; expected node or one of ${RISK_DIMENSIONS.join(', ')}`)
  }
  const maxObjects = options.maxObjects ?? DRY_RUN_MAX_OBJECTS
  if (!Number.isSafeInteger(maxObjects) || maxObjects < 0) {
    throw new InvalidRiskInputError(`maxObjects must be a non-negative integer, got ${String(maxObjects)}`)
  }
  const index = indexNodes(input.nodes)
  const inDomain = (node: RiskNode): boolean => (dimension === 'node' ? node.id : node[dimension]) === value
  const entityOf = new Int32Array(index.nodes.length)
  let nodes = 0
  let onlineNodes = 0
  index.nodes.forEach((node, i) => {
    const member = inDomain(node)
    entityOf[i] = member ? 0 : -1
    if (member) {
      nodes++
      if (node.online) onlineNodes++
    }
  })
  const result = scan(index, input.segments, input.bucket, [{ names: [value], entityOf }])
  const impact = result.partitions[0] as PartitionImpact
  let storedBytes = 0
  entityOf.forEach((e, i) => { if (e === 0) storedBytes += result.nodeStored[i] ?? 0 })

  return {
    domain: { dimension, value },
    nodes,
    onlineNodes,
    storedBytes,
    unavailable: affected(result, BASELINE_UNAVAILABLE, impact.causedUnavailable[0], impact.segmentsUnavailable[0] ?? 0, maxObjects),
    lost: affected(result, BASELINE_LOST, impact.causedLost[0], impact.segmentsLost[0] ?? 0, maxObjects),
    baseline: result.baseline
  }
}

/** The objects affected at baseline (flag `bit`) plus those the outage causes, listed up to `max`. */
function affected (result: ScanResult, bit: number, caused: ReadonlySet<number> | undefined, segments: number, max: number): AffectedObjects {
  const causedList = [...(caused ?? [])]
  const already: number[] = []
  result.objectFlags.forEach((f, object) => { if ((f & bit) !== 0) already.push(object) })
  const byName = (a: number, b: number): number =>
    compareText(result.objectBuckets[a] ?? '', result.objectBuckets[b] ?? '') ||
    compareText(result.objectKeys[a] ?? '', result.objectKeys[b] ?? '')
  causedList.sort(byName)
  already.sort(byName)
  const entry = (object: number, causedByOutage: boolean): AffectedObject => ({
    bucket: result.objectBuckets[object] ?? '',
    key: result.objectKeys[object] ?? '',
    causedByOutage
  })
  const objects = [
    ...causedList.slice(0, max).map(o => entry(o, true)),
    ...already.slice(0, Math.max(0, max - causedList.length)).map(o => entry(o, false))
  ]
  const count = causedList.length + already.length
  return { count, causedByOutage: causedList.length, segments, objects, truncated: objects.length < count }
}

/** Per domain of a partition, the sum of a per-node amount. */
function sumBy (partition: Partition, amount: (node: number) => bigint): Array<[string, bigint]> {
  const sums = partition.names.map((): bigint => 0n)
  partition.entityOf.forEach((e, i) => { sums[e] = (sums[e] ?? 0n) + amount(i) })
  return partition.names.map((name, e) => [name, sums[e] ?? 0n])
}

function countNodes (index: NodeIndex, partition: Partition): { all: number[], online: number[] } {
  const all = partition.names.map(() => 0)
  const online = partition.names.map(() => 0)
  partition.entityOf.forEach((e, i) => {
    all[e] = (all[e] ?? 0) + 1
    online[e] = (online[e] ?? 0) + (index.online[i] ?? 0)
  })
  return { all, online }
}

function checkObjects (objects: number): void {
  if (!Number.isSafeInteger(objects) || objects < 0) {
    throw new InvalidRiskInputError(`objects must be a non-negative integer, got ${String(objects)}`)
  }
}

/** Code-unit order: the same on every machine and locale, unlike localeCompare. */
function compareText (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
