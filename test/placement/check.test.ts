import { describe, expect, it } from 'vitest'
import {
  DEFAULT_POLICY, PlacementError, checkPlacement, describeShortfall, describeUnmet, formatBytes
} from '../../src/placement/index.js'
import type { Labels } from '../../src/placement/index.js'

function labels (provider: string, region: string, operator = `${provider}-${region}`, subnet = '10.0.0.0/24'): Labels {
  return { provider, region, operator, subnet }
}

describe('checkPlacement', () => {
  it('accepts 2 pieces per provider and per region for k=4 of 6', () => {
    const pieces = [
      labels('aws', 'eu'), labels('aws', 'us'), labels('gcp', 'us'),
      labels('gcp', 'ap'), labels('hetzner', 'ap'), labels('hetzner', 'eu')
    ]
    const check = checkPlacement(pieces, 4, DEFAULT_POLICY)
    expect(check.ok).toBe(true)
    expect(check.unmet).toEqual([])
    expect(check.pieces).toBe(6)
    // Ties go to the value that sorts first.
    expect(check.worst.provider).toEqual({ value: 'aws', pieces: 2 })
    expect(check.worst.region).toEqual({ value: 'ap', pieces: 2 })
    expect(check.worst.operator.pieces).toBe(1)
    // Reported for every dimension, in the policy or not.
    expect(check.worst.subnet).toEqual({ value: '10.0.0.0/24', pieces: 6 })
  })

  it('names the dimensions whose worst value takes too much with it', () => {
    const pieces = [
      labels('aws', 'eu'), labels('aws', 'us'), labels('aws', 'ap'),
      labels('gcp', 'us'), labels('gcp', 'ap'), labels('hetzner', 'ap')
    ]
    const check = checkPlacement(pieces, 4, { dimensions: ['region', 'provider'], margin: 0 })
    expect(check.ok).toBe(false)
    expect(check.unmet).toEqual(['region', 'provider'])
    expect(check.worst.provider).toEqual({ value: 'aws', pieces: 3 })
    expect(check.worst.region).toEqual({ value: 'ap', pieces: 3 })
    expect(describeUnmet(check, 4, 0)).toBe(
      'losing region ap (3 of 6 pieces) would leave 3, fewer than k + margin = 4; ' +
      'losing provider aws (3 of 6 pieces) would leave 3, fewer than k + margin = 4')
  })

  it('counts the margin', () => {
    const pieces = [labels('a', 'x'), labels('b', 'x'), labels('c', 'y'), labels('d', 'y'), labels('e', 'z')]
    expect(checkPlacement(pieces, 2, { dimensions: ['provider'], margin: 2 }).ok).toBe(true)
    expect(checkPlacement(pieces, 2, { dimensions: ['provider'], margin: 3 }).ok).toBe(false)
    expect(checkPlacement(pieces, 2, { dimensions: ['region'], margin: 1 }).ok).toBe(true)
    expect(checkPlacement(pieces, 2, { dimensions: ['region'], margin: 2 }).unmet).toEqual(['region'])
  })

  it('is satisfied by the long-tail cut as soon as enough well-spread pieces exist', () => {
    const done = [labels('aws', 'eu'), labels('gcp', 'us'), labels('hetzner', 'ap'), labels('aws', 'us')]
    expect(checkPlacement(done, 2, DEFAULT_POLICY).ok).toBe(true)
    expect(checkPlacement(done.slice(0, 2), 2, DEFAULT_POLICY).ok).toBe(false)
  })

  it('needs k + margin pieces even with an empty policy', () => {
    const check = checkPlacement([labels('a', 'x')], 2, { dimensions: [], margin: 0 })
    expect(check.ok).toBe(false)
    expect(check.unmet).toEqual([])
    expect(describeUnmet(check, 2, 0)).toBe('only 1 pieces, fewer than k + margin = 2')
    expect(checkPlacement([], 1, DEFAULT_POLICY).worst.provider).toEqual({ value: '', pieces: 0 })
  })

  it('rejects a malformed k or policy', () => {
    expect(() => checkPlacement([], 0, DEFAULT_POLICY)).toThrow(expect.objectContaining({ name: 'InvalidPlacementRequestError' }))
    expect(() => checkPlacement([], 1, { dimensions: ['planet' as never], margin: 0 }))
      .toThrow(expect.objectContaining({ name: 'InvalidPlacementRequestError' }))
  })
})

describe('describeShortfall', () => {
  it('says how many values the policy needs and which are online', () => {
    const online = [labels('aws', 'eu'), labels('aws', 'us'), labels('hetzner', 'eu'), labels('hetzner', 'us')]
    const shortfall = describeShortfall(online, 4, 6, { dimensions: ['provider', 'region'], margin: 0 })
    expect(shortfall?.dimensions).toEqual(['provider', 'region'])
    expect(shortfall?.message).toBe(
      'policy needs 3 providers; 2 are online: aws, hetzner (at most 2 of 6 pieces may share one provider ' +
      'so that losing it leaves k + margin = 4); policy needs 3 regions; 2 are online: eu, us (at most 2 of ' +
      '6 pieces may share one region so that losing it leaves k + margin = 4)')
  })

  it('says when the values exist but hold too few nodes', () => {
    const online = [labels('aws', 'a'), labels('aws', 'b'), labels('aws', 'c'), labels('gcp', 'd'), labels('ovh', 'e')]
    expect(describeShortfall(online, 1, 5, { dimensions: ['provider'], margin: 2 })?.message).toBe(
      'the 3 providers online can hold only 4 of 5 pieces (aws: 3 nodes, gcp: 1 node, ovh: 1 node) ' +
      '(at most 2 of 5 pieces may share one provider so that losing it leaves k + margin = 3)')
  })

  it('returns undefined when each dimension alone has room', () => {
    const online = [labels('a', 'x'), labels('b', 'y'), labels('c', 'z')]
    expect(describeShortfall(online, 1, 3, DEFAULT_POLICY)).toBeUndefined()
  })

  it('lists at most ten values', () => {
    const online = Array.from({ length: 12 }, (_, i) => labels(`p${String(i).padStart(2, '0')}`, 'x'))
    const message = describeShortfall(online, 1, 13, { dimensions: ['provider'], margin: 11 })?.message ?? ''
    expect(message).toContain('12 are online: p00, p01, p02, p03, p04, p05, p06, p07, p08, p09 …and 2 more')
  })
})

describe('formatBytes and PlacementError', () => {
  it('formats binary units', () => {
    expect(formatBytes(512)).toBe('512 B')
    expect(formatBytes(16 * 1024 * 1024)).toBe('16.0 MiB')
    expect(formatBytes(1.5 * 1024 ** 4)).toBe('1.5 TiB')
  })

  it('is told apart by name and keeps unmet and cause', () => {
    const cause = new Error('root')
    const err = new PlacementError('policy needs 3 providers', { unmet: ['provider'], cause })
    expect(err.name).toBe('PlacementError')
    expect(err).toBeInstanceOf(Error)
    expect(err.unmet).toEqual(['provider'])
    expect(err.cause).toBe(cause)
    expect(new PlacementError('x').unmet).toEqual([])
  })
})
