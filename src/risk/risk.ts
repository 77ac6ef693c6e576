/**
 * The risk contract: how concentrated a Shoal network is on any one provider, region, operator,
 * country or ASN, and what one such failure domain would take with it if it went down (for a while,
 * or for good). Pure (no I/O, no clock): the caller reads nodes and segments from metadata and passes
 * them in; segments are consumed as a stream, so memory grows with objects and entities, not pieces.
 *
 * Definitions (DESIGN.md, "Failure domains and placement"): a segment can be read while at least k of
 * its pieces are on online nodes, and survives while at least k of its pieces exist at all. An object
 * (bucket + key) is unavailable / lost when any one of its segments is.
 */

/** The failure-domain labels a report is cut by. `asn` is derived from `provider` (see asnOf). */
export const RISK_DIMENSIONS = ['provider', 'region', 'operator', 'country', 'asn'] as const
export type RiskDimension = typeof RISK_DIMENSIONS[number]

/**
 * What a share is a share of: 'stored' weighs each node by the bytes of the pieces it holds (of the
 * segments in scope), 'capacity' by its declared capacityBytes (every node passed in, online or not).
 */
export const WEIGHTINGS = ['stored', 'capacity'] as const
export type Weighting = typeof WEIGHTINGS[number]

export interface RiskNode {
  readonly id: string
  readonly provider: string
  readonly region: string
  readonly operator: string
  readonly country: string
  /** "AS16509", or "unknown"; normally asnOf(node). */
  readonly asn: string
  /** A non-negative safe integer. */
  readonly capacityBytes: number
  readonly online: boolean
}

/** One segment of one stored object: which node holds each piece and how many pieces are needed. */
export interface RiskSegment {
  readonly bucket: string
  readonly key: string
  /** Pieces needed to rebuild the segment: a positive integer. */
  readonly k: number
  /** One entry per piece; bytes is a non-negative safe integer. */
  readonly pieces: ReadonlyArray<{ readonly nodeId: string, readonly bytes: number }>
}

export interface RiskInput {
  readonly nodes: readonly RiskNode[]
  /** Read once, in order, without being kept; segments of one object need not be adjacent. */
  readonly segments: Iterable<RiskSegment>
  /** Objects in scope, inline ones (no segments) included. */
  readonly objects: number
  /** When set, only this bucket's segments count (shares by capacity still cover every node). */
  readonly bucket?: string
}

/** One entity's part of a weighting. */
export interface EntityShare {
  readonly name: string
  readonly bytes: number
  /** bytes / total, in [0, 1], rounded to SHARE_DECIMALS places; 0 when the total is 0. */
  readonly share: number
}

/**
 * Nakamoto coefficients: the fewest entities (largest first) whose combined bytes are strictly more
 * than a third / a half of the total. 0 when the total is 0.
 */
export interface Nakamoto {
  readonly overThird: number
  readonly overHalf: number
}

/** The concentration of one dimension under one weighting. */
export interface Concentration {
  readonly totalBytes: number
  /** Herfindahl–Hirschman index, Σ (100 · share)², 0 – 10,000, rounded to HHI_DECIMALS places; 0 when the total is 0. */
  readonly hhi: number
  readonly nakamoto: Nakamoto
  /** Every entity that labels at least one node, by bytes descending, then by name (code-unit order). */
  readonly shares: readonly EntityShare[]
}

/** What would be unreadable or gone. Lost implies unavailable, so lost counts never exceed unavailable ones. */
export interface Availability {
  /** Objects with a segment that has fewer than k pieces on online nodes. */
  readonly objectsUnavailable: number
  /** Objects with a segment that has fewer than k pieces anywhere (online or not). */
  readonly objectsLost: number
  readonly segmentsUnavailable: number
  readonly segmentsLost: number
}

/**
 * What the outage of one entity would do, given the current online state: its nodes' pieces are
 * removed and the rest counted. Includes what is already unavailable or lost with no outage at all
 * (the report's `baseline`), so `objectsUnavailable − baseline.objectsUnavailable` is what this entity
 * adds.
 */
export interface BlastRadius extends Availability {
  readonly name: string
  readonly nodes: number
  readonly onlineNodes: number
}

export interface RiskTotals {
  readonly nodes: number
  readonly onlineNodes: number
  /** max(input.objects, objectsWithSegments): a count read a moment before the scan may be behind. */
  readonly objects: number
  /** Distinct bucket + key among the segments in scope. */
  readonly objectsWithSegments: number
  readonly segments: number
  /** Pieces on known nodes. */
  readonly pieces: number
  /** Bytes of pieces on known nodes. */
  readonly storedBytes: number
  readonly capacityBytes: number
  readonly onlineCapacityBytes: number
  /** Pieces whose node is not among `nodes`: they count as missing, and in no entity's share. */
  readonly unknownNodePieces: number
  readonly unknownNodeBytes: number
}

/** The concentration-risk report. Plain data: JSON.stringify gives the same text for the same input. */
export interface RiskReport {
  /** The bucket in scope, or null for the whole network. */
  readonly bucket: string | null
  readonly totals: RiskTotals
  /** Unavailable / lost right now, with no outage beyond the nodes already offline. */
  readonly baseline: Availability
  readonly concentration: Readonly<Record<RiskDimension, Readonly<Record<Weighting, Concentration>>>>
  /** Per dimension, every entity, most objects unavailable first (then most lost, then by name). */
  readonly blastRadius: Readonly<Record<RiskDimension, readonly BlastRadius[]>>
}

/** A failure domain to take out in a dry run: every node with that label value, or one node by id. */
export interface OutageDomain {
  readonly dimension: RiskDimension | 'node'
  readonly value: string
}

export interface AffectedObject {
  readonly bucket: string
  readonly key: string
  /** False when the object was already unavailable (or lost) before this outage. */
  readonly causedByOutage: boolean
}

export interface AffectedObjects {
  /** Every affected object, those affected already before the outage included. */
  readonly count: number
  /** Of `count`, those affected only because of this outage. */
  readonly causedByOutage: number
  readonly segments: number
  /** Up to maxObjects of them: those caused by the outage first, then by bucket, then by key (code-unit order). */
  readonly objects: readonly AffectedObject[]
  /** True when `objects` lists fewer than `count`. */
  readonly truncated: boolean
}

/** What dryRunOutage found for one domain. */
export interface OutageImpact {
  readonly domain: OutageDomain
  /** Nodes in the domain; 0 means the value matches no node (a typo?) and nothing beyond the baseline is affected. */
  readonly nodes: number
  readonly onlineNodes: number
  /** Bytes of the pieces (of the segments in scope) held by the domain's nodes. */
  readonly storedBytes: number
  readonly unavailable: AffectedObjects
  readonly lost: AffectedObjects
  readonly baseline: Availability
}

export interface DryRunOptions {
  /** Most objects listed in each of `unavailable` and `lost` (default DRY_RUN_MAX_OBJECTS). */
  readonly maxObjects?: number
}

/** Objects listed per list in a dry run by default: enough to act on, small enough to print or send as JSON. */
export const DRY_RUN_MAX_OBJECTS = 1000

/** Decimal places of a share: 10⁻⁶ of a network is far below anything a decision turns on. */
export const SHARE_DECIMALS = 6

/** Decimal places of an HHI: the scale is 0–10,000, so hundredths are already finer than any threshold (1,500 / 2,500). */
export const HHI_DECIMALS = 2
