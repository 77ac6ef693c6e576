/**
 * Stores one segment: encrypt into the data shards, erasure-code, fan the pieces out to the nodes
 * the coordinator placed, with a long-tail cut, replacement of failed pieces, and a final check of the
 * placement actually achieved.
 */
import { sealSegmentInto, TAG_BYTES } from '../crypto/seal.js'
import { allocateShards, SHARD_ALIGNMENT, type ErasureCodec } from '../erasure/index.js'
import { checkPlacement } from '../placement/index.js'
import type { Dimension } from '../placement/placement.js'
import type { PieceRecord, SegmentRecord } from '../metadata/metadata-store.js'
import type { Logger } from '../util/logger.js'
import type { BucketSettings } from './bucket-settings.js'
import type { PieceBroker, PieceGrant, PieceTransport } from './broker.js'
import { PieceTransferError, UploadFailedError } from './errors.js'

/** A segment's plaintext as the chunks it arrived in (never joined into one buffer). */
export interface Segment {
  readonly parts: readonly Buffer[]
  readonly length: number
}

/** Rounds of replacement uploads for pieces whose node failed mid-upload before the segment fails. */
export const MAX_REPLACEMENT_ROUNDS = 3

/** What segment writes and reads need: the coordinator's grants, the node client, codecs, a logger. */
export interface SegmentComponents {
  readonly broker: PieceBroker
  readonly pieces: PieceTransport
  readonly codec: (k: number, m: number) => ErasureCodec
  readonly logger: Logger
}

/** Shard length for `encryptedSize` bytes over k data shards (aligned for the codec). */
export function shardSizeFor (encryptedSize: number, k: number): number {
  const raw = Math.ceil(encryptedSize / k)
  return Math.max(SHARD_ALIGNMENT, Math.ceil(raw / SHARD_ALIGNMENT) * SHARD_ALIGNMENT)
}

interface Stored { readonly index: number, readonly grant: PieceGrant, readonly hash: string }

/**
 * Writes segment `index` of an object and returns its record (not yet committed). Throws
 * PlacementError when no placement exists, UploadFailedError when too few pieces could be stored.
 */
