/**
 * The erasure-coding contract. A codec turns k equal-length data shards into m parity shards so that
 * any k of the k+m shards rebuild the rest (a maximum-distance-separable code such as Reed-Solomon).
 *
 * Every implementation must pass test/erasure/conformance.ts, which checks it against independent
 * test vectors, so that shards written by one codec can be decoded by another. The parity format is
 * the one of @ronomon/reed-solomon 6 (a Cauchy Reed-Solomon bit-matrix code, see reference-codec.ts),
 * which is NOT the Backblaze/klauspost Vandermonde format: shards are not interchangeable with those.
 *
 * This module also holds the checks that enforce the contract's input rules, so that every codec
 * rejects the same inputs with the same error names.
 */

import { InvalidShardsError, NotEnoughShardsError, UnsupportedParametersError } from './errors.js'

/** Shard lengths must be a multiple of this many bytes (the native codec works in 8-byte words). */
export const SHARD_ALIGNMENT = 8

/** Most data shards a codec supports: the native codec's MAX_K (its parameter table stops there). */
export const MAX_DATA_SHARDS = 24

/** Most parity shards a codec supports: the native codec's MAX_M. */
export const MAX_PARITY_SHARDS = 6

/**
 * Largest total size of the k data shards (or of the m parity shards), in bytes. The native codec
 * keeps buffer lengths in 32-bit integers and aborts the process beyond this, so every codec refuses it.
 */
export const MAX_REGION_BYTES = 0xFFFF_FFFF

export interface ErasureCodec {
  /** A short name for logs and benchmarks, e.g. "ronomon" or "reference". */
  readonly name: string
  /** Number of data shards. */
  readonly k: number
  /** Number of parity shards. */
  readonly m: number

  /**
   * Computes the m parity shards from the k data shards. `shards` holds k+m buffers of one length (a
   * positive multiple of SHARD_ALIGNMENT): the first k are read, the last m are overwritten.
   * Rejects with an InvalidShardsError (never aborts the process) when the shards are malformed.
   */
  encode(shards: Buffer[]): Promise<void>

  /**
   * Rebuilds in place every shard whose `present` flag is false, from the shards whose flag is true.
   * Needs at least k present shards; otherwise rejects with a NotEnoughShardsError. Malformed shards
   * or flags reject with an InvalidShardsError. Present shards are never written.
   */
  reconstruct(shards: Buffer[], present: readonly boolean[]): Promise<void>
}

/**
 * Checks that (k, m) is a pair every codec supports: integers with 1 ≤ k ≤ MAX_DATA_SHARDS and
 * 1 ≤ m ≤ MAX_PARITY_SHARDS. Throws an UnsupportedParametersError otherwise.
 */
export function checkParameters (k: number, m: number): void {
  if (!Number.isInteger(k) || k < 1 || k > MAX_DATA_SHARDS) {
    throw new UnsupportedParametersError(
      `k (data shards) must be an integer from 1 to ${MAX_DATA_SHARDS}, got ${String(k)}; ` +
      'use fewer, larger data shards')
  }
  if (!Number.isInteger(m) || m < 1 || m > MAX_PARITY_SHARDS) {
    throw new UnsupportedParametersError(
      `m (parity shards) must be an integer from 1 to ${MAX_PARITY_SHARDS}, got ${String(m)}; ` +
      'to survive more losses, split the object across more segments instead')
  }
}

/**
 * Checks that `shards` is an array of k+m Buffers of one length (a positive multiple of
 * SHARD_ALIGNMENT, at most MAX_REGION_BYTES / max(k, m)) that do not overlap in memory, and returns
 * that length. Throws an InvalidShardsError otherwise.
 */
export function checkShards (k: number, m: number, shards: unknown): number {
  if (!Array.isArray(shards)) {
    throw new InvalidShardsError(`shards must be an array of ${k + m} Buffers, got ${describe(shards)}`)
  }
  if (shards.length !== k + m) {
    throw new InvalidShardsError(
      `expected ${k + m} shards (${k} data + ${m} parity), got ${shards.length}; ` +
      'pass every shard, including the ones to be written')
  }
  for (let i = 0; i < shards.length; i++) {
    if (!Buffer.isBuffer(shards[i])) {
      throw new InvalidShardsError(`shard ${i} must be a Buffer, got ${describe(shards[i])}`)
    }
  }
  const buffers = shards as Buffer[]
  const length = buffers[0]?.length ?? 0
  for (let i = 0; i < buffers.length; i++) {
    const shard = buffers[i] as Buffer
    if (shard.length !== length) {
      throw new InvalidShardsError(
        `all shards must have one length: shard 0 has ${length} bytes, shard ${i} has ${shard.length}; ` +
        'pad the segment so that it splits evenly')
    }
  }
  if (length === 0 || length % SHARD_ALIGNMENT !== 0) {
    throw new InvalidShardsError(
      `shard length must be a positive multiple of ${SHARD_ALIGNMENT} bytes, got ${length}; ` +
      `pad the segment to a multiple of ${SHARD_ALIGNMENT * k} bytes`)
  }
  if (length * Math.max(k, m) > MAX_REGION_BYTES) {
    throw new InvalidShardsError(
      `shards of ${length} bytes are too large: ${Math.max(k, m)} of them exceed ${MAX_REGION_BYTES} bytes; ` +
      'use smaller segments')
  }
  for (let i = 0; i < buffers.length; i++) {
    const a = buffers[i] as Buffer
    for (let j = i + 1; j < buffers.length; j++) {
      const b = buffers[j] as Buffer
      if (a.buffer === b.buffer && Math.abs(a.byteOffset - b.byteOffset) < length) {
        throw new InvalidShardsError(
          `shards ${i} and ${j} overlap in memory; give every shard its own bytes (see allocateShards)`)
      }
    }
  }
  return length
}

/**
 * Checks that `present` holds k+m booleans with at least k of them true, and returns how many are
 * true. Throws an InvalidShardsError when malformed, a NotEnoughShardsError when fewer than k are true.
 */
export function checkPresent (k: number, m: number, present: unknown): number {
  if (!Array.isArray(present) || present.length !== k + m) {
    throw new InvalidShardsError(
      `present must be an array of ${k + m} booleans (one per shard), got ${describe(present)}`)
  }
  let count = 0
  for (let i = 0; i < present.length; i++) {
    const flag: unknown = present[i]
    if (typeof flag !== 'boolean') {
      throw new InvalidShardsError(`present[${i}] must be true or false, got ${describe(flag)}`)
    }
    if (flag) count++
  }
  if (count < k) {
    throw new NotEnoughShardsError(
      `need at least ${k} of ${k + m} shards to reconstruct, only ${count} present; ` +
      'fetch more pieces before decoding')
  }
  return count
}

function describe (value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return `an array of ${value.length}`
  if (value instanceof Uint8Array) return `a ${value.constructor.name} (not a Buffer)`
  return typeof value
}
