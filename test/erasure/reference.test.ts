/**
 * The pure-TypeScript codec: the conformance suite, then a cross-check against the native codec on
 * random inputs (both must write identical parity and rebuild identical shards).
 */

import { describe, it } from 'vitest'
import { ReferenceCodec, RonomonCodec } from '../../src/erasure/index.js'
import { copyShards, expectSameShards, fillData, LAYOUTS, makeShards, prng, runConformance, type Layout } from './conformance.js'

runConformance('reference', (k, m) => new ReferenceCodec(k, m))

describe('cross-check: reference and ronomon agree', () => {
  it('on random (k, m), sizes, layouts and erasures', async () => {
    const seed = 20251020
    const random = prng(seed)
    for (let round = 0; round < 120; round++) {
      const k = 1 + Math.floor(random() * 24)
      const m = 1 + Math.floor(random() * 6)
      // Mostly small shards, sometimes large enough for the native codec to split packets for cache.
      const size = 8 * (1 + Math.floor(random() * (random() < 0.2 ? 40_000 : 600)))
      const label = `seed ${seed} round ${round}: ${k}+${m} × ${size} B`
      const native = makeShards(k, m, size, LAYOUTS[Math.floor(random() * 3)] as Layout)
      fillData(native, k, random)
      const reference = makeShards(k, m, size, LAYOUTS[Math.floor(random() * 3)] as Layout)
      native.forEach((s, i) => s.copy(reference[i] as Buffer))
      await new RonomonCodec(k, m).encode(native)
      await new ReferenceCodec(k, m).encode(reference)
      expectSameShards(reference, native, label)

      const present = Array<boolean>(k + m).fill(true)
      const lost = Math.floor(random() * (m + 1))
      for (let n = 0; n < lost; n++) present[Math.floor(random() * (k + m))] = false
      const expected = copyShards(native)
      for (const shards of [native, reference]) shards.forEach((s, i) => { if (present[i] !== true) s.fill(round) })
      await new RonomonCodec(k, m).reconstruct(native, present)
      await new ReferenceCodec(k, m).reconstruct(reference, present)
      expectSameShards(native, expected, `${label} native`)
      expectSameShards(reference, expected, `${label} reference`)
    }
  })
})
