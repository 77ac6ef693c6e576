/**
 * The concentration-risk report and the outage dry run. Expected values are computed by hand (the
 * arithmetic is in the comments) or by the brute force in helpers.ts, which shares no code with
 * src/risk.
 */

import { describe, expect, it } from 'vitest'
import {
  DRY_RUN_MAX_OBJECTS, InvalidRiskInputError, asnOf, dryRunOutage, riskReport
} from '../../src/risk/index.js'
import type { BlastRadius, RiskInput, RiskNode, RiskReport, RiskSegment } from '../../src/risk/index.js'
import {
  DIMENSIONS, bruteBytes, bruteNakamoto, bruteOutage, inputOf, node, randomNetwork, seededRandom, segment
} from './helpers.js'

/**
 * Five nodes; n5 is offline and has no capacity.
 *
 *   node  provider  region      operator  country  asn      capacity  online
 *   n1    aws       us-east     alice     US       AS16509  1000      yes
 *   n2    aws       eu-west     bob       IE       AS16509  1000      yes
 *   n3    gcp       us-east     carol     US       AS15169  1000      yes
 *   n4    hetzner   eu-central  dave      DE       AS24940  1000      yes
 *   n5    hetzner   eu-central  dave      DE       AS24940  0         no
 *
 * Objects (bucket "photos"), pieces as node:bytes:
 *   a: one segment, k=2: n1:10 n3:10 n4:10
 *   b: one segment, k=2: n1:10 n2:10 n3:10
 *   c: segment 1, k=1: n2:10 n3:10; segment 2, k=2: n1:10 n4:5 n5:5
 *
 * Stored per node: n1 30, n2 20, n3 30, n4 15, n5 5 → 100 bytes.
 */
const NODES: RiskNode[] = [
  node('n1', { provider: 'aws', region: 'us-east', operator: 'alice', country: 'US', asn: 'AS16509' }),
  node('n2', { provider: 'aws', region: 'eu-west', operator: 'bob', country: 'IE', asn: 'AS16509' }),
  node('n3', { provider: 'gcp', region: 'us-east', operator: 'carol', country: 'US', asn: 'AS15169' }),
  node('n4', { provider: 'hetzner', region: 'eu-central', operator: 'dave', country: 'DE', asn: 'AS24940' }),
  node('n5', { provider: 'hetzner', region: 'eu-central', operator: 'dave', country: 'DE', asn: 'AS24940', capacityBytes: 0, online: false })
]
const SEGMENTS: RiskSegment[] = [
  segment('photos', 'a', 2, [['n1', 10], ['n3', 10], ['n4', 10]]),
  segment('photos', 'c', 1, [['n2', 10], ['n3', 10]]),
  segment('photos', 'b', 2, [['n1', 10], ['n2', 10], ['n3', 10]]),
  segment('photos', 'c', 2, [['n1', 10], ['n4', 5], ['n5', 5]])
]
const small = (): RiskInput => ({ nodes: NODES, segments: SEGMENTS, objects: 4 /* a, b, c + one inline */ })

function byName (list: readonly BlastRadius[]): Record<string, Omit<BlastRadius, 'name'>> {
  return Object.fromEntries(list.map(({ name, ...rest }) => [name, rest]))
}

