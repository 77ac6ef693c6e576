/**
 * `shoal up`: a local hybrid network — one coordinator and N node agents as separate OS processes on
 * 127.0.0.1, labelled across providers × regions with one operator each, data under DIR. Writes
 * DIR/network.json while it runs, stops every process it started on Ctrl-C, and resumes with the same
 * data when started again.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { CoordinatorClient } from './client.js'
import { NETWORK_FILE, readNetworkFile, writeNetworkFile, type NetworkFile, type NetworkNode } from './network.js'
import { parsePort } from './servers.js'
import { isAlive } from '../util/process.js'
import { DEFAULT_ACCOUNT } from '../coordinator/keyring.js'
import { DEFAULT_S3_PORT } from '../gateway/s3/s3-server.js'

/** Providers of the local network: a hyperscaler, a regional cloud, a home connection (as its ASN). */
export const LOCAL_PROVIDERS = ['aws', 'hetzner', 'home:as3320'] as const
/** Regions shared by all providers, so that losing a region takes one node of each provider. */
export const LOCAL_REGIONS = [
  { region: 'us-east-1', country: 'US' },
  { region: 'eu-central-1', country: 'DE' },
  { region: 'ap-south-1', country: 'IN' }
] as const
/** Node ports start here when the coordinator has a fixed port (7070 → nodes on 7101…). */
const NODE_PORT_OFFSET = 31
/** How long a child may take to report ready before `up` gives up. */
export const START_TIMEOUT_MS = 30_000
/** How long children get to stop cleanly before SIGKILL. */
const STOP_GRACE_MS = 5000

export interface UpOptions {
  dir: string
  nodes: string
  port: string
  capacity: string
  segmentSize?: string
  s3Port?: string
  json?: boolean
  auditInterval?: string
  repairInterval?: string
  repairGrace?: string
  repairBandwidth?: string
  gcInterval?: string
  gcGrace?: string
}

/**
 * Durability timers of a local network: much shorter than production's so that audits, repair and
 * garbage collection can be watched (and drilled) within minutes.
 */
export const LOCAL_DURABILITY = {
  auditInterval: '2s',
  repairInterval: '5s',
  repairGrace: '30s',
  repairBandwidth: '0',
  gcInterval: '30s',
  gcGrace: '2m'
} as const

const BIN = fileURLToPath(new URL('../../../bin/shoal.js', import.meta.url))

/** The labels of node i (0-based) in a local network. */
export function localLabels (i: number): { provider: string, region: string, country: string, operator: string } {
  const provider = LOCAL_PROVIDERS[i % LOCAL_PROVIDERS.length]
  const { region, country } = LOCAL_REGIONS[Math.floor(i / LOCAL_PROVIDERS.length) % LOCAL_REGIONS.length]
  return { provider, region, country, operator: `op-${i + 1}` }
}

