/**
 * Order limits: a coordinator's signed permission for one party (the holder of `downloaderKey`) to
 * do one action on one piece at one node, up to `maxBytes`, before `expiresAt`, once (`serial`).
 * Nodes store or serve a piece only for a request carrying a valid limit plus the holder's signature
 * over the limit's serial, which proves the request comes from the party the limit was issued to.
 *
 * Wire form (HTTP headers):
 *   x-shoal-order-limit:  base64url(canonical JSON of the limit) "." base64url(coordinator signature)
 *   x-shoal-order-proof:  base64url(holder's signature of "shoal-order-proof:v1:" + serial)
 */
import { randomBytes } from 'node:crypto'
import { OrderLimitError } from './errors.js'
import { type Identity, idFromPublicKey, verifySignature } from './identity.js'

export const ORDER_LIMIT_HEADER = 'x-shoal-order-limit'
export const ORDER_PROOF_HEADER = 'x-shoal-order-proof'

export const PIECE_ACTIONS = ['put', 'get', 'delete', 'audit'] as const
export type PieceAction = typeof PIECE_ACTIONS[number]

/** How long a limit issued for an upload or download stays valid: long enough for a 64 MiB piece on a slow link. */
export const ORDER_LIMIT_TTL_MS = 10 * 60_000
/** Clock skew tolerated between coordinator and node when checking issuedAt. */
export const CLOCK_SKEW_MS = 60_000
/** A node refuses limits valid for longer than this, which bounds how long it must remember serials. */
export const MAX_ORDER_LIMIT_TTL_MS = 60 * 60_000

/** A piece id: 32 random bytes, hex. Node paths are derived from it, so the format is enforced everywhere. */
export const PIECE_ID_PATTERN = /^[0-9a-f]{64}$/

export interface OrderLimit {
  readonly version: 1
  /** 16 random bytes, hex; a node accepts each serial once. */
  readonly serial: string
  readonly coordinatorId: string
  readonly nodeId: string
  readonly pieceId: string
  readonly action: PieceAction
  readonly maxBytes: number
  readonly issuedAt: number
  readonly expiresAt: number
  /** Public key (SPKI DER base64) of the only party that may use this limit. */
  readonly downloaderKey: string
}

/** A new random piece id. */
export function newPieceId (): string {
  return randomBytes(32).toString('hex')
}

/** A new random serial number. */
export function newSerial (): string {
  return randomBytes(16).toString('hex')
}

/** The bytes that are signed: JSON with a fixed key order, so signer and verifier agree. */
export function encodeOrderLimit (limit: OrderLimit): Buffer {
  return Buffer.from(JSON.stringify([
    limit.version, limit.serial, limit.coordinatorId, limit.nodeId, limit.pieceId, limit.action,
    limit.maxBytes, limit.issuedAt, limit.expiresAt, limit.downloaderKey
  ]))
}

function decodeOrderLimit (bytes: Buffer): OrderLimit {
  let v: unknown
  try {
    v = JSON.parse(bytes.toString('utf8'))
  } catch (err) {
    throw new OrderLimitError('malformed', 'order limit is not valid JSON', { cause: err })
  }
  if (!Array.isArray(v) || v.length !== 10) throw new OrderLimitError('malformed', 'order limit must be a 10-element array')
  const [version, serial, coordinatorId, nodeId, pieceId, action, maxBytes, issuedAt, expiresAt, downloaderKey] = v
  if (version !== 1) throw new OrderLimitError('malformed', `order limit version ${String(version)} is not supported (expected 1)`)
  const text = (x: unknown, what: string, re: RegExp): string => {
    if (typeof x !== 'string' || !re.test(x)) throw new OrderLimitError('malformed', `order limit field ${what} is malformed`)
    return x
  }
  const int = (x: unknown, what: string): number => {
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) throw new OrderLimitError('malformed', `order limit field ${what} must be a non-negative integer`)
    return x
  }
  if (!(PIECE_ACTIONS as readonly unknown[]).includes(action)) throw new OrderLimitError('malformed', `order limit action must be one of ${PIECE_ACTIONS.join(', ')}`)
  return {
    version: 1,
    serial: text(serial, 'serial', /^[0-9a-f]{32}$/),
    coordinatorId: text(coordinatorId, 'coordinatorId', /^[0-9a-f]{40}$/),
    nodeId: text(nodeId, 'nodeId', /^[0-9a-f]{40}$/),
    pieceId: text(pieceId, 'pieceId', PIECE_ID_PATTERN),
    action: action as PieceAction,
    maxBytes: int(maxBytes, 'maxBytes'),
    issuedAt: int(issuedAt, 'issuedAt'),
    expiresAt: int(expiresAt, 'expiresAt'),
    downloaderKey: text(downloaderKey, 'downloaderKey', /^[A-Za-z0-9+/]+=*$/)
  }
}

