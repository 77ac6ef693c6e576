/**
 * Reads one segment back: race the nodes holding its pieces, keep the first k whose Merkle roots
 * verify, rebuild missing data shards, decrypt. A node sending wrong bytes is reported and skipped,
 * never passed through; an unreachable one is replaced by the next piece without the caller noticing.
 */
import { openSegmentInPlace } from '../crypto/seal.js'
import { allocateShards } from '../erasure/index.js'
import type { SegmentRecord } from '../metadata/metadata-store.js'
import type { DownloadGrant } from './broker.js'
import { ObjectUnavailableError, PieceTransferError } from './errors.js'
import type { SegmentComponents } from './segment-writer.js'

/**
 * Pieces fetched beyond k from the start. One extra costs 1/k more bandwidth and hides one slow or
 * dead node completely; further spares start only on failure or when the hedge timer fires.
 */
export const DOWNLOAD_EXTRA = 1
/** When a segment isn't complete after this long, one more piece request starts (a hung node can't stall a read). */
export const HEDGE_AFTER_MS = 2000

/** Bytes of memory readSegment needs for `segment` (its k+m shards), for callers that reuse a region. */
export function segmentRegionSize (segment: SegmentRecord): number {
  return (segment.k + segment.m) * segment.shardSize
}

/**
 * Returns the plaintext of `segment`, sealed under `objectKey` (the key of its salt). Throws ObjectUnavailableError when fewer than k verified pieces
 * can be fetched, DecryptionError when the rebuilt segment fails authentication. With a `region` of
 * at least segmentRegionSize bytes the shards are assembled there, and the plaintext returned is a
 * view of it; otherwise fresh memory is allocated.
 */
export async function readSegment (components: SegmentComponents, segment: SegmentRecord, objectKey: Buffer, signal?: AbortSignal, region?: Buffer): Promise<Buffer> {
  const { k, shardSize } = segment
  const { shards, present } = await fetchShards(components, segment, signal, region)
  if (present.slice(0, k).some((p) => !p)) await components.codec(k, segment.m).reconstruct(shards, present)
  const data = Buffer.from(shards[0].buffer, shards[0].byteOffset, k * shardSize)
  // A segment moved in from a multipart part keeps the nonce of the index it was sealed under.
  return openSegmentInPlace(objectKey, segment.sealIndex ?? segment.index, data.subarray(0, segment.encryptedSize))
}

/**
 * Fetches k verified pieces of `segment` into fresh shards (or `region`), racing k+1 nodes (only
 * online ones with `onlineOnly`). `present`
 * says which shards hold verified bytes; the others are garbage until reconstructed. Throws
 * ObjectUnavailableError when fewer than k verified pieces can be fetched.
 */
export async function fetchShards (components: SegmentComponents, segment: SegmentRecord, signal?: AbortSignal, region?: Buffer,
  options: { onlineOnly?: boolean } = {}): Promise<{ shards: Buffer[], present: boolean[] }> {
  const { k, m, shardSize } = segment
  const planned = order(await components.broker.planDownload(segment), k)
  // Repair never waits on a node the coordinator sees offline; a user's read tries it as a last resort.
  const grants = options.onlineOnly === true ? planned.filter((g) => g.online) : planned
  const shards = allocateShards(k, m, shardSize, region)
  const present = new Array<boolean>(k + m).fill(false)
  let verified = 0
  let next = 0
  const errors: string[] = []
  const cancel = new AbortController()
  const linked = signal === undefined ? cancel.signal : AbortSignal.any([signal, cancel.signal])
  const inflight = new Set<Promise<void>>()

  await new Promise<void>((resolve, reject) => {
    let finished = false
    let hedge: NodeJS.Timeout | undefined
    const finish = (err?: Error): void => {
      if (finished) return
      finished = true
      clearInterval(hedge)
      cancel.abort()
      if (err !== undefined) reject(err)
      else resolve()
    }
    let active = 0
    const settle = (): void => {
      if (verified >= k) finish()
      else if (active === 0 && !launch()) {
        finish(new ObjectUnavailableError(`segment ${segment.index}: only ${verified} of the ${k} pieces needed could be read` +
          (errors.length > 0 ? ` (${errors.slice(0, 3).join('; ')})` : '')))
      }
    }
    const launch = (): boolean => {
      if (finished || next >= grants.length) return false
      const grant = grants[next++]
      active++
      const p = components.pieces.download(grant, shards[grant.pieceIndex], grant.hash, linked).then(() => {
        active--
        if (finished) return
        present[grant.pieceIndex] = true
        verified++
        settle()
      }, (err: unknown) => {
        active--
        const failure = err instanceof PieceTransferError ? err : new PieceTransferError(grant.nodeId, 'unreachable', String(err))
        // A real failure is reported even when it arrives after the segment was rebuilt from others.
        if (failure.kind === 'corrupt') {
          components.logger.warn('node sent corrupt piece', { node: grant.nodeId, piece: grant.pieceId })
          components.broker.reportPieceFailure(grant.nodeId, grant.pieceId, 'corrupt', failure.message)
        } else if (failure.kind !== 'aborted' && !(finished && cancel.signal.aborted)) {
          components.broker.reportPieceFailure(grant.nodeId, grant.pieceId, 'unreachable', failure.message)
        }
        if (finished) return
        errors.push(failure.message)
        if (!launch()) settle()
      })
      inflight.add(p)
      void p.finally(() => inflight.delete(p))
      return true
    }
    linked.addEventListener('abort', () => { if (signal?.aborted === true) finish(signal.reason as Error) }, { once: true })
    for (let i = 0; i < k + DOWNLOAD_EXTRA; i++) launch()
    settle()
    hedge = setInterval(() => { launch() }, HEDGE_AFTER_MS)
  })
  // Losers were cancelled; wait for them so none writes into a shard while it is being rebuilt.
  await Promise.allSettled([...inflight])

  return { shards, present }
}

/** Online nodes first, data pieces before parity (no decoding needed when all k data pieces arrive). */
function order (grants: DownloadGrant[], k: number): DownloadGrant[] {
  const rank = (g: DownloadGrant): number => (g.online ? 0 : 2) + (g.pieceIndex < k ? 0 : 1)
  return [...grants].sort((a, b) => rank(a) - rank(b) || a.pieceIndex - b.pieceIndex)
}