describe('riskReport: concentration, by hand', () => {
  const report = riskReport(small())

  it('totals the network', () => {
    expect(report.bucket).toBeNull()
    expect(report.totals).toEqual({
      nodes: 5,
      onlineNodes: 4,
      objects: 4,
      objectsWithSegments: 3,
      segments: 4,
      pieces: 11,
      storedBytes: 100,
      capacityBytes: 4000,
      onlineCapacityBytes: 4000,
      unknownNodePieces: 0,
      unknownNodeBytes: 0
    })
    expect(report.baseline).toEqual({ objectsUnavailable: 0, objectsLost: 0, segmentsUnavailable: 0, segmentsLost: 0 })
  })

  it('provider, stored: 0.5 / 0.3 / 0.2 → HHI 3800, Nakamoto 1 and 2 (exactly a half is not more than a half)', () => {
    // aws = n1 + n2 = 30 + 20 = 50, gcp = n3 = 30, hetzner = n4 + n5 = 15 + 5 = 20, of 100.
    // HHI = 50² + 30² + 20² = 2500 + 900 + 400 = 3800.
    // > 1/3: aws alone (0.5). > 1/2: aws is exactly 0.5, so aws + gcp = 0.8 → 2.
    expect(report.concentration.provider.stored).toEqual({
      totalBytes: 100,
      hhi: 3800,
      nakamoto: { overThird: 1, overHalf: 2 },
      shares: [
        { name: 'aws', bytes: 50, share: 0.5 },
        { name: 'gcp', bytes: 30, share: 0.3 },
        { name: 'hetzner', bytes: 20, share: 0.2 }
      ]
    })
    // The ASN of each node follows its provider here, so the same numbers.
    expect(report.concentration.asn.stored.hhi).toBe(3800)
    expect(report.concentration.asn.stored.shares.map(s => s.name)).toEqual(['AS16509', 'AS15169', 'AS24940'])
  })

  it('provider, capacity: 0.5 / 0.25 / 0.25 (n5 has none) → HHI 3750; ties by name', () => {
    // aws 2000, gcp 1000, hetzner 1000 + 0, of 4000. HHI = 2500 + 625 + 625 = 3750.
    expect(report.concentration.provider.capacity).toEqual({
      totalBytes: 4000,
      hhi: 3750,
      nakamoto: { overThird: 1, overHalf: 2 },
      shares: [
        { name: 'aws', bytes: 2000, share: 0.5 },
        { name: 'gcp', bytes: 1000, share: 0.25 },
        { name: 'hetzner', bytes: 1000, share: 0.25 }
      ]
    })
  })

  it('region and country, stored: 0.6 / 0.2 / 0.2 → HHI 4400, Nakamoto 1 and 1', () => {
    // us-east = n1 + n3 = 60; eu-central = n4 + n5 = 20; eu-west = n2 = 20.
    // HHI = 3600 + 400 + 400 = 4400; 0.6 is more than a third and more than a half.
    expect(report.concentration.region.stored).toEqual({
      totalBytes: 100,
      hhi: 4400,
      nakamoto: { overThird: 1, overHalf: 1 },
      shares: [
        { name: 'us-east', bytes: 60, share: 0.6 },
        { name: 'eu-central', bytes: 20, share: 0.2 },
        { name: 'eu-west', bytes: 20, share: 0.2 }
      ]
    })
    expect(report.concentration.country.stored.shares).toEqual([
      { name: 'US', bytes: 60, share: 0.6 },
      { name: 'DE', bytes: 20, share: 0.2 },
      { name: 'IE', bytes: 20, share: 0.2 }
    ])
  })

  it('operator, stored: 0.3 / 0.3 / 0.2 / 0.2 → HHI 2600, Nakamoto 2 and 2', () => {
    // alice 30, carol 30, bob 20, dave 20. HHI = 900 + 900 + 400 + 400 = 2600.
    // 0.3 is not more than a third; 0.3 + 0.3 = 0.6 is more than a third and a half.
    const op = report.concentration.operator.stored
    expect(op.hhi).toBe(2600)
    expect(op.nakamoto).toEqual({ overThird: 2, overHalf: 2 })
    expect(op.shares.map(s => [s.name, s.share])).toEqual([['alice', 0.3], ['carol', 0.3], ['bob', 0.2], ['dave', 0.2]])
  })

  it('keeps a stable key order and is plain JSON', () => {
    expect(Object.keys(report)).toEqual(['bucket', 'totals', 'baseline', 'concentration', 'blastRadius'])
    expect(Object.keys(report.concentration)).toEqual(['provider', 'region', 'operator', 'country', 'asn'])
    expect(Object.keys(report.concentration.region)).toEqual(['stored', 'capacity'])
    expect(Object.keys(report.blastRadius)).toEqual(['provider', 'region', 'operator', 'country', 'asn'])
    expect(JSON.parse(JSON.stringify(report))).toEqual(report)
  })

  it('does not depend on the order of the segments', () => {
    const reversed = riskReport({ ...small(), segments: [...SEGMENTS].reverse() })
    expect(JSON.stringify(reversed)).toBe(JSON.stringify(report))
  })
})

