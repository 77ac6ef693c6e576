/**
 * `shoal drill` end to end: a real local network with a short repair grace; the drill freezes a whole
 * provider with SIGSTOP under a workload, waits for repair, resumes the nodes and verifies every object.
 * The assertions check what the drill claims against the processes themselves (/proc state) and the
 * coordinator (status), and the dry run against the network's own labels.
 */
import { readFile } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LocalNetwork } from './harness.js'

/** Process state from /proc/PID/status: 'T' is stopped (SIGSTOP), 't' traced. */
async function processState (pid: number): Promise<string> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const m = /^State:\s+(\S)/m.exec(status)
  if (m === null) throw new Error(`no State line in /proc/${pid}/status`)
  return m[1]
}

describe('shoal drill', () => {
  let net: LocalNetwork
  let provider: string

  beforeAll(async () => {
    // Repair after 3 s offline, checked every second: a provider outage is repaired within the test.
    // 12 nodes (4 per provider) leave 8 outside the frozen provider: room to rebuild each segment's
    // lost pieces on nodes holding none of it, even a segment that kept its spare (k + m + 1 = 7 pieces).
    net = await LocalNetwork.start({ nodes: 12, args: ['--repair-grace', '3s', '--repair-interval', '1s', '--audit-interval', '0'] })
    provider = net.network.nodes[0].provider
  })

  afterAll(async () => { await net?.stop() })

  it('refuses a bad invocation with exit code 2 and says why', async () => {
    const two = await net.cli('drill', '--provider', provider, '--region', net.network.nodes[0].region)
    expect(two.code).toBe(2)
    expect(two.stderr).toMatch(/exactly one failure domain.*--provider and --region/)
    const none = await net.cli('drill')
    expect(none.code).toBe(2)
    expect(none.stderr).toMatch(/exactly one failure domain/)
    const unknown = await net.cli('drill', '--provider', 'no-such-cloud')
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(/no node of this network has provider "no-such-cloud"; providers here: .*aws/)
    const unknownDry = await net.cli('drill', '--dry-run', '--provider', 'no-such-cloud')
    expect(unknownDry.code).toBe(2)
    expect(unknownDry.stderr).toMatch(/no node of this network has provider "no-such-cloud"/)
    // No node was touched by any of these.
    for (const n of net.network.nodes) expect(await processState(n.pid)).not.toBe('T')
  })

  it('freezes a provider under load, repairs to full redundancy, resumes it and loses nothing', async () => {
    const domain = net.nodesWhere((n) => n.provider === provider)
    const r = await net.cli('--json', 'drill', '--provider', provider, '--baseline', '2s', '--outage', '6s', '--timeout', '40s')
    expect(r.code, r.stderr).toBe(0)
    const report = JSON.parse(r.stdout)
    expect(report.failure).toBe('SIGSTOP')
    expect(report.nodes.map((n: { id: string }) => n.id).sort()).toEqual(domain.map((n) => n.id).sort())
    expect(report.objects.written).toBeGreaterThan(0)
    expect(report.objects.lost).toBe(0)
    expect(report.objects.verified).toBe(report.objects.written)
    expect(report.phases.baseline.served).toBeGreaterThan(0)
    expect(report.phases.outage.served).toBeGreaterThan(0)
    expect(report.phases.outage.durationMs).toBeGreaterThanOrEqual(6000)
    expect(report.repair.timeToFullRedundancyMs).not.toBeNull()
    // Not before the grace: until then the frozen nodes' pieces still count as healthy.
    expect(report.repair.timeToFullRedundancyMs).toBeGreaterThanOrEqual(3000)
    expect(report.repair.bytesRebuilt).toBeGreaterThan(0)
    expect(report.repair.piecesRebuilt).toBeGreaterThan(0)
    expect(report.restore.nodesOnline).toBe(true)

    // Not left frozen: the processes run, and the coordinator sees them online.
    for (const n of domain) expect(await processState(n.pid), `pid ${n.pid}`).not.toBe('T')
    const status = await net.json('status')
    for (const n of domain) expect(status.nodes.find((s: { id: string }) => s.id === n.id)?.online, n.id).toBe(true)

    // Every acknowledged object is listed in the drill bucket (kept without --cleanup).
    const listed = await net.json('ls', '-r', `${report.bucket}/`)
    expect(listed.objects.length).toBeGreaterThanOrEqual(report.objects.written)
  })

  it('--dry-run answers from metadata: one provider down loses no data', async () => {
    const r = await net.cli('--json', 'drill', '--dry-run', '--provider', provider)
    expect(r.code, r.stderr).toBe(0)
    const impact = JSON.parse(r.stdout)
    expect(impact.dryRun).toBe(true)
    expect(impact.domain).toEqual({ dimension: 'provider', value: provider })
    expect(impact.nodes).toBe(net.nodesWhere((n) => n.provider === provider).length)
    expect(impact.onlineNodes).toBe(impact.nodes)
    expect(impact.storedBytes).toBeGreaterThan(0)
    expect(impact.lost.count).toBe(0)
    expect(impact.lost.objects).toEqual([])
    // Nothing was frozen by a dry run.
    for (const n of net.network.nodes) expect(await processState(n.pid)).not.toBe('T')

    const one = net.network.nodes[1]
    const byNode = JSON.parse((await net.cli('--json', 'drill', '--dry-run', '--node', one.id.slice(0, 10))).stdout)
    expect(byNode.domain).toEqual({ dimension: 'node', value: one.id })
    expect(byNode.nodes).toBe(1)
    expect(byNode.unavailable.count).toBe(0)
  })
})
