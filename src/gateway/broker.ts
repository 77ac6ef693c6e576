/**
 * What the gateway needs from a coordinator: nodes and signed order limits for each piece it sends
 * or fetches. The coordinator implements it in-process; a stand-alone gateway would implement it over
 * the coordinator's API. The gateway never picks nodes itself.
 */
import type { Dimension } from '../placement/placement.js'
import type { PieceAction } from '../crypto/order-limit.js'
import type { BucketSettings } from './bucket-settings.js'
import type { SegmentRecord } from '../metadata/metadata-store.js'

/** One piece transfer the gateway may make: where, and the header values that authorise it. */
export interface PieceGrant {
  readonly nodeId: string
  readonly nodeUrl: string
  /** The node's public key, to check its signed receipt. */
  readonly nodePublicKey: string
  readonly labels: Readonly<Record<Dimension, string>>
  readonly pieceId: string
  readonly orderLimit: string
  readonly orderProof: string
}

export interface UploadPlan {
  /** One grant per piece placed under the policy (k + m), in piece order. */
  readonly pieces: readonly PieceGrant[]
  /** Grants for spare pieces (long-tail cut), possibly fewer than asked. */
  readonly spares: readonly PieceGrant[]
  /** Policy dimensions this placement can't satisfy (empty when fully placed). */
  readonly unmet: readonly Dimension[]
  readonly reason: string
}

export interface DownloadGrant extends PieceGrant {
  readonly pieceIndex: number
  readonly hash: string
  readonly size: number
  /** Whether the coordinator currently sees the node online; offline pieces are tried last. */
  readonly online: boolean
}

export interface PieceBroker {
  /**
   * Places a new segment: k + m nodes under the bucket's policy plus spares, each with a put limit
   * for `pieceBytes`. Throws PlacementError when no placement is possible (or, with underPlacement
   * 'refuse', when the policy can't be fully met).
   */
  planUpload(settings: BucketSettings, pieceBytes: number, options?: { exclude?: ReadonlySet<string> }): Promise<UploadPlan>
  /** Grants for replacing pieces that failed: `count` more nodes not in `exclude`. */
  planReplacements(settings: BucketSettings, pieceBytes: number, count: number, exclude: ReadonlySet<string>): Promise<PieceGrant[]>
  /** Get limits for every piece of a stored segment. */
  planDownload(segment: SegmentRecord, action?: PieceAction): Promise<DownloadGrant[]>
  /** Tells the coordinator a node misbehaved (wrong bytes, bad receipt) or failed; feeds reputation later. */
  reportPieceFailure(nodeId: string, pieceId: string, kind: 'corrupt' | 'unreachable' | 'bad-receipt', detail: string): void
}

/**
 * Moves piece bytes to and from nodes (PieceClient over HTTP). Upload resolves with the piece's Merkle
 * root once the node's signed receipt matches it; download fills `into` and verifies the root; audit
 * checks one block's inclusion proof against the recorded root. All reject with a PieceTransferError
 * saying what went wrong ('unreachable', 'corrupt', 'aborted', …).
 */
export interface PieceTransport {
  upload(grant: PieceGrant, data: Buffer, signal?: AbortSignal): Promise<string>
  download(grant: PieceGrant, into: Buffer, expectedHash: string, signal?: AbortSignal): Promise<void>
  delete(grant: PieceGrant, signal?: AbortSignal): Promise<void>
  /**
   * Challenges the node to prove it holds block `block` of the piece (grant action 'audit'): resolves
   * when the block and its Merkle path verify against `expected` (the recorded root and size), with the
   * bytes the exchange moved. Rejects 'corrupt' for a failing proof or a malformed reply, 'refused' for
   * an error reply (status 404: the node has no such piece), 'unreachable'/'timeout'/'aborted' as usual.
   */
  audit(grant: PieceGrant, block: number, expected: { readonly hash: string, readonly size: number }, signal?: AbortSignal): Promise<{ bytes: number }>
}