describe('riskReport: blast radius, by hand', () => {
  const report = riskReport(small())

  it('per provider', () => {
    // aws out (n1, n2): a keeps n3, n4 (2 ≥ 2); b keeps n3 (1 < 2: unavailable and lost);
    //   c seg 1 keeps n3 (1 ≥ 1); c seg 2 keeps n4 online + n5 offline: 1 online < 2 → unavailable,
    //   2 in all ≥ 2 → not lost. → objects unavailable {b, c}, lost {b}; segments 2 and 1.
    // gcp out (n3): a keeps n1, n4; b keeps n1, n2; c seg 1 keeps n2 → nothing.
    // hetzner out (n4, n5): a keeps n1, n3; c seg 2 keeps n1 only → c unavailable and lost.
    expect(report.blastRadius.provider).toEqual([
      { name: 'aws', nodes: 2, onlineNodes: 2, objectsUnavailable: 2, objectsLost: 1, segmentsUnavailable: 2, segmentsLost: 1 },
      { name: 'hetzner', nodes: 2, onlineNodes: 1, objectsUnavailable: 1, objectsLost: 1, segmentsUnavailable: 1, segmentsLost: 1 },
      { name: 'gcp', nodes: 1, onlineNodes: 1, objectsUnavailable: 0, objectsLost: 0, segmentsUnavailable: 0, segmentsLost: 0 }
    ])
  })

  it('per region', () => {
    // us-east out (n1, n3): a keeps n4 (lost); b keeps n2 (lost); c seg 1 keeps n2 (1 ≥ 1);
    //   c seg 2 keeps n4 + n5(offline): unavailable, not lost. → unavailable {a, b, c}, lost {a, b}.
    // eu-central out (n4, n5): as hetzner. eu-west out (n2): b keeps n1, n3; c seg 1 keeps n3 → nothing.
    expect(byName(report.blastRadius.region)).toEqual({
      'us-east': { nodes: 2, onlineNodes: 2, objectsUnavailable: 3, objectsLost: 2, segmentsUnavailable: 3, segmentsLost: 2 },
      'eu-central': { nodes: 2, onlineNodes: 1, objectsUnavailable: 1, objectsLost: 1, segmentsUnavailable: 1, segmentsLost: 1 },
      'eu-west': { nodes: 1, onlineNodes: 1, objectsUnavailable: 0, objectsLost: 0, segmentsUnavailable: 0, segmentsLost: 0 }
    })
    expect(report.blastRadius.region.map(b => b.name)).toEqual(['us-east', 'eu-central', 'eu-west'])
  })

  it('dry run of one provider lists the objects', () => {
    const impact = dryRunOutage(small(), { dimension: 'provider', value: 'aws' })
    expect(impact).toEqual({
      domain: { dimension: 'provider', value: 'aws' },
      nodes: 2,
      onlineNodes: 2,
      storedBytes: 50,
      unavailable: {
        count: 2,
        causedByOutage: 2,
        segments: 2,
        objects: [{ bucket: 'photos', key: 'b', causedByOutage: true }, { bucket: 'photos', key: 'c', causedByOutage: true }],
        truncated: false
      },
      lost: {
        count: 1,
        causedByOutage: 1,
        segments: 1,
        objects: [{ bucket: 'photos', key: 'b', causedByOutage: true }],
        truncated: false
      },
      baseline: { objectsUnavailable: 0, objectsLost: 0, segmentsUnavailable: 0, segmentsLost: 0 }
    })
  })

  it('dry run of one node', () => {
    // n4 out: a keeps n1, n3 (fine); c seg 2 keeps n1 online + n5 offline: unavailable, not lost.
    const impact = dryRunOutage(small(), { dimension: 'node', value: 'n4' })
    expect(impact.nodes).toBe(1)
    expect(impact.storedBytes).toBe(15)
    expect(impact.unavailable.objects).toEqual([{ bucket: 'photos', key: 'c', causedByOutage: true }])
    expect(impact.lost.count).toBe(0)
    expect(impact.lost.objects).toEqual([])
  })

  it('a domain that matches no node affects only the baseline', () => {
    const impact = dryRunOutage(small(), { dimension: 'region', value: 'us-eats' })
    expect(impact.nodes).toBe(0)
    expect(impact.storedBytes).toBe(0)
    expect(impact.unavailable.count).toBe(0)
    expect(impact.lost.count).toBe(0)
  })
})