/** Signs `limit` with the coordinator's identity and returns the header value. */
export function signOrderLimit (coordinator: Identity, limit: OrderLimit): string {
  const bytes = encodeOrderLimit(limit)
  return `${bytes.toString('base64url')}.${coordinator.sign(bytes).toString('base64url')}`
}

function proofMessage (serial: string): Buffer {
  return Buffer.from(`shoal-order-proof:v1:${serial}`)
}

/** The holder's proof header value for a limit it was issued. */
export function signOrderProof (holder: Identity, limit: OrderLimit): string {
  return holder.sign(proofMessage(limit.serial)).toString('base64url')
}

export interface OrderLimitExpectation {
  /** Public key of the coordinator this node trusts. */
  readonly coordinatorKey: string
  readonly nodeId: string
  readonly pieceId: string
  readonly action: PieceAction
  readonly now: number
}

/**
 * Parses and checks a request's order limit and proof headers against what the node expects.
 * Throws OrderLimitError with a `reason` naming what was wrong. Replay is checked by the caller
 * (it owns the serial store), after this returns.
 */
export function verifyOrderLimit (header: string | undefined, proof: string | undefined, expect: OrderLimitExpectation): OrderLimit {
  if (header === undefined || header === '') {
    throw new OrderLimitError('missing', `request carries no order limit (${ORDER_LIMIT_HEADER} header); ask the coordinator for one`)
  }
  const dot = header.indexOf('.')
  if (dot <= 0 || dot !== header.lastIndexOf('.')) throw new OrderLimitError('malformed', `${ORDER_LIMIT_HEADER} must be <limit>.<signature> in base64url`)
  const bytes = Buffer.from(header.slice(0, dot), 'base64url')
  const signature = Buffer.from(header.slice(dot + 1), 'base64url')
  const limit = decodeOrderLimit(bytes)
  if (limit.coordinatorId !== idFromPublicKey(expect.coordinatorKey)) {
    throw new OrderLimitError('untrusted-coordinator', `order limit was issued by coordinator ${limit.coordinatorId}, which this node does not trust`)
  }
  if (!verifySignature(expect.coordinatorKey, bytes, signature)) {
    throw new OrderLimitError('bad-signature', 'order limit signature does not verify against the trusted coordinator key')
  }
  if (limit.nodeId !== expect.nodeId) throw new OrderLimitError('wrong-node', `order limit is for node ${limit.nodeId}, not this node (${expect.nodeId})`)
  if (limit.pieceId !== expect.pieceId) throw new OrderLimitError('wrong-piece', `order limit is for piece ${limit.pieceId}, not ${expect.pieceId}`)
  if (limit.action !== expect.action) throw new OrderLimitError('wrong-action', `order limit allows ${limit.action}, not ${expect.action}`)
  if (limit.expiresAt <= expect.now) throw new OrderLimitError('expired', `order limit expired ${expect.now - limit.expiresAt} ms ago; ask the coordinator for a new one`)
  if (limit.issuedAt > expect.now + CLOCK_SKEW_MS) throw new OrderLimitError('not-yet-valid', 'order limit is issued in the future; check the clocks of node and coordinator')
  if (limit.expiresAt - limit.issuedAt > MAX_ORDER_LIMIT_TTL_MS) {
    throw new OrderLimitError('malformed', `order limit is valid for more than ${MAX_ORDER_LIMIT_TTL_MS} ms, which nodes refuse`)
  }
  if (proof === undefined || proof === '') throw new OrderLimitError('bad-request-signature', `request carries no ${ORDER_PROOF_HEADER} header`)
  let ok = false
  try {
    ok = verifySignature(limit.downloaderKey, proofMessage(limit.serial), Buffer.from(proof, 'base64url'))
  } catch (err) {
    throw new OrderLimitError('bad-request-signature', 'order limit names a downloader key that is not an ed25519 key', { cause: err })
  }
  if (!ok) throw new OrderLimitError('bad-request-signature', 'request is not signed by the party the order limit was issued to')
  return limit
}
