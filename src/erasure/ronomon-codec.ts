/**
 * The production erasure codec: @ronomon/reed-solomon, a native Cauchy Reed-Solomon addon that runs
 * in libuv's threadpool without blocking the event loop.
 *
 * The addon aborts the whole process (C `assert`) on some bad arguments, so every call is preceded by
 * the contract's checks (erasure-codec.ts) and only ever receives arguments those checks admit.
 *
 * The addon wants the k data shards in one contiguous buffer and the m parity shards in another.
 * Shards from `allocateShards` are laid out that way and are coded in place with no copy; any other
 * shards are copied into a per-call scratch region and the written shards copied back.
 */

import { createRequire } from 'node:module'
import {
  checkParameters,
  checkPresent,
  checkShards,
  SHARD_ALIGNMENT,
  type ErasureCodec
} from './erasure-codec.js'
import { CodecFailedError, CodecUnavailableError, InvalidShardsError } from './errors.js'

/** The part of the addon's CommonJS API that this wrapper calls (see its README and binding.c). */
interface ReedSolomonBinding {
  readonly MAX_K: number
  readonly MAX_M: number
  create (k: number, m: number): Buffer
  encode (
    context: Buffer,
    sources: number,
    targets: number,
    buffer: Buffer,
    bufferOffset: number,
    bufferSize: number,
    parity: Buffer,
    parityOffset: number,
    paritySize: number,
    callback: (error?: Error) => void
  ): void
}

const require = createRequire(import.meta.url)

function loadBinding (): ReedSolomonBinding {
  try {
    // require() caches the module, so this loads the addon once per process.
    return require('@ronomon/reed-solomon') as ReedSolomonBinding
  } catch (err) {
    throw new CodecUnavailableError(
      'the native @ronomon/reed-solomon addon could not be loaded; rebuild it (npm rebuild ' +
      '@ronomon/reed-solomon) or use createCodec(k, m, { implementation: "reference" })', { cause: err })
  }
}

/**
 * Allocates k+m zero-filled shards of `shardSize` bytes laid out as the native codec wants them: the
 * k data shards are consecutive views of one region and the m parity shards consecutive views of the
 * region right after it, so RonomonCodec codes them in place without copying. Given a `region` (to
 * reuse memory across segments), the shards are views of its start and are not zeroed. Throws an
 * UnsupportedParametersError for a bad (k, m) and an InvalidShardsError for a bad `shardSize` or a
 * region too small.
 */
export function allocateShards (k: number, m: number, shardSize: number, region?: Buffer): Buffer[] {
  checkParameters(k, m)
  if (!Number.isInteger(shardSize) || shardSize <= 0 || shardSize % SHARD_ALIGNMENT !== 0) {
    throw new InvalidShardsError(
      `shardSize must be a positive multiple of ${SHARD_ALIGNMENT} bytes, got ${String(shardSize)}`)
  }
  if (region !== undefined && region.length < (k + m) * shardSize) {
    throw new InvalidShardsError(`a region of ${region.length} bytes can't hold ${k + m} shards of ${shardSize} bytes`)
  }
  const backing = region ?? Buffer.alloc((k + m) * shardSize)
  const shards: Buffer[] = []
  for (let i = 0; i < k + m; i++) shards.push(backing.subarray(i * shardSize, (i + 1) * shardSize))
  return shards
}

/**
 * ErasureCodec over the native @ronomon/reed-solomon addon. The constructor throws an
 * UnsupportedParametersError for a bad (k, m) and a CodecUnavailableError when the addon cannot load;
 * encode/reconstruct reject with the contract's errors and never pass the addon bad arguments.
 */
export class RonomonCodec implements ErasureCodec {
  readonly name = 'ronomon'
  readonly k: number
  readonly m: number
  readonly #binding: ReedSolomonBinding
  /** The addon's encoding context (its bit-matrix); read-only, so concurrent calls may share it. */
  readonly #context: Buffer