describe('baseline: what is already unavailable counts once, for every domain', () => {
  // x1 p1 online, x2 p2 OFFLINE, x3 p3 online.
  // o1: k=2 on x1, x2 → 1 online < 2: unavailable now; 2 pieces ≥ 2: not lost.
  // o2: k=2 on x1, x3 → fine now.
  const input: RiskInput = {
    nodes: [node('x1', { provider: 'p1' }), node('x2', { provider: 'p2', online: false }), node('x3', { provider: 'p3' })],
    segments: [segment('b', 'o1', 2, [['x1', 1], ['x2', 1]]), segment('b', 'o2', 2, [['x1', 1], ['x3', 1]])],
    objects: 2
  }

  it('in the report', () => {
    const report = riskReport(input)
    expect(report.baseline).toEqual({ objectsUnavailable: 1, objectsLost: 0, segmentsUnavailable: 1, segmentsLost: 0 })
    // p1 out: o1 keeps x2 (lost), o2 keeps x3 (lost) → 2 / 2.
    // p3 out: o1 as before (baseline: unavailable, not lost); o2 keeps x1 → lost. → unavailable 2, lost 1.
    // p2 out: o1 keeps x1 → lost; o2 untouched. → unavailable 1 (o1, already), lost 1.
    expect(byName(report.blastRadius.provider)).toEqual({
      p1: { nodes: 1, onlineNodes: 1, objectsUnavailable: 2, objectsLost: 2, segmentsUnavailable: 2, segmentsLost: 2 },
      p3: { nodes: 1, onlineNodes: 1, objectsUnavailable: 2, objectsLost: 1, segmentsUnavailable: 2, segmentsLost: 1 },
      p2: { nodes: 1, onlineNodes: 0, objectsUnavailable: 1, objectsLost: 1, segmentsUnavailable: 1, segmentsLost: 1 }
    })
  })

  it('in the dry run, objects caused by the outage are listed first', () => {
    const p2 = dryRunOutage(input, { dimension: 'provider', value: 'p2' })
    expect(p2.unavailable).toEqual({
      count: 1, causedByOutage: 0, segments: 1, objects: [{ bucket: 'b', key: 'o1', causedByOutage: false }], truncated: false
    })
    expect(p2.lost).toEqual({
      count: 1, causedByOutage: 1, segments: 1, objects: [{ bucket: 'b', key: 'o1', causedByOutage: true }], truncated: false
    })
    const p3 = dryRunOutage(input, { dimension: 'provider', value: 'p3' })
    expect(p3.unavailable.objects).toEqual([
      { bucket: 'b', key: 'o2', causedByOutage: true },
      { bucket: 'b', key: 'o1', causedByOutage: false }
    ])
  })

  it('an object whose later segment is unavailable now is not counted twice', () => {
    // o3 seg 1 (k=1 on x3) would be made unavailable by p3; o3 seg 2 (k=2 on x2 offline, x3) is
    // unavailable already. p3: o1 and o3 already unavailable, o2 caused → 3, not 4.
    const withO3: RiskInput = {
      ...input,
      segments: [...input.segments, segment('b', 'o3', 1, [['x3', 1]]), segment('b', 'o3', 2, [['x2', 1], ['x3', 1]])],
      objects: 3
    }
    const report = riskReport(withO3)
    expect(report.baseline.objectsUnavailable).toBe(2)
    const p3 = report.blastRadius.provider.find(b => b.name === 'p3')
    expect(p3?.objectsUnavailable).toBe(3)
    expect(p3?.segmentsUnavailable).toBe(4)
    expect(dryRunOutage(withO3, { dimension: 'provider', value: 'p3' }).unavailable.causedByOutage).toBe(1)
  })
})

