/**
 * Erasure coding for Shoal: the ErasureCodec contract, its two implementations (the native
 * @ronomon/reed-solomon addon and a parity-compatible pure-TypeScript reference), and their errors.
 */

import type { ErasureCodec } from './erasure-codec.js'
import { ReferenceCodec } from './reference-codec.js'
import { RonomonCodec } from './ronomon-codec.js'

export {
  checkParameters,
  checkPresent,
  checkShards,
  MAX_DATA_SHARDS,
  MAX_PARITY_SHARDS,
  MAX_REGION_BYTES,
  SHARD_ALIGNMENT,
  type ErasureCodec
} from './erasure-codec.js'
export {
  CodecFailedError,
  CodecUnavailableError,
  InvalidShardsError,
  NotEnoughShardsError,
  UnsupportedParametersError,
  type ErasureErrorOptions
} from './errors.js'
export { allocateShards, RonomonCodec } from './ronomon-codec.js'
export { ReferenceCodec } from './reference-codec.js'
export { measureCodec, type CodecMeasurement, type MeasureOptions } from './measure.js'

/** Which codec createCodec builds. Both write identical parity, so shards are interchangeable. */
export type CodecImplementation = 'ronomon' | 'reference'

export interface CreateCodecOptions {
  /** Default 'ronomon' (native, threadpool, several GB/s); 'reference' is pure TypeScript and slower. */
  readonly implementation?: CodecImplementation
}

/**
 * Creates a k+m erasure codec, the native one unless `implementation: 'reference'` is asked for.
 * Throws an UnsupportedParametersError for a bad (k, m) and a CodecUnavailableError when the native
 * addon cannot be loaded.
 */
export function createCodec (k: number, m: number, options: CreateCodecOptions = {}): ErasureCodec {
  const implementation = options.implementation ?? 'ronomon'
  switch (implementation) {
    case 'ronomon': return new RonomonCodec(k, m)
    case 'reference': return new ReferenceCodec(k, m)
    default: {
      const unknown: never = implementation
      throw new TypeError(`unknown erasure codec implementation ${String(unknown)}; use 'ronomon' or 'reference'`)
    }
  }
}