export async function runUp (opts: UpOptions): Promise<number> {
  const dir = resolve(opts.dir)
  const count = Number(opts.nodes)
  if (!Number.isInteger(count) || count < 1 || count > 200) throw new RangeError(`--nodes must be an integer from 1 to 200 (got "${opts.nodes}")`)
  const port = parsePort(opts.port)
  await mkdir(join(dir, 'logs'), { recursive: true })

  const existing = await readNetworkFile(dir).catch(() => undefined)
  if (existing !== undefined && isAlive(existing.coordinator.pid)) {
    throw new Error(`a network is already running from ${dir} (coordinator pid ${existing.coordinator.pid}); stop it (Ctrl-C in its terminal) or use another --dir`)
  }
  await rm(join(dir, NETWORK_FILE), { force: true })

  const children: ChildProcess[] = []
  let stopping = false
  const stopAll = async (): Promise<void> => {
    stopping = true
    await rm(join(dir, NETWORK_FILE), { force: true })
    const running = children.filter((c) => c.exitCode === null && c.signalCode === null)
    for (const c of running) c.kill('SIGTERM')
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      Promise.all(running.map(async (c) => await new Promise((resolve) => { if (c.exitCode !== null || c.signalCode !== null) resolve(null); else c.once('exit', resolve) }))),
      new Promise((resolve) => { timer = setTimeout(resolve, STOP_GRACE_MS) })
    ])
    clearTimeout(timer)
    for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  }
  const say = (line: string): void => { if (opts.json !== true) process.stdout.write(line + '\n') }

  try {
    say(`Starting a local Shoal network in ${dir} …`)
    const coord = await start(children, join(dir, 'logs', 'coordinator.log'),
      ['coordinator', '--dir', join(dir, 'coordinator'), '--port', String(port), '--segment-size', opts.segmentSize ?? '64MiB',
        '--s3-port', opts.s3Port ?? (port === 0 ? '0' : String(DEFAULT_S3_PORT)),
        '--audit-interval', opts.auditInterval ?? LOCAL_DURABILITY.auditInterval,
        '--repair-interval', opts.repairInterval ?? LOCAL_DURABILITY.repairInterval,
        '--repair-grace', opts.repairGrace ?? LOCAL_DURABILITY.repairGrace,
        '--repair-bandwidth', opts.repairBandwidth ?? LOCAL_DURABILITY.repairBandwidth,
        '--gc-interval', opts.gcInterval ?? LOCAL_DURABILITY.gcInterval,
        '--gc-grace', opts.gcGrace ?? LOCAL_DURABILITY.gcGrace,
        '--json', '--exit-with-parent', String(process.pid)])
    const coordinatorUrl = coord.url as string
    const nodes: NetworkNode[] = []
    const starting = []
    for (let i = 0; i < count; i++) {
      const labels = localLabels(i)
      const dataDir = join(dir, 'nodes', `node-${i + 1}`)
      const nodePort = port === 0 ? 0 : port + NODE_PORT_OFFSET + i
      starting.push(start(children, join(dir, 'logs', `node-${i + 1}.log`), [
        'node', '--dir', dataDir, '--port', String(nodePort), '--coordinator', coordinatorUrl, '--coordinator-key', coord.publicKey as string,
        '--provider', labels.provider, '--region', labels.region, '--operator', labels.operator, '--country', labels.country,
        '--capacity', opts.capacity, '--json', '--exit-with-parent', String(process.pid)
      ]).then((ready) => {
        nodes[i] = { id: ready.id as string, url: ready.url as string, pid: ready.pid as number, provider: labels.provider, region: labels.region, operator: labels.operator, dataDir }
      }))
    }
    await Promise.all(starting)
    await waitOnline(coordinatorUrl, nodes.map((n) => n.id))
    const credentials = await s3Credentials(dir, coordinatorUrl)
    const network: NetworkFile = {
      coordinator: { url: coordinatorUrl, pid: coord.pid as number },
      s3: { endpoint: coord.s3 as string, accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey, region: coord.region as string },
      nodes
    }
    await writeNetworkFile(dir, network)

    for (const [i, child] of children.entries()) {
      child.once('exit', (code, signal) => {
        if (stopping) return
        const who = i === 0 ? 'coordinator' : `node-${i} (${nodes[i - 1]?.provider}/${nodes[i - 1]?.region})`
        process.stderr.write(`shoal up: ${who} pid ${child.pid} exited (${signal ?? `code ${code}`}); see ${join(dir, 'logs')}\n`)
      })
    }

    if (opts.json === true) {
      process.stdout.write(JSON.stringify({ event: 'ready', dir, network }) + '\n')
    } else {
      say(`\nCoordinator  ${coordinatorUrl}  (pid ${coord.pid})`)
      say(`S3 endpoint  ${network.s3!.endpoint}  region ${network.s3!.region}  access key ${network.s3!.accessKeyId}  secret ${network.s3!.secretAccessKey}`)
      for (const n of nodes) say(`Node ${n.id.slice(0, 12)}  ${n.url}  ${n.provider.padEnd(12)} ${n.region.padEnd(13)} ${n.operator.padEnd(6)} pid ${n.pid}`)
      say(`
Network description: ${join(dir, NETWORK_FILE)}   Logs: ${join(dir, 'logs')}

Try, in another terminal (from this folder):
  npx shoal mb demo
  npx shoal put ./some-file demo/some-file
  npx shoal ls demo/
  npx shoal get demo/some-file ./copy
  npx shoal status
  AWS_ACCESS_KEY_ID=${network.s3!.accessKeyId} AWS_SECRET_ACCESS_KEY=${network.s3!.secretAccessKey} aws --endpoint-url ${network.s3!.endpoint} s3 ls
  kill -9 ${nodes.filter((n) => n.provider === nodes[0]?.provider).map((n) => n.pid).join(' ')}   # take provider ${nodes[0]?.provider} down, then get again

Press Ctrl-C to stop every process.`)
    }
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => { resolve() })
      process.once('SIGTERM', () => { resolve() })
    })
    say('\nStopping …')
  } finally {
    await stopAll()
  }
  say('Stopped.')
  return 0
}