describe('edge cases', () => {
  it('an empty network', () => {
    const report = riskReport({ nodes: [], segments: [], objects: 0 })
    expect(report.totals).toEqual({
      nodes: 0, onlineNodes: 0, objects: 0, objectsWithSegments: 0, segments: 0, pieces: 0, storedBytes: 0,
      capacityBytes: 0, onlineCapacityBytes: 0, unknownNodePieces: 0, unknownNodeBytes: 0
    })
    for (const d of DIMENSIONS) {
      for (const w of ['stored', 'capacity'] as const) {
        expect(report.concentration[d][w]).toEqual({ totalBytes: 0, hhi: 0, nakamoto: { overThird: 0, overHalf: 0 }, shares: [] })
      }
      expect(report.blastRadius[d]).toEqual([])
    }
  })

  it('inline objects only: counted, never unavailable', () => {
    const report = riskReport({ nodes: [node('n1')], segments: [], objects: 7 })
    expect(report.totals.objects).toBe(7)
    expect(report.totals.objectsWithSegments).toBe(0)
    expect(report.blastRadius.provider).toEqual([
      { name: 'p', nodes: 1, onlineNodes: 1, objectsUnavailable: 0, objectsLost: 0, segmentsUnavailable: 0, segmentsLost: 0 }
    ])
  })

  it('nodes with no capacity: listed with a zero share, and no capacity at all gives 0s', () => {
    const nodes = [node('a', { provider: 'x', capacityBytes: 0 }), node('b', { provider: 'y', capacityBytes: 0 })]
    const none = riskReport({ nodes, segments: [], objects: 0 }).concentration.provider.capacity
    expect(none).toEqual({
      totalBytes: 0,
      hhi: 0,
      nakamoto: { overThird: 0, overHalf: 0 },
      shares: [{ name: 'x', bytes: 0, share: 0 }, { name: 'y', bytes: 0, share: 0 }]
    })
    // z alone has capacity: HHI 100² = 10000; x and y follow with 0.
    const some = riskReport({ nodes: [...nodes, node('c', { provider: 'z', capacityBytes: 5 })], segments: [], objects: 0 })
    expect(some.concentration.provider.capacity.hhi).toBe(10_000)
    expect(some.concentration.provider.capacity.shares.map(s => [s.name, s.share])).toEqual([['z', 1], ['x', 0], ['y', 0]])
  })

  it('one provider holding everything: HHI 10000, Nakamoto 1 and 1, everything in its blast radius', () => {
    const nodes = [node('a', { provider: 'aws', region: 'r1' }), node('b', { provider: 'aws', region: 'r2' }), node('c', { provider: 'aws', region: 'r3' })]
    const segments = [
      segment('b', 'x', 2, [['a', 4], ['b', 4], ['c', 4]]),
      segment('b', 'y', 2, [['a', 4], ['b', 4], ['c', 4]])
    ]
    const report = riskReport({ nodes, segments, objects: 2 })
    for (const w of ['stored', 'capacity'] as const) {
      expect(report.concentration.provider[w].hhi).toBe(10_000)
      expect(report.concentration.provider[w].nakamoto).toEqual({ overThird: 1, overHalf: 1 })
    }
    expect(report.blastRadius.provider[0]).toMatchObject({ name: 'aws', objectsUnavailable: 2, objectsLost: 2 })
    // Spread over three regions with k=2 of 3, any one region can go.
    expect(report.blastRadius.region.every(b => b.objectsUnavailable === 0)).toBe(true)
    // Three equal regions: each 1/3 is not more than a third → 2; 2/3 > 1/2 → 2. HHI = 3 · (100/3)² = 3333.33.
    expect(report.concentration.region.stored.nakamoto).toEqual({ overThird: 2, overHalf: 2 })
    expect(report.concentration.region.stored.hhi).toBe(3333.33)
    expect(report.concentration.region.stored.shares.map(s => s.share)).toEqual([0.333333, 0.333333, 0.333333])
  })

  it('k=1 with every piece inside one provider: lost when that provider goes, whatever else exists', () => {
    const nodes = [node('a', { provider: 'home:as3320' }), node('b', { provider: 'home:as3320' }), node('c', { provider: 'gcp' })]
    const segments = [segment('b', 'x', 1, [['a', 1], ['b', 1]]), segment('b', 'y', 1, [['b', 1]])]
    const report = riskReport({ nodes, segments, objects: 2 })
    expect(byName(report.blastRadius.provider)).toEqual({
      'home:as3320': { nodes: 2, onlineNodes: 2, objectsUnavailable: 2, objectsLost: 2, segmentsUnavailable: 2, segmentsLost: 2 },
      gcp: { nodes: 1, onlineNodes: 1, objectsUnavailable: 0, objectsLost: 0, segmentsUnavailable: 0, segmentsLost: 0 }
    })
    // By operator (op-a = node a, op-b = node b): losing op-b loses y (its only piece); x keeps a (1 ≥ k=1).
    expect(byName(report.blastRadius.operator)['op-b']).toMatchObject({ objectsUnavailable: 1, objectsLost: 1 })
  })

  it('exactly a half is not more than a half; sums past 2^53 stay exact', () => {
    const big = Number.MAX_SAFE_INTEGER // 2^53 − 1
    // Equal halves: neither alone is more than a half → 2. HHI = 50² + 50² = 5000.
    const equal = riskReport({ nodes: [node('a', { provider: 'x', capacityBytes: big }), node('b', { provider: 'y', capacityBytes: big })], segments: [], objects: 0 })
    expect(equal.concentration.provider.capacity.nakamoto).toEqual({ overThird: 1, overHalf: 2 })
    expect(equal.concentration.provider.capacity.hhi).toBe(5000)
    // x = 2^53 − 1, y = 2^53 − 2: x is 1 byte more than y, so more than a half → 1, though the
    // rounded share reads 0.5.
    const skewed = riskReport({ nodes: [node('a', { provider: 'x', capacityBytes: big }), node('b', { provider: 'y', capacityBytes: big - 1 })], segments: [], objects: 0 })
    expect(skewed.concentration.provider.capacity.nakamoto).toEqual({ overThird: 1, overHalf: 1 })
    expect(skewed.concentration.provider.capacity.shares.map(s => s.share)).toEqual([0.5, 0.5])
  })

  it('a piece on a node not in the list counts as missing and in no share', () => {
    const report = riskReport({
      nodes: [node('a', { provider: 'x' }), node('b', { provider: 'y' })],
      segments: [segment('b', 'o', 2, [['a', 3], ['ghost', 7], ['b', 3]])],
      objects: 1
    })
    expect(report.totals).toMatchObject({ pieces: 2, storedBytes: 6, unknownNodePieces: 1, unknownNodeBytes: 7 })
    expect(report.concentration.provider.stored.totalBytes).toBe(6)
    // k=2 of a, b (the ghost piece does not count): losing either loses the object.
    expect(report.blastRadius.provider.map(b => b.objectsLost)).toEqual([1, 1])
  })

  it('a segment with fewer than k pieces is lost already', () => {
    const report = riskReport({ nodes: [node('a')], segments: [segment('b', 'o', 3, [['a', 1]]), segment('b', 'o', 1, [])], objects: 1 })
    expect(report.baseline).toEqual({ objectsUnavailable: 1, objectsLost: 1, segmentsUnavailable: 2, segmentsLost: 2 })
    expect(report.blastRadius.provider[0]).toMatchObject({ objectsUnavailable: 1, objectsLost: 1, segmentsLost: 2 })
  })

  it('scopes to one bucket; capacity still covers every node', () => {
    const input: RiskInput = {
      nodes: [node('a', { provider: 'x' }), node('b', { provider: 'y' })],
      segments: [segment('keep', 'o', 1, [['a', 5]]), segment('other', 'o', 1, [['b', 9]])],
      objects: 1,
      bucket: 'keep'
    }
    const report = riskReport(input)
    expect(report.bucket).toBe('keep')
    expect(report.totals).toMatchObject({ objects: 1, segments: 1, storedBytes: 5, capacityBytes: 2000 })
    expect(report.concentration.provider.stored.shares).toEqual([{ name: 'x', bytes: 5, share: 1 }, { name: 'y', bytes: 0, share: 0 }])
    expect(dryRunOutage(input, { dimension: 'provider', value: 'y' }).lost.count).toBe(0)
  })

  it('objects: a count behind the scan is raised to the objects seen', () => {
    const report = riskReport({ nodes: [node('a')], segments: [segment('b', 'o', 1, [['a', 1]])], objects: 0 })
    expect(report.totals.objects).toBe(1)
  })

  it('reads the segments once, as a stream', () => {
    let reads = 0
    function * segments (): Generator<RiskSegment> {
      reads++
      for (let i = 0; i < 10_000; i++) yield segment('b', `o${i % 100}`, 2, [['a', 1], ['b', 1], ['c', 1]])
    }
    const nodes = [node('a', { provider: 'x' }), node('b', { provider: 'y' }), node('c', { provider: 'z' })]
    const report = riskReport({ nodes, segments: segments(), objects: 100 })
    expect(reads).toBe(1)
    expect(report.totals).toMatchObject({ segments: 10_000, objectsWithSegments: 100, pieces: 30_000, storedBytes: 30_000 })
    expect(report.blastRadius.provider.every(b => b.objectsUnavailable === 0)).toBe(true)
  })

  it('truncates long dry-run lists and says so', () => {
    const segments = Array.from({ length: 1500 }, (_, i) => segment('b', `o${String(i).padStart(4, '0')}`, 1, [['a', 1]]))
    const input: RiskInput = { nodes: [node('a')], segments, objects: 1500 }
    const impact = dryRunOutage(input, { dimension: 'node', value: 'a' })
    expect(impact.lost.count).toBe(1500)
    expect(impact.lost.objects).toHaveLength(DRY_RUN_MAX_OBJECTS)
    expect(impact.lost.truncated).toBe(true)
    expect(impact.lost.objects[0]).toEqual({ bucket: 'b', key: 'o0000', causedByOutage: true })
    const few = dryRunOutage(input, { dimension: 'node', value: 'a' }, { maxObjects: 2 })
    expect(few.unavailable.objects.map(o => o.key)).toEqual(['o0000', 'o0001'])
    expect(few.unavailable.truncated).toBe(true)
  })

  it('refuses malformed input with InvalidRiskInputError', () => {
    const bad: Array<[string, () => unknown]> = [
      ['duplicate node', () => riskReport({ nodes: [node('a'), node('a')], segments: [], objects: 0 })],
      ['negative capacity', () => riskReport({ nodes: [node('a', { capacityBytes: -1 })], segments: [], objects: 0 })],
      ['k = 0', () => riskReport({ nodes: [node('a')], segments: [segment('b', 'o', 0, [['a', 1]])], objects: 1 })],
      ['fractional k', () => riskReport({ nodes: [node('a')], segments: [segment('b', 'o', 1.5, [['a', 1]])], objects: 1 })],
      ['negative bytes', () => riskReport({ nodes: [node('a')], segments: [segment('b', 'o', 1, [['a', -1]])], objects: 1 })],
      ['negative objects', () => riskReport({ nodes: [], segments: [], objects: -1 })],
      ['unknown dimension', () => dryRunOutage(small(), { dimension: 'subnet' as 'region', value: 'x' })],
      ['bad maxObjects', () => dryRunOutage(small(), { dimension: 'node', value: 'n1' }, { maxObjects: -1 })]
    ]
    for (const [what, run] of bad) {
      let caught: unknown
      try {
        run()
      } catch (err) {
        caught = err
      }
      expect(caught, what).toBeInstanceOf(InvalidRiskInputError)
      expect((caught as Error).name, what).toBe('InvalidRiskInputError')
    }
  })
})

