/**
 * Retain requests: the coordinator's signed instruction to one node to keep the pieces in a Bloom
 * filter (src/util/bloom.ts) and delete every other piece stored before `createdBefore`. Garbage
 * collection sends one per node per pass; the node checks the signature against the coordinator key it
 * trusts and that the request names it, so nobody else can make a node delete pieces.
 *
 * Wire form: POST /retain with the body below, signed whole by the coordinator (ed25519, base64url in
 * the x-shoal-signature header). Integers are big-endian:
 *
 *   0..16   "shoal-retain:v1\n"  (version and domain separation: no other signed message starts so)
 *   16..36  node id (20 bytes; the 40-hex id decoded)
 *   36..44  createdBefore, ms since the epoch (u64, at most 2^53 − 1)
 *   44..    the filter, BloomFilter.encode()
 *
 * A replayed request deletes nothing the original did not: it names the same node, filter and cut-off,
 * and pieces stored after the cut-off are never deleted.
 */
import { type Identity, verifySignature } from './identity.js'
import { CLOCK_SKEW_MS } from './order-limit.js'
import { BloomFilter } from '../util/bloom.js'

/** First bytes of every retain request body. */
export const RETAIN_MAGIC = Buffer.from('shoal-retain:v1\n', 'latin1')
/** Bytes before the filter: magic, node id, createdBefore. */
export const RETAIN_HEADER_BYTES = RETAIN_MAGIC.length + 20 + 8
const NODE_ID_PATTERN = /^[0-9a-f]{40}$/

/** What a retain request says. */
export interface RetainRequest {
  readonly version: 1
  /** The node that must obey it (40 hex). */
  readonly nodeId: string
  /** Only pieces stored before this (ms since the epoch) may be deleted. */
  readonly createdBefore: number
  /** BloomFilter.encode() of the piece ids the node must keep. */
  readonly filter: Buffer
}

/** A retain request with its signature, as sent. */
export interface SignedRetainRequest {
  readonly body: Buffer
  /** base64url ed25519 signature of `body` by the coordinator. */
  readonly signature: string
}

export type RetainRejection = 'missing-signature' | 'bad-signature' | 'wrong-node' | 'malformed' | 'future'

/** A retain request is unsigned, not signed by the trusted coordinator, for another node, or malformed. */
export class RetainRequestError extends Error {
  override readonly name = 'RetainRequestError'
  /** What exactly was wrong, stable for the wire protocol and tests. */
  readonly reason: RetainRejection

  constructor (reason: RetainRejection, message: string, options?: ErrorOptions) {
    super(message, options)
    this.reason = reason
  }
}

/** The body bytes of `req` (the wire form above). Throws RangeError on a malformed node id or time. */
export function encodeRetainRequest (req: RetainRequest): Buffer {
  if (req.version !== 1) throw new RangeError('retain request version must be 1')
  if (!NODE_ID_PATTERN.test(req.nodeId)) throw new RangeError('node id must be 40 lowercase hex characters')
  if (!Number.isSafeInteger(req.createdBefore) || req.createdBefore < 0) throw new RangeError('createdBefore must be a non-negative integer (ms)')
  const header = Buffer.alloc(RETAIN_HEADER_BYTES)
  RETAIN_MAGIC.copy(header, 0)
  Buffer.from(req.nodeId, 'hex').copy(header, RETAIN_MAGIC.length)
  header.writeBigUInt64BE(BigInt(req.createdBefore), RETAIN_MAGIC.length + 20)
  return Buffer.concat([header, req.filter])
}

/** Encodes `req` and signs it with the coordinator's identity. Throws RangeError like encodeRetainRequest. */
export function signRetainRequest (coordinator: Identity, req: RetainRequest): SignedRetainRequest {
  const body = encodeRetainRequest(req)
  return { body, signature: coordinator.sign(body).toString('base64url') }
}

/** What a node checks a retain request against. */
export interface RetainExpectation {
  /** Public key (SPKI DER base64) of the coordinator the node trusts. */
  readonly coordinatorKey: string
  /** This node's id. */
  readonly nodeId: string
  /** The node's clock (ms); a createdBefore more than CLOCK_SKEW_MS ahead of it is refused. Default Date.now(). */
  readonly now?: number
}

/**
 * Checks a received retain request: signed by the trusted coordinator (first, before anything in the
 * body is believed), for this node, with a well-formed filter and a cut-off not in the future. Returns
 * the request; throws RetainRequestError with a `reason` otherwise.
 */
export function verifyRetainRequest (body: Buffer, signature: string | undefined, expect: RetainExpectation): RetainRequest {
  if (signature === undefined || signature === '') throw new RetainRequestError('missing-signature', 'retain request carries no signature')
  let ok = false
  try {
    ok = verifySignature(expect.coordinatorKey, body, Buffer.from(signature, 'base64url'))
  } catch (err) {
    throw new RetainRequestError('bad-signature', 'the trusted coordinator key is not an ed25519 key', { cause: err })
  }
  if (!ok) throw new RetainRequestError('bad-signature', 'retain request is not signed by the trusted coordinator')
  if (body.length < RETAIN_HEADER_BYTES || !body.subarray(0, RETAIN_MAGIC.length).equals(RETAIN_MAGIC)) {
    throw new RetainRequestError('malformed', 'retain request does not start with a version 1 header')
  }
  const nodeId = body.subarray(RETAIN_MAGIC.length, RETAIN_MAGIC.length + 20).toString('hex')
  if (nodeId !== expect.nodeId) throw new RetainRequestError('wrong-node', `retain request is for node ${nodeId}, not this node (${expect.nodeId})`)
  const createdBefore = body.readBigUInt64BE(RETAIN_MAGIC.length + 20)
  if (createdBefore > BigInt(Number.MAX_SAFE_INTEGER)) throw new RetainRequestError('malformed', 'retain request has an impossible createdBefore')
  const now = expect.now ?? Date.now()
  if (Number(createdBefore) > now + CLOCK_SKEW_MS) {
    throw new RetainRequestError('future', 'retain request would delete pieces stored in the future; check the clocks of node and coordinator')
  }
  const filter = body.subarray(RETAIN_HEADER_BYTES)
  try {
    BloomFilter.decode(filter)
  } catch (err) {
    throw new RetainRequestError('malformed', `retain request carries a bad filter: ${(err as Error).message}`, { cause: err })
  }
  return { version: 1, nodeId, createdBefore: Number(createdBefore), filter }
}