  constructor (k: number, m: number) {
    checkParameters(k, m)
    this.k = k
    this.m = m
    this.#binding = loadBinding()
    if (k > this.#binding.MAX_K || m > this.#binding.MAX_M) {
      throw new CodecUnavailableError(
        `this build of @ronomon/reed-solomon supports k ≤ ${this.#binding.MAX_K} and m ≤ ` +
        `${this.#binding.MAX_M}, not ${k}+${m}`)
    }
    this.#context = this.#binding.create(k, m)
  }

  async encode (shards: Buffer[]): Promise<void> {
    const size = checkShards(this.k, this.m, shards)
    const sources = mask(0, this.k)
    const targets = mask(this.k, this.k + this.m)
    await this.#run(shards, size, sources, targets)
  }

  async reconstruct (shards: Buffer[], present: readonly boolean[]): Promise<void> {
    const size = checkShards(this.k, this.m, shards)
    const count = checkPresent(this.k, this.m, present)
    // The addon refuses an empty target set ("targets == 0"): nothing to rebuild is a no-op.
    if (count === this.k + this.m) return
    let sources = 0
    let targets = 0
    for (let i = 0; i < present.length; i++) {
      if (present[i] === true) sources |= 1 << i
      else targets |= 1 << i
    }
    await this.#run(shards, size, sources, targets)
  }

  /**
   * Runs the addon over `shards` (already checked) with the given source/target bit masks: bit i is
   * shard i. Uses the caller's memory when each region is contiguous, otherwise scratch copies.
   */
  async #run (shards: Buffer[], size: number, sources: number, targets: number): Promise<void> {
    const { k, m } = this
    const dataShards = shards.slice(0, k)
    const parityShards = shards.slice(k)
    const data = contiguousView(dataShards, size) ?? gather(dataShards, size, sources, 0)
    const parity = contiguousView(parityShards, size) ?? gather(parityShards, size, sources, k)

    await new Promise<void>((resolve, reject) => {
      const done = (error?: Error): void => {
        if (error === undefined || error === null) resolve()
        else reject(new CodecFailedError('the native erasure codec failed', { cause: error }))
      }
      try {
        this.#binding.encode(this.#context, sources, targets, data, 0, k * size, parity, 0, m * size, done)
      } catch (err) {
        reject(new CodecFailedError(
          'the native erasure codec refused arguments that passed validation (a bug in RonomonCodec)',
          { cause: err }))
      }
    })

    scatter(dataShards, data, size, targets, 0)
    scatter(parityShards, parity, size, targets, k)
  }
}

/** Bit mask with bits [from, to) set. k + m ≤ 30, so it stays a positive 31-bit integer. */
function mask (from: number, to: number): number {
  let bits = 0
  for (let i = from; i < to; i++) bits |= 1 << i
  return bits
}

/**
 * A Buffer over the shards' memory when they are consecutive views of one ArrayBuffer (as
 * allocateShards makes them), or undefined when they are not.
 */
function contiguousView (shards: readonly Buffer[], size: number): Buffer | undefined {
  const first = shards[0] as Buffer
  for (let i = 1; i < shards.length; i++) {
    const shard = shards[i] as Buffer
    if (shard.buffer !== first.buffer || shard.byteOffset !== first.byteOffset + i * size) return undefined
  }
  return Buffer.from(first.buffer, first.byteOffset, shards.length * size)
}

/** Copies the source shards (bit `base + i` of `sources`) into a fresh scratch region. */
function gather (shards: readonly Buffer[], size: number, sources: number, base: number): Buffer {
  // Unzeroed is safe: every byte the addon reads is a source copied here, every other byte is written.
  const region = Buffer.allocUnsafe(shards.length * size)
  for (let i = 0; i < shards.length; i++) {
    if ((sources & (1 << (base + i))) !== 0) (shards[i] as Buffer).copy(region, i * size)
  }
  return region
}

/** Copies the target shards (bit `base + i` of `targets`) back out of `region`, unless it is theirs. */
function scatter (shards: readonly Buffer[], region: Buffer, size: number, targets: number, base: number): void {
  for (let i = 0; i < shards.length; i++) {
    const shard = shards[i] as Buffer
    if ((targets & (1 << (base + i))) === 0) continue
    if (shard.buffer === region.buffer && shard.byteOffset === region.byteOffset + i * size) continue
    region.copy(shard, 0, i * size, (i + 1) * size)
  }
}