describe('against a brute force over random networks', () => {
  const NETWORKS = 60

  it('blast radius, shares, HHI, Nakamoto and dry runs match', () => {
    const random = seededRandom(20251020)
    let nonTrivial = 0
    for (let n = 0; n < NETWORKS; n++) {
      const network = randomNetwork(random)
      const report: RiskReport = riskReport(inputOf(network))
      const context = `network ${n}`
      const baseline = bruteOutage(network, () => false)
      expect(report.baseline, context).toEqual({
        objectsUnavailable: baseline.objectsUnavailable,
        objectsLost: baseline.objectsLost,
        segmentsUnavailable: baseline.segmentsUnavailable,
        segmentsLost: baseline.segmentsLost
      })

      for (const d of DIMENSIONS) {
        const values = [...new Set(network.nodes.map(x => x[d]))]
        const expected: Record<string, Omit<BlastRadius, 'name'>> = {}
        for (const v of values) {
          const members = network.nodes.filter(x => x[d] === v)
          const brute = bruteOutage(network, x => x[d] === v)
          if (brute.objectsUnavailable > baseline.objectsUnavailable) nonTrivial++
          expected[v] = {
            nodes: members.length,
            onlineNodes: members.filter(x => x.online).length,
            objectsUnavailable: brute.objectsUnavailable,
            objectsLost: brute.objectsLost,
            segmentsUnavailable: brute.segmentsUnavailable,
            segmentsLost: brute.segmentsLost
          }
        }
        const list = report.blastRadius[d]
        expect(byName(list), `${context} ${d}`).toEqual(expected)
        for (let i = 1; i < list.length; i++) {
          const a = list[i - 1] as BlastRadius
          const b = list[i] as BlastRadius
          expect(a.objectsUnavailable >= b.objectsUnavailable, `${context} ${d} order`).toBe(true)
        }

        for (const w of ['stored', 'capacity'] as const) {
          const bytes = bruteBytes(network, d, w)
          const total = [...bytes.values()].reduce((a, b) => a + b, 0)
          const c = report.concentration[d][w]
          expect(c.totalBytes, `${context} ${d} ${w}`).toBe(total)
          expect(new Map(c.shares.map(s => [s.name, s.bytes])), `${context} ${d} ${w}`).toEqual(bytes)
          for (const s of c.shares) expect(s.share).toBeCloseTo(total === 0 ? 0 : (bytes.get(s.name) ?? 0) / total, 6)
          const hhi = total === 0 ? 0 : [...bytes.values()].reduce((sum, b) => sum + (100 * b / total) ** 2, 0)
          expect(c.hhi).toBeCloseTo(hhi, 2)
          expect(c.nakamoto, `${context} ${d} ${w}`).toEqual({
            overThird: bruteNakamoto([...bytes.values()], 1, 3),
            overHalf: bruteNakamoto([...bytes.values()], 1, 2)
          })
        }
      }

      // Dry runs: one random label value and one random node per network.
      const pick = network.nodes[n % network.nodes.length] as RiskNode
      for (const domain of [{ dimension: DIMENSIONS[n % DIMENSIONS.length] as 'provider', value: pick[DIMENSIONS[n % DIMENSIONS.length] as 'provider'] }, { dimension: 'node' as const, value: pick.id }]) {
        const impact = dryRunOutage(inputOf(network), domain)
        const brute = bruteOutage(network, x => (domain.dimension === 'node' ? x.id : x[domain.dimension]) === domain.value)
        const listed = (objects: ReadonlyArray<{ bucket: string, key: string }>): string[] => objects.map(o => `${o.bucket}/${o.key}`).sort()
        expect(impact.unavailable.count, `${context} dry run`).toBe(brute.objectsUnavailable)
        expect(impact.lost.count).toBe(brute.objectsLost)
        expect(impact.unavailable.segments).toBe(brute.segmentsUnavailable)
        expect(impact.lost.segments).toBe(brute.segmentsLost)
        expect(listed(impact.unavailable.objects)).toEqual(brute.unavailable)
        expect(listed(impact.lost.objects)).toEqual(brute.lost)
        expect(impact.unavailable.causedByOutage).toBe(brute.objectsUnavailable - baseline.objectsUnavailable)
        expect(impact.lost.objects.filter(o => !o.causedByOutage).map(o => `${o.bucket}/${o.key}`).sort()).toEqual(baseline.lost)
      }
    }
    // The generator must reach the interesting cases, not only empty or trivially safe networks.
    expect(nonTrivial).toBeGreaterThan(50)
  })
})

