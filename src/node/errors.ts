/**
 * Errors of the node agent: the piece store, the piece server, coordinator trust and configuration.
 * Each failure has its own class, told apart by `name` (never by message text); `reason` is the stable
 * word the piece API puts in its ErrorBody, and `cause` is kept.
 */

/** A piece id is not 64 lowercase hex characters. Raised before the file system is touched. */
export class InvalidPieceIdError extends Error {
  override readonly name = 'InvalidPieceIdError'
  readonly reason = 'invalid-piece-id'
}

/** A piece hash (the x-shoal-piece-hash header or `expectedHash`) is not 64 lowercase hex characters. */
export class InvalidPieceHashError extends Error {
  override readonly name = 'InvalidPieceHashError'
  readonly reason = 'invalid-piece-hash'
}

/** No piece with this id is stored here. */
export class PieceNotFoundError extends Error {
  override readonly name = 'PieceNotFoundError'
  readonly reason = 'not-found'
}

/** A piece with this id is already stored; pieces are immutable, so a second write is refused. */
export class PieceExistsError extends Error {
  override readonly name = 'PieceExistsError'
  readonly reason = 'exists'
}

/** The bytes offered for a piece exceed the allowed maximum; nothing was kept. */
export class PieceTooLargeError extends Error {
  override readonly name = 'PieceTooLargeError'
  readonly reason = 'too-large'
}

/** The bytes received do not hash to the Merkle root the uploader announced; nothing was kept. */
export class PieceHashMismatchError extends Error {
  override readonly name = 'PieceHashMismatchError'
  readonly reason = 'hash-mismatch'
}

/** A stored piece no longer matches its recorded Merkle root (bit rot, tampering, a torn header). */
export class PieceCorruptedError extends Error {
  override readonly name = 'PieceCorruptedError'
  readonly reason = 'corrupted'
}

/** An audit asked for a block the piece does not have, or named no block (query `block`). */
export class InvalidAuditError extends Error {
  override readonly name = 'InvalidAuditError'
  readonly reason = 'invalid-audit'
}

/** A retain (garbage collection) request arrived while another one was still running on this node. */
export class RetainInProgressError extends Error {
  override readonly name = 'RetainInProgressError'
  readonly reason = 'retain-in-progress'
}

/** A request body (a retain request) is larger than the endpoint accepts. */
export class RequestTooLargeError extends Error {
  override readonly name = 'RequestTooLargeError'
  readonly reason = 'request-too-large'
}

/** Storing the piece would exceed the node's configured capacity or the disk's free space. */
export class InsufficientCapacityError extends Error {
  override readonly name = 'InsufficientCapacityError'
  readonly reason = 'insufficient-capacity'
}

/** The piece store (or another component) was used before start() or after stop(). */
export class NotStartedError extends Error {
  override readonly name = 'NotStartedError'
  readonly reason = 'not-started'
}

/** An HTTP request matched no route of the piece API. */
export class RouteNotFoundError extends Error {
  override readonly name = 'RouteNotFoundError'
  readonly reason = 'no-such-route'
}

/** An HTTP request used a method the route does not support. */
export class MethodNotAllowedError extends Error {
  override readonly name = 'MethodNotAllowedError'
  readonly reason = 'method-not-allowed'
  readonly allow: readonly string[]

  constructor (allow: readonly string[], message: string, options?: ErrorOptions) {
    super(message, options)
    this.allow = allow
  }
}

/** A client stalled mid-request longer than the idle timeout and was cut off. */
export class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError'
  readonly reason = 'timeout'
}

/**
 * The coordinator's identity can't be trusted: it presented a key other than the pinned one, its id
 * does not derive from its key, or its identity document is malformed.
 */
export class CoordinatorTrustError extends Error {
  override readonly name = 'CoordinatorTrustError'
  readonly reason = 'untrusted-coordinator'
}

/** A NodeAgent init setting is invalid; `field` names it. */
export class NodeConfigError extends Error {
  override readonly name = 'NodeConfigError'
  readonly field: string

  constructor (field: string, message: string, options?: ErrorOptions) {
    super(`invalid node setting "${field}": ${message}`, options)
    this.field = field
  }
}
