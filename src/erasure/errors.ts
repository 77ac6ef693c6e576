/**
 * Errors raised by erasure codecs. Each failure has its own class, told apart by `name` (never by
 * message text); every message says what was wrong and what to do about it, and `cause` is kept.
 */

/** Options accepted by every erasure error: the underlying failure, when there is one. */
export interface ErasureErrorOptions {
  readonly cause?: unknown
}

/**
 * The (k, m) pair is outside what the codecs support (1 ≤ k ≤ 24, 1 ≤ m ≤ 6, both integers).
 * Thrown synchronously when a codec or shard set is created.
 */
export class UnsupportedParametersError extends Error {
  static readonly NAME = 'UnsupportedParametersError'
  override readonly name = UnsupportedParametersError.NAME

  constructor (message: string, options?: ErasureErrorOptions) {
    super(message, options)
  }
}

/**
 * The shards handed to encode/reconstruct are malformed: wrong count, not Buffers, unequal or
 * unaligned lengths, overlapping memory, or a malformed `present` array. Nothing was written.
 */
export class InvalidShardsError extends Error {
  static readonly NAME = 'InvalidShardsError'
  override readonly name = InvalidShardsError.NAME

  constructor (message: string, options?: ErasureErrorOptions) {
    super(message, options)
  }
}

/** Fewer than k shards are present, so the missing ones cannot be rebuilt. Nothing was written. */
export class NotEnoughShardsError extends Error {
  static readonly NAME = 'NotEnoughShardsError'
  override readonly name = NotEnoughShardsError.NAME

  constructor (message: string, options?: ErasureErrorOptions) {
    super(message, options)
  }
}

/** The native erasure-coding addon could not be loaded (not built for this platform or Node version). */
export class CodecUnavailableError extends Error {
  static readonly NAME = 'CodecUnavailableError'
  override readonly name = CodecUnavailableError.NAME

  constructor (message: string, options?: ErasureErrorOptions) {
    super(message, options)
  }
}

/**
 * The codec refused arguments that passed validation. This is a bug in the codec wrapper, not in the
 * caller's input; `cause` holds the underlying error.
 */
export class CodecFailedError extends Error {
  static readonly NAME = 'CodecFailedError'
  override readonly name = CodecFailedError.NAME

  constructor (message: string, options?: ErasureErrorOptions) {
    super(message, options)
  }
}