/** Spawns `shoal ARGS`, logs its stderr to `logFile`, resolves with its ready event. */
async function start (children: ChildProcess[], logFile: string, args: string[]): Promise<Record<string, unknown>> {
  const log = createWriteStream(logFile, { flags: 'a' })
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  child.stderr!.pipe(log)
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`${args[0]} did not start within ${START_TIMEOUT_MS} ms; see ${logFile}`)) }, START_TIMEOUT_MS)
    const lines = createInterface({ input: child.stdout! })
    lines.once('line', (line) => {
      clearTimeout(timer)
      let event: Record<string, any>
      try {
        event = JSON.parse(line)
      } catch {
        reject(new Error(`${args[0]} printed an unexpected first line: ${line}`))
        return
      }
      if (event.event === 'ready') resolve(event)
      else reject(new Error(`${args[0]} failed to start: ${event.error?.message ?? line}; see ${logFile}`))
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      // Give the log stream a moment to flush, then show the child's last words: usually the reason.
      setTimeout(() => {
        readFile(logFile, 'utf8').catch(() => '').then((text) => {
          const tail = text.trim().split('\n').slice(-3).join('\n  ')
          reject(new Error(`${args[0]} exited during start (${signal ?? `code ${code}`}); see ${logFile}${tail === '' ? '' : `:\n  ${tail}`}`))
        }, reject)
      }, 100)
    })
  })
}

/** File in DIR keeping the local network's default S3 credentials, so restarts print the same ones. */
export const CREDENTIALS_FILE = 's3-credentials.json'

/** The default account's S3 key: reused from DIR/s3-credentials.json while the coordinator still knows it, else created. */
async function s3Credentials (dir: string, coordinatorUrl: string): Promise<{ accessKeyId: string, secretAccessKey: string }> {
  const file = join(dir, CREDENTIALS_FILE)
  const client = new CoordinatorClient(coordinatorUrl)
  try {
    const saved = await readFile(file, 'utf8').then((t) => JSON.parse(t) as { accessKeyId: string, secretAccessKey: string }, () => undefined)
    if (saved !== undefined && (await client.listKeys()).some((k) => k.accessKeyId === saved.accessKeyId)) return saved
    const created = await client.createKey(DEFAULT_ACCOUNT)
    const fresh = { accessKeyId: created.accessKeyId, secretAccessKey: created.secretAccessKey }
    await writeFile(file, JSON.stringify(fresh, null, 2) + '\n', { mode: 0o600 })
    return fresh
  } finally {
    client.close()
  }
}

async function waitOnline (url: string, ids: string[]): Promise<void> {
  const client = new CoordinatorClient(url)
  const deadline = Date.now() + START_TIMEOUT_MS
  try {
    for (;;) {
      const status = await client.status()
      const online = new Set((status.nodes as Array<{ id: string, online: boolean }>).filter((n) => n.online).map((n) => n.id))
      if (ids.every((id) => online.has(id))) return
      if (Date.now() > deadline) throw new Error(`only ${online.size} of ${ids.length} nodes came online within ${START_TIMEOUT_MS} ms; see the logs`)
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  } finally {
    client.close()
  }
}
