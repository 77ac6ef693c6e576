/**
 * Errors raised by placement. Each failure has its own class, told apart by `name` (never by message
 * text); messages are written for the user who set the policy, and `cause` is kept.
 */

import type { Dimension } from './placement.js'

/** Options accepted by PlacementError. */
export interface PlacementErrorOptions {
  /** Policy dimensions that could not be met; empty when the network is simply too small or too full. */
  readonly unmet?: readonly Dimension[]
  readonly cause?: unknown
}

/**
 * No placement exists that the request accepts: fewer eligible nodes than pieces, a policy no network
 * can meet (total − k − margin < 1), or (in strict mode) a policy this network can't meet. The message
 * says why in user terms, e.g. "policy needs 3 providers; 2 are online: aws, hetzner".
 */
export class PlacementError extends Error {
  static readonly NAME = 'PlacementError'
  override readonly name = PlacementError.NAME
  /** The policy dimensions that could not be met (for programs; people read the message). */
  readonly unmet: readonly Dimension[]

  constructor (message: string, options: PlacementErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.unmet = Object.freeze([...(options.unmet ?? [])])
  }
}

/**
 * A placement request or policy is malformed (k not a positive integer, total < k, a negative margin,
 * an unknown dimension…). A programming or configuration error, raised before any node is looked at.
 */
export class InvalidPlacementRequestError extends Error {
  static readonly NAME = 'InvalidPlacementRequestError'
  override readonly name = InvalidPlacementRequestError.NAME

  constructor (message: string, options?: { readonly cause?: unknown }) {
    super(message, options)
  }
}

/** subnetOf was given something that is not an IPv4 or IPv6 address. */
export class InvalidAddressError extends Error {
  static readonly NAME = 'InvalidAddressError'
  override readonly name = InvalidAddressError.NAME

  constructor (message: string, options?: { readonly cause?: unknown }) {
    super(message, options)
  }
}