describe('asnOf', () => {
  it('reads an AS number from the label', () => {
    expect(asnOf({ provider: 'home:as3320' })).toBe('AS3320')
    expect(asnOf({ provider: 'as3320' })).toBe('AS3320')
    expect(asnOf({ provider: ' Home:AS3320 ' })).toBe('AS3320')
    expect(asnOf({ provider: 'bare-metal:as64512' })).toBe('AS64512')
    expect(asnOf({ provider: 'home:as03320' })).toBe('AS3320')
    expect(asnOf({ provider: 'isp:as4294967295' })).toBe('AS4294967295')
  })

  it('maps well-known clouds to their primary ASN', () => {
    const expected: Record<string, string> = {
      aws: 'AS16509',
      gcp: 'AS15169',
      google: 'AS15169',
      azure: 'AS8075',
      microsoft: 'AS8075',
      hetzner: 'AS24940',
      ovh: 'AS16276',
      digitalocean: 'AS14061',
      linode: 'AS63949',
      akamai: 'AS63949',
      oracle: 'AS31898',
      scaleway: 'AS12876',
      vultr: 'AS20473',
      equinix: 'AS54825',
      AWS: 'AS16509'
    }
    for (const [provider, asn] of Object.entries(expected)) expect(asnOf({ provider }), provider).toBe(asn)
  })

  it('answers unknown for anything else', () => {
    for (const provider of ['', 'bare-metal:rack7', 'home', 'home:as', 'home:as0', 'home:as4294967296', 'home:as12x',
      'as-3320', 'asx', 'constructor', 'toString', '__proto__', 'aws:eu', 'home:as3320:extra']) {
      expect(asnOf({ provider }), provider).toBe('unknown')
    }
  })
})
