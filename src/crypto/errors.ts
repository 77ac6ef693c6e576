/**
 * Errors of the crypto layer: signatures, order limits and sealed data. Told apart by `name`.
 */

/** A signature, key or signed message could not be parsed or did not verify. */
export class InvalidSignatureError extends Error {
  override readonly name = 'InvalidSignatureError'
}

/** An order limit is malformed, unsigned, expired, for another node/piece/action, or replayed. */
export class OrderLimitError extends Error {
  override readonly name = 'OrderLimitError'
  /** A stable reason for the wire protocol and tests: what exactly was wrong. */
  readonly reason: OrderLimitRejection

  constructor (reason: OrderLimitRejection, message: string, options?: ErrorOptions) {
    super(message, options)
    this.reason = reason
  }
}

export type OrderLimitRejection =
  | 'missing'
  | 'malformed'
  | 'bad-signature'
  | 'untrusted-coordinator'
  | 'wrong-node'
  | 'wrong-piece'
  | 'wrong-action'
  | 'expired'
  | 'not-yet-valid'
  | 'too-large'
  | 'replayed'
  | 'bad-request-signature'

/** Sealed data (an encrypted segment, a sealed secret) failed authentication: wrong key or tampered bytes. */
export class DecryptionError extends Error {
  override readonly name = 'DecryptionError'
}
