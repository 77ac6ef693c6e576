/**
 * A bucket's storage settings: redundancy, placement policy and what to do when the policy can't be
 * met. Stored as JSON in the bucket's metadata row; validated whenever it crosses a boundary.
 */
import { DIMENSIONS, type Dimension, type PlacementPolicy } from '../placement/placement.js'

export type UnderPlacement = 'allow' | 'refuse'

export interface BucketSettings {
  /** Data pieces per segment. */
  readonly k: number
  /** Parity pieces per segment placed under the policy. */
  readonly m: number
  /** Extra parity pieces uploaded to cut the long tail (the slowest uploads are cancelled). */
  readonly spares: number
  readonly policy: PlacementPolicy
  /**
   * 'allow' (default): while a whole domain is offline, write under the strongest placement still
   * possible and record the segment as under-placed. 'refuse': fail the write instead.
   */
  readonly underPlacement: UnderPlacement
}

/**
 * Defaults for a small network (DESIGN.md): 4 data + 2 parity pieces, any one provider, region or
 * operator may fail. One spare piece: with 7 pieces over 3 providers a slow node can be cut while the
 * 6 that finished still satisfy the policy.
 */
export const DEFAULT_BUCKET_SETTINGS: BucketSettings = {
  k: 4,
  m: 2,
  spares: 1,
  policy: { dimensions: ['provider', 'region', 'operator'], margin: 0 },
  underPlacement: 'allow'
}

/** Limits of the native Reed-Solomon codec (@ronomon/reed-solomon): k ≤ 24, parity (m + spares) ≤ 6. */
export const MAX_K = 24
export const MAX_PARITY = 6

/** Raised when bucket settings are malformed; the message names the field and the accepted values. */
export class InvalidSettingsError extends Error {
  override readonly name = 'InvalidSettingsError'
}

/**
 * Validates settings from a user or from storage, filling defaults for missing fields.
 * Throws InvalidSettingsError naming the first bad field.
 */
export function parseBucketSettings (input: unknown): BucketSettings {
  if (input === undefined || input === null || input === '') return DEFAULT_BUCKET_SETTINGS
  let value = input
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value)
    } catch (err) {
      throw new InvalidSettingsError('bucket settings are not valid JSON', { cause: err })
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidSettingsError('bucket settings must be a JSON object')
  const v = value as Record<string, unknown>
  const known = new Set(['k', 'm', 'spares', 'policy', 'underPlacement'])
  for (const key of Object.keys(v)) {
    if (!known.has(key)) throw new InvalidSettingsError(`unknown bucket setting "${key}"; known: ${[...known].join(', ')}`)
  }
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const x = v[name] ?? fallback
    if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max) {
      throw new InvalidSettingsError(`bucket setting ${name} must be an integer from ${min} to ${max}`)
    }
    return x
  }
  const k = int('k', DEFAULT_BUCKET_SETTINGS.k, 1, MAX_K)
  const m = int('m', DEFAULT_BUCKET_SETTINGS.m, 1, MAX_PARITY)
  const spares = int('spares', DEFAULT_BUCKET_SETTINGS.spares, 0, MAX_PARITY - m)
  let policy = DEFAULT_BUCKET_SETTINGS.policy
  if (v.policy !== undefined) {
    const p = v.policy as Record<string, unknown>
    if (typeof p !== 'object' || p === null) throw new InvalidSettingsError('bucket setting policy must be an object { dimensions, margin }')
    const dims = p.dimensions ?? policy.dimensions
    if (!Array.isArray(dims) || dims.some((d) => !(DIMENSIONS as readonly unknown[]).includes(d)) || new Set(dims).size !== dims.length) {
      throw new InvalidSettingsError(`policy.dimensions must be a list of distinct names from: ${DIMENSIONS.join(', ')}`)
    }
    const margin = p.margin ?? 0
    if (typeof margin !== 'number' || !Number.isInteger(margin) || margin < 0 || margin >= m) {
      throw new InvalidSettingsError(`policy.margin must be an integer from 0 to m-1 (${m - 1})`)
    }
    policy = { dimensions: dims as Dimension[], margin }
  }
  const under = v.underPlacement ?? DEFAULT_BUCKET_SETTINGS.underPlacement
  if (under !== 'allow' && under !== 'refuse') throw new InvalidSettingsError('bucket setting underPlacement must be "allow" or "refuse"')
  return { k, m, spares, policy, underPlacement: under }
}
