/**
 * The placement contract: which nodes hold the pieces of one segment. Pure (no I/O, no clock, no
 * global randomness: a RandomSource is injected), so that the same code runs in the coordinator, in
 * tests over thousands of generated networks and in simulators, and a seeded run repeats exactly.
 *
 * The invariant: for each dimension D of the policy, after removing every node of the single worst
 * value of D (the value holding most pieces), at least k + margin pieces remain. Equivalently, no value
 * of D holds more than total − k − margin pieces. Never two pieces on one node.
 */

/** The failure-domain labels every node carries. `subnet` is derived from the node's address. */
export const DIMENSIONS = ['provider', 'region', 'operator', 'subnet'] as const
export type Dimension = typeof DIMENSIONS[number]

export type Labels = Readonly<Record<Dimension, string>>

/** A node that may receive a piece: only online, non-full nodes are passed in. */
export interface Candidate {
  readonly id: string
  readonly labels: Labels
  /** Free capacity in bytes; selection is weighted by it. */
  readonly freeBytes: number
}

/**
 * What must be survived. For each dimension D listed, after removing every node of the single worst
 * value of D (the value holding most pieces), at least k + margin pieces remain.
 */
export interface PlacementPolicy {
  /** Dimensions to survive, most important first: best-effort placement gives up later ones first. */
  readonly dimensions: readonly Dimension[]
  /** Pieces to keep beyond k after the worst value of any dimension is lost (a non-negative integer). */
  readonly margin: number
}

export interface PlacementRequest {
  /** Pieces needed to rebuild the segment. */
  readonly k: number
  /** Pieces that must be placed under the policy (k + m). */
  readonly total: number
  /**
   * Extra pieces uploaded only to cut the long tail; placed after the others, on the values holding
   * fewest pieces, weighted by free space. They are not held to the policy's caps.
   */
  readonly spares: number
  /** Bytes each piece will take; nodes with less free space are skipped. */
  readonly pieceBytes: number
  readonly policy: PlacementPolicy
  /**
   * 'strict' throws PlacementError when the policy can't be met; 'best-effort' returns the strongest
   * placement still possible and lists what it could not meet in `unmet`: as many dimensions met as
   * possible (later-listed ones are given up first), the given-up ones spread as evenly as the network
   * allows. Both modes throw when fewer than `total` nodes have room, or when total − k − margin < 1.
   */
  readonly mode: 'strict' | 'best-effort'
}

export interface PlacementResult {
  /** `total` distinct nodes, in piece order. */
  readonly nodes: readonly Candidate[]
  /** Up to `spares` further distinct nodes (fewer when the network has no more). */
  readonly spares: readonly Candidate[]
  /** Dimensions of the policy this placement does not satisfy; empty when fully placed. */
  readonly unmet: readonly Dimension[]
  /** Human-readable reason when `unmet` is not empty, e.g. "policy needs 3 providers; 2 are online: aws, hetzner". */
  readonly reason?: string
}

/**
 * A source of uniform random numbers in [0, 1), like Math.random. Injected so that placement stays
 * pure; tests and simulators pass a seeded generator.
 */
export type RandomSource = () => number

/** The value of one dimension that holds the most pieces, and how many it holds. */
export interface WorstValue {
  /** The label value ('' when there are no pieces). Ties go to the value that sorts first. */
  readonly value: string
  readonly pieces: number
}

/** What checkPlacement found for one set of pieces. */
export interface PlacementCheck {
  /** True when every dimension of the policy is met and at least k + margin pieces exist. */
  readonly ok: boolean
  /** Policy dimensions whose worst value holds more than pieces − k − margin pieces, in policy order. */
  readonly unmet: readonly Dimension[]
  /** The worst value of every dimension (of the policy or not), for messages and risk reports. */
  readonly worst: Readonly<Record<Dimension, WorstValue>>
  /** Number of pieces checked. */
  readonly pieces: number
}
