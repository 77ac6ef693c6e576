/**
 * Throughput measurement for an erasure codec, for the project's benchmark (bench/). It codes shards
 * from allocateShards, so the native codec is measured on its zero-copy path.
 */

import { randomFillSync } from 'node:crypto'
import { SHARD_ALIGNMENT, type ErasureCodec } from './erasure-codec.js'
import { InvalidShardsError } from './errors.js'
import { allocateShards } from './ronomon-codec.js'

export interface MeasureOptions {
  /** Bytes per shard; a positive multiple of SHARD_ALIGNMENT. */
  readonly shardSize: number
  /** Timed repetitions of each operation, after one untimed warm-up. Default 5. */
  readonly rounds?: number
}

export interface CodecMeasurement {
  /** Data bytes (k × shardSize) encoded per second, in GB/s (10^9 bytes). */
  readonly encodeGBps: number
  /** Data bytes reconstructed per second with the first min(m, k) data shards missing, in GB/s. */
  readonly decodeGBps: number
}

/** Default timed repetitions: enough to smooth scheduling noise while a 4+2 × 16 MiB run stays in seconds. */
const DEFAULT_ROUNDS = 5

/**
 * Measures `codec`'s encode and decode throughput on random shards of `shardSize` bytes. Rejects with
 * an InvalidShardsError for a bad shardSize or rounds, and with the codec's own errors if it fails.
 */
export async function measureCodec (codec: ErasureCodec, options: MeasureOptions): Promise<CodecMeasurement> {
  const { shardSize, rounds = DEFAULT_ROUNDS } = options
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new InvalidShardsError(`rounds must be a positive integer, got ${String(rounds)}`)
  }
  if (!Number.isInteger(shardSize) || shardSize <= 0 || shardSize % SHARD_ALIGNMENT !== 0) {
    throw new InvalidShardsError(
      `shardSize must be a positive multiple of ${SHARD_ALIGNMENT} bytes, got ${String(shardSize)}`)
  }
  const { k, m } = codec
  const shards = allocateShards(k, m, shardSize)
  for (let i = 0; i < k; i++) randomFillSync(shards[i] as Buffer)
  const dataBytes = k * shardSize

  await codec.encode(shards)
  const encodeSeconds = await time(rounds, async () => { await codec.encode(shards) })

  // Worst realistic decode: as many data shards lost as parity allows, so every lost one needs a parity shard.
  const present = shards.map((_, i) => i >= Math.min(m, k))
  await codec.reconstruct(shards, present)
  const decodeSeconds = await time(rounds, async () => { await codec.reconstruct(shards, present) })

  return {
    encodeGBps: (dataBytes * rounds) / encodeSeconds / 1e9,
    decodeGBps: (dataBytes * rounds) / decodeSeconds / 1e9
  }
}

async function time (rounds: number, operation: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint()
  for (let r = 0; r < rounds; r++) await operation()
  return Number(process.hrtime.bigint() - start) / 1e9
}
