/**
 * Errors of the data path. Told apart by `name`; the coordinator's API maps them to HTTP statuses.
 */

export type PieceFailureKind = 'unreachable' | 'timeout' | 'refused' | 'corrupt' | 'bad-receipt' | 'aborted'

/** Options of a PieceTransferError: the cause, and the node's HTTP status when it answered with an error. */
export interface PieceTransferErrorOptions extends ErrorOptions {
  readonly status?: number
}

/** One piece transfer to or from one node failed. The data path absorbs these while enough pieces remain. */
export class PieceTransferError extends Error {
  override readonly name = 'PieceTransferError'
  readonly nodeId: string
  readonly kind: PieceFailureKind
  /** The HTTP status of the node's error reply (404: it has no such piece); absent when it sent none. */
  readonly status?: number

  constructor (nodeId: string, kind: PieceFailureKind, message: string, options?: PieceTransferErrorOptions) {
    super(message, options)
    this.nodeId = nodeId
    this.kind = kind
    if (options?.status !== undefined) this.status = options.status
  }
}

/** Too few pieces of a segment could be stored; the upload fails and nothing becomes visible. */
export class UploadFailedError extends Error {
  override readonly name = 'UploadFailedError'
}

/** Too few verified pieces of a segment could be fetched to rebuild it. */
export class ObjectUnavailableError extends Error {
  override readonly name = 'ObjectUnavailableError'
}

/** The requested bucket or object does not exist. */
export class NoSuchObjectError extends Error {
  override readonly name = 'NoSuchObjectError'
}

/** A requested byte range lies outside the object (HTTP 416). */
export class InvalidRangeError extends Error {
  override readonly name = 'InvalidRangeError'
}

/** The object's body ended before its declared length, or ran past it. */
export class IncompleteBodyError extends Error {
  override readonly name = 'IncompleteBodyError'
}
