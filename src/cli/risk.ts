/**
 * `shoal risk [BUCKET]`: how concentrated the network is, as bars a person can read at a glance —
 * shares of stored bytes and of capacity per provider, region, operator, country and ASN, with HHI
 * and Nakamoto coefficients — and the blast radius of each provider and region.
 */
import type { RiskReport } from '../risk/index.js'
import { formatBytes, table } from './format.js'
import { client, out, type GlobalOptions } from './objects.js'

const BAR_WIDTH = 30

export async function risk (bucket: string | undefined, opts: GlobalOptions): Promise<number> {
  const c = await client(opts)
  try {
    const report = await c.risk(bucket) as RiskReport
    out(opts, report, render(report))
    return 0
  } finally {
    c.close()
  }
}

function render (r: RiskReport): string {
  const t = r.totals
  const lines: string[] = []
  lines.push(`Concentration risk${r.bucket === null ? '' : ` of bucket ${r.bucket}`}: ${t.nodes} nodes (${t.onlineNodes} online), ` +
    `${t.objects} objects, ${t.segments} segments, ${formatBytes(t.storedBytes)} stored, ${formatBytes(t.capacityBytes)} capacity`)
  lines.push('HHI: 0–10,000 (10,000 = one entity holds everything; under 1,500 is unconcentrated). Nakamoto: fewest entities holding > 1/3 and > 1/2.')
  for (const dimension of ['provider', 'region', 'operator', 'country', 'asn'] as const) {
    const stored = r.concentration[dimension].stored
    const capacity = r.concentration[dimension].capacity
    lines.push('')
    lines.push(`${dimension.toUpperCase()}   stored: HHI ${stored.hhi.toFixed(0)}, Nakamoto ${stored.nakamoto.overThird}/${stored.nakamoto.overHalf}` +
      `   capacity: HHI ${capacity.hhi.toFixed(0)}, Nakamoto ${capacity.nakamoto.overThird}/${capacity.nakamoto.overHalf}`)
    const capShare = new Map(capacity.shares.map((s) => [s.name, s.share]))
    for (const s of stored.shares.slice(0, 10)) {
      lines.push(`  ${s.name.padEnd(16).slice(0, 16)} ${bar(s.share)} ${pct(s.share).padStart(5)} stored  ${pct(capShare.get(s.name) ?? 0).padStart(5)} capacity`)
    }
    if (stored.shares.length > 10) lines.push(`  … ${stored.shares.length - 10} more`)
  }
  for (const dimension of ['provider', 'region'] as const) {
    lines.push('')
    lines.push(`If one ${dimension} failed:`)
    lines.push(table(['  ' + dimension.toUpperCase(), 'NODES', 'OBJECTS UNAVAILABLE', 'OBJECTS LOST'], r.blastRadius[dimension].map((b) => [
      '  ' + b.name, String(b.nodes), String(b.objectsUnavailable), String(b.objectsLost)
    ])))
  }
  return lines.join('\n')
}

function bar (share: number): string {
  const filled = Math.round(share * BAR_WIDTH)
  return '█'.repeat(filled) + '·'.repeat(BAR_WIDTH - filled)
}

function pct (share: number): string {
  return `${(100 * share).toFixed(0)}%`
}
