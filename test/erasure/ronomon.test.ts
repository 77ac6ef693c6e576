/**
 * The native codec: the conformance suite for real (malformed inputs included, which would abort the
 * process if they reached the addon), plus allocateShards, createCodec and measureCodec.
 */

import { describe, expect, it } from 'vitest'
import {
  allocateShards,
  createCodec,
  measureCodec,
  ReferenceCodec,
  RonomonCodec,
  SHARD_ALIGNMENT
} from '../../src/erasure/index.js'
import { expectSameShards, fillData, prng, runConformance } from './conformance.js'

runConformance('ronomon', (k, m) => new RonomonCodec(k, m))

describe('allocateShards', () => {
  it('returns k+m zeroed views, data then parity, consecutive in one region', () => {
    const shards = allocateShards(3, 2, 16)
    expect(shards).toHaveLength(5)
    shards.forEach((shard, i) => {
      expect(shard.length).toBe(16)
      expect(shard.buffer).toBe((shards[0] as Buffer).buffer)
      expect(shard.byteOffset).toBe((shards[0] as Buffer).byteOffset + i * 16)
      expect(shard.every((b) => b === 0)).toBe(true)
    })
  })

  it('lays the shards over a given region, and refuses one too small', () => {
    const region = Buffer.alloc(100, 7)
    const shards = allocateShards(2, 1, 32, region)
    expect(shards.map((s) => [s.byteOffset - region.byteOffset, s.length])).toEqual([[0, 32], [32, 32], [64, 32]])
    shards[2][31] = 1
    expect(region[95]).toBe(1)
    expect(() => allocateShards(2, 1, 40, region)).toThrow(expect.objectContaining({ name: 'InvalidShardsError' }))
  })

  it('refuses bad parameters by name', () => {
    expect(() => allocateShards(0, 2, 8)).toThrow(expect.objectContaining({ name: 'UnsupportedParametersError' }))
    expect(() => allocateShards(4, 7, 8)).toThrow(expect.objectContaining({ name: 'UnsupportedParametersError' }))
    for (const size of [0, 12, -8, 8.5, Number.NaN]) {
      expect(() => allocateShards(4, 2, size), String(size)).toThrow(expect.objectContaining({ name: 'InvalidShardsError' }))
    }
  })

  it('gives the same parity as separately allocated shards', async () => {
    const codec = new RonomonCodec(5, 3)
    const contiguous = allocateShards(5, 3, 1024)
    fillData(contiguous, 5, prng(5))
    const separate = contiguous.map((s) => Buffer.from(s))
    await codec.encode(contiguous)
    await codec.encode(separate)
    expectSameShards(contiguous, separate)
  })
})

describe('createCodec', () => {
  it('builds the native codec by default and the reference one on request', () => {
    const native = createCodec(4, 2)
    expect(native).toBeInstanceOf(RonomonCodec)
    expect([native.name, native.k, native.m]).toEqual(['ronomon', 4, 2])
    const reference = createCodec(10, 4, { implementation: 'reference' })
    expect(reference).toBeInstanceOf(ReferenceCodec)
    expect([reference.name, reference.k, reference.m]).toEqual(['reference', 10, 4])
  })

  it('refuses bad parameters and unknown implementations', () => {
    expect(() => createCodec(25, 2)).toThrow(expect.objectContaining({ name: 'UnsupportedParametersError' }))
    expect(() => createCodec(4, 2, { implementation: 'isa-l' as 'ronomon' })).toThrow(TypeError)
  })
})

describe('measureCodec', () => {
  it('reports positive finite throughputs', async () => {
    const result = await measureCodec(new RonomonCodec(4, 2), { shardSize: 64 * 1024, rounds: 2 })
    expect(Number.isFinite(result.encodeGBps) && result.encodeGBps > 0).toBe(true)
    expect(Number.isFinite(result.decodeGBps) && result.decodeGBps > 0).toBe(true)
  })

  it('rejects bad options by name', async () => {
    const codec = new RonomonCodec(4, 2)
    await expect(measureCodec(codec, { shardSize: SHARD_ALIGNMENT + 1 })).rejects.toMatchObject({ name: 'InvalidShardsError' })
    await expect(measureCodec(codec, { shardSize: 64, rounds: 0 })).rejects.toMatchObject({ name: 'InvalidShardsError' })
  })
})
