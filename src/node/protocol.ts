/**
 * The wire protocol between node agents and coordinators/gateways, shared by both sides.
 *
 * Node → coordinator: a signed heartbeat every HEARTBEAT_INTERVAL_MS (registration is the first one).
 * Gateway → node: piece PUT/GET/DELETE under /pieces/:pieceId, each carrying an order limit
 * (src/crypto/order-limit.ts). A PUT answers with a receipt the node signs.
 * Coordinator → node: audits, GET /pieces/:pieceId/audit?block=N (order limit action "audit"), answered
 * with the block's bytes followed by its RFC 9162 inclusion proof (32 bytes per hash), sized by the
 * headers below; garbage collection, POST /retain with a signed retain request (src/crypto/retain.ts),
 * answered with the PieceRetainResult counters as JSON.
 */
import { type Identity, verifySignature } from '../crypto/identity.js'
import { MAX_BLOOM_BYTES } from '../util/bloom.js'

export const HEARTBEAT_PATH = '/api/nodes/heartbeat'
export const IDENTITY_PATH = '/api/identity'
/** Header carrying base64url(ed25519 signature of the request body) by the sender's identity. */
export const SIGNATURE_HEADER = 'x-shoal-signature'
/** On a piece PUT, the Merkle root (hex) the uploader computed; the node refuses a mismatch. */
export const PIECE_HASH_HEADER = 'x-shoal-piece-hash'

/** On an audit reply, the piece's data size as its header records it. */
export const PIECE_SIZE_HEADER = 'x-shoal-piece-size'
/** On an audit reply, how many leading body bytes are the block; the rest are the proof's hashes. */
export const AUDIT_BLOCK_BYTES_HEADER = 'x-shoal-audit-block-bytes'
/** Query parameter of an audit naming the 0-based block (leaf) to prove. */
export const AUDIT_BLOCK_QUERY = 'block'
/**
 * Most hashes an audit proof may have: a tree of 2^64 leaves is 64 deep, far more than any piece, so a
 * client can cap a reply at one block plus this many hashes before it reads it.
 */
export const MAX_AUDIT_PROOF_HASHES = 64
/** Path of the garbage-collection endpoint. */
export const RETAIN_PATH = '/retain'
/** Largest retain request body a node reads: the largest Bloom filter plus the request's header, with room to spare. */
export const MAX_RETAIN_BODY_BYTES = MAX_BLOOM_BYTES + 1024

/** How often a node reports: one second keeps offline detection within a few seconds. */
export const HEARTBEAT_INTERVAL_MS = 1000

export interface NodeLabels {
  readonly provider: string
  readonly region: string
  readonly operator: string
  /** ISO 3166-1 alpha-2, or "" when unknown. */
  readonly country: string
}

export interface HeartbeatMessage {
  readonly version: 1
  readonly id: string
  /** SPKI DER base64; the coordinator checks that `id` derives from it and the signature verifies. */
  readonly publicKey: string
  /** Where gateways reach the node's piece API, e.g. http://127.0.0.1:7101. */
  readonly url: string
  readonly labels: NodeLabels
  readonly capacityBytes: number
  readonly usedBytes: number
  readonly freeBytes: number
  readonly pieces: number
  /** Sender's clock, ms since the epoch; the coordinator refuses stale or future heartbeats. */
  readonly timestamp: number
}

export interface HeartbeatReply {
  readonly coordinatorId: string
  readonly publicKey: string
  /** Silence after which the coordinator marks the node offline. */
  readonly offlineAfterMs: number
  /** Graceful exit: 'exiting' while its pieces are moved away, 'exited' once it may stop for good. */
  readonly exitState?: 'none' | 'exiting' | 'exited'
}

export interface CoordinatorIdentity {
  readonly id: string
  readonly publicKey: string
}

/** What a node answers to a successful piece PUT: proof that it accepted these exact bytes. */
export interface PieceReceipt {
  readonly pieceId: string
  readonly nodeId: string
  readonly size: number
  /** Merkle root of the piece (src/crypto/merkle.ts), hex. */
  readonly hash: string
  /** base64url ed25519 signature of receiptMessage(...) by the node. */
  readonly signature: string
}

/** The bytes a node signs in a PieceReceipt. */
export function receiptMessage (pieceId: string, size: number, hash: string): Buffer {
  return Buffer.from(`shoal-piece-receipt:v1:${pieceId}:${size}:${hash}`)
}

/** Builds a signed receipt. */
export function signReceipt (node: Identity, pieceId: string, size: number, hash: string): PieceReceipt {
  return { pieceId, nodeId: node.id, size, hash, signature: node.sign(receiptMessage(pieceId, size, hash)).toString('base64url') }
}

/** True when `receipt` is signed by the node whose public key is given (false for a malformed key or signature). */
export function verifyReceipt (receipt: PieceReceipt, nodePublicKey: string): boolean {
  try {
    return verifySignature(nodePublicKey, receiptMessage(receipt.pieceId, receipt.size, receipt.hash), Buffer.from(receipt.signature, 'base64url'))
  } catch {
    return false
  }
}

/** JSON error body every Shoal HTTP API answers with. */
export interface ErrorBody {
  readonly error: { readonly name: string, readonly message: string, readonly reason?: string }
}
