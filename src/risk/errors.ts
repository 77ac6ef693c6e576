/**
 * Errors raised by the risk module. Each failure has its own class, told apart by `name` (never by
 * message text), with `cause` kept.
 */

/**
 * The input is malformed: a duplicate node id, a negative or non-integer size, a segment whose k is
 * not a positive integer, an unknown dimension. A programming or data error, raised before any result
 * is returned; the message names the offending node, segment (bucket/key) or field.
 */
export class InvalidRiskInputError extends Error {
  static readonly NAME = 'InvalidRiskInputError'
  override readonly name = InvalidRiskInputError.NAME

  constructor (message: string, options?: { readonly cause?: unknown }) {
    super(message, options)
  }
}