export async function writeSegment (components: SegmentComponents, settings: BucketSettings, objectKey: Buffer,
  index: number, plaintext: Segment, signal?: AbortSignal): Promise<SegmentRecord> {
  const { broker, logger } = components
  const { k, m } = settings
  const total = k + m
  const encryptedSize = plaintext.length + TAG_BYTES
  const shardSize = shardSizeFor(encryptedSize, k)
  const t0 = performance.now()
  const plan = await broker.planUpload(settings, shardSize)
  const grants = [...plan.pieces, ...plan.spares]
  const parity = grants.length - k
  const shards = allocateShards(k, parity, shardSize)
  const data = Buffer.from(shards[0].buffer, shards[0].byteOffset, k * shardSize)
  sealSegmentInto(objectKey, index, plaintext.parts, data)
  data.fill(0, encryptedSize)
  const t1 = performance.now()
  await components.codec(k, parity).encode(shards)
  const t2 = performance.now()

  const stored = new Map<number, Stored>()
  const tried = new Set<string>(grants.map((g) => g.nodeId))
  const failures: PieceTransferError[] = []
  const planUnmet = new Set(plan.unmet)

  // The cut: stop waiting once k+m pieces are stored and they meet the policy as well as the plan did.
  const good = (): boolean => {
    if (stored.size < total) return false
    const unmet = checkPlacement([...stored.values()].map((s) => s.grant.labels), k, settings.policy).unmet
    return unmet.every((d) => planUnmet.has(d))
  }

  await uploadRound(components, grants.map((grant, i) => ({ index: i, grant })), shards, stored, failures, good, signal)
  const t3 = performance.now()
  logger.debug('segment uploaded', { segment: index, bytes: plaintext.length, planSealMs: Math.round(t1 - t0), encodeMs: Math.round(t2 - t1), uploadMs: Math.round(t3 - t2) })

  for (let round = 0; stored.size < total && round < MAX_REPLACEMENT_ROUNDS; round++) {
    signal?.throwIfAborted()
    const missing = grants.map((_, i) => i).filter((i) => !stored.has(i)).slice(0, total - stored.size)
    let replacements: PieceGrant[]
    try {
      replacements = await broker.planReplacements(settings, shardSize, missing.length, tried)
    } catch (err) {
      logger.warn('no replacement nodes for failed pieces', { segment: index, error: err })
      break
    }
    if (replacements.length === 0) break
    for (const r of replacements) tried.add(r.nodeId)
    logger.info('re-sending pieces to replacement nodes', { segment: index, pieces: replacements.length })
    await uploadRound(components, replacements.map((grant, i) => ({ index: missing[i], grant })), shards, stored, failures, () => stored.size >= total, signal)
  }

  if (stored.size < total) {
    const reasons = [...new Set(failures.map((f) => f.message))].slice(0, 3).join('; ')
    throw new UploadFailedError(`segment ${index}: stored ${stored.size} of the ${total} pieces needed (${reasons || 'no nodes available'}); ` +
      'too few nodes are reachable — check `shoal status` and retry')
  }

  const final = [...stored.values()].sort((a, b) => a.index - b.index)
  const unmet: readonly Dimension[] = checkPlacement(final.map((s) => s.grant.labels), k, settings.policy).unmet
  if (unmet.length > 0 && settings.underPlacement === 'refuse') {
    throw new UploadFailedError(`segment ${index}: pieces could not be placed to survive the loss of any one ${unmet.join(' or ')}, ` +
      'and this bucket refuses under-placed writes; retry when the network recovers')
  }
  const note = unmet.length === 0 ? '' : (plan.reason !== '' ? plan.reason : `placement does not survive losing one ${unmet.join(', ')}`)
  const pieces: PieceRecord[] = final.map((s) => ({ pieceIndex: s.index, nodeId: s.grant.nodeId, pieceId: s.grant.pieceId, size: shardSize, hash: s.hash }))
  return {
    index,
    plainSize: plaintext.length,
    encryptedSize,
    shardSize,
    k,
    m: parity,
    underPlaced: unmet.length > 0,
    placementNote: note,
    pieces
  }
}

/**
 * Uploads each (piece index, grant) in parallel; resolves when all have settled or `enough()` holds,
 * in which case the slower uploads are cancelled (their nodes discard the partial piece).
 */
async function uploadRound (components: SegmentComponents, jobs: Array<{ index: number, grant: PieceGrant }>, shards: Buffer[],
  stored: Map<number, Stored>, failures: PieceTransferError[], enough: () => boolean, signal?: AbortSignal): Promise<void> {
  const cut = new AbortController()
  const linked = signal === undefined ? cut.signal : AbortSignal.any([signal, cut.signal])
  let done = false
  await new Promise<void>((resolve) => {
    let pending = jobs.length
    if (pending === 0) { resolve(); return }
    for (const job of jobs) {
      components.pieces.upload(job.grant, shards[job.index], linked).then((hash) => {
        if (!done) stored.set(job.index, { index: job.index, grant: job.grant, hash })
      }, (err: unknown) => {
        if (done && cut.signal.aborted) return
        const failure = err instanceof PieceTransferError ? err : new PieceTransferError(job.grant.nodeId, 'unreachable', String(err), { cause: err })
        failures.push(failure)
        if (failure.kind !== 'aborted') components.broker.reportPieceFailure(job.grant.nodeId, job.grant.pieceId, failure.kind === 'bad-receipt' ? 'bad-receipt' : 'unreachable', failure.message)
        components.logger.debug('piece upload failed', { node: job.grant.nodeId, error: failure.message })
      }).finally(() => {
        pending--
        if (!done && (pending === 0 || enough())) {
          done = true
          cut.abort()
          resolve()
        }
      })
    }
  })
}
