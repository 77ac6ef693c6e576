/** Errors of the coordinator's own logic (registry, keyring). */

/** A heartbeat that is unsigned, badly signed, stale or malformed. */
export class InvalidHeartbeatError extends Error {
  override readonly name = 'InvalidHeartbeatError'
}

/** A node id the coordinator has never seen. */
export class UnknownNodeError extends Error {
  override readonly name = 'UnknownNodeError'
}
