/**
 * `shoal coordinator` and `shoal node`: run one long-lived process until SIGINT/SIGTERM. With --json,
 * a single ready line `{"event":"ready",…}` goes to stdout once serving (used by `shoal up`).
 */
import { resolve } from 'node:path'
import { Coordinator } from '../coordinator/coordinator.js'
import { NodeAgent } from '../node/node-agent.js'
import { createLogger } from '../util/logger.js'
import { parseBytes, parseDuration } from './format.js'
import type { DurabilityInit } from '../coordinator/durability.js'

export interface CoordinatorOptions {
  dir: string
  host: string
  port: string
  metadata?: string
  segmentSize?: string
  s3Port?: string
  json?: boolean
  exitWithParent?: string
  auditInterval?: string
  repairInterval?: string
  repairGrace?: string
  repairBandwidth?: string
  gcInterval?: string
  gcGrace?: string
}

/** The durability settings given on the command line (unset ones keep durability.ts's defaults). */
export function durabilityFrom (opts: CoordinatorOptions): DurabilityInit {
  const ms = (v: string | undefined): number | undefined => v === undefined ? undefined : parseDuration(v)
  return {
    auditIntervalMs: ms(opts.auditInterval),
    repairIntervalMs: ms(opts.repairInterval),
    repairGraceMs: ms(opts.repairGrace),
    repairBandwidth: opts.repairBandwidth === undefined ? undefined : parseBytes(opts.repairBandwidth),
    gcIntervalMs: ms(opts.gcInterval),
    gcGraceMs: ms(opts.gcGrace)
  }
}

export async function runCoordinator (opts: CoordinatorOptions): Promise<number> {
  const logger = createLogger('coordinator')
  const coordinator = new Coordinator({
    dataDir: resolve(opts.dir),
    host: opts.host,
    port: parsePort(opts.port),
    metadataUrl: opts.metadata,
    segmentSize: opts.segmentSize === undefined ? undefined : parseBytes(opts.segmentSize),
    s3Port: opts.s3Port === undefined ? undefined : opts.s3Port === 'off' ? false : parsePort(opts.s3Port),
    durability: durabilityFrom(opts)
  }, { logger })
  await coordinator.start()
  ready(opts.json === true, { event: 'ready', role: 'coordinator', id: coordinator.id, publicKey: coordinator.publicKey, url: coordinator.url, s3: coordinator.s3Url, region: coordinator.s3Region, pid: process.pid },
    `coordinator ${coordinator.id} listening on ${coordinator.url}${coordinator.s3Url === '' ? '' : `, S3 on ${coordinator.s3Url}`}`)
  await untilStopped(opts.exitWithParent, logger)
  await coordinator.stop()
  return 0
}

export interface NodeOptions {
  dir: string
  host: string
  port: string
  advertiseUrl?: string
  coordinator?: string
  coordinatorKey?: string
  provider: string
  region: string
  operator: string
  country: string
  capacity: string
  json?: boolean
  exitWithParent?: string
}

export async function runNode (opts: NodeOptions): Promise<number> {
  const coordinatorUrl = opts.coordinator ?? process.env.SHOAL_COORDINATOR
  if (coordinatorUrl === undefined || coordinatorUrl === '') throw new RangeError('a node needs its coordinator: pass --coordinator URL (or set SHOAL_COORDINATOR)')
  const logger = createLogger('node')
  const agent = new NodeAgent({
    dataDir: resolve(opts.dir),
    host: opts.host,
    port: parsePort(opts.port),
    advertiseUrl: opts.advertiseUrl,
    coordinatorUrl,
    coordinatorKey: opts.coordinatorKey,
    labels: { provider: opts.provider, region: opts.region, operator: opts.operator, country: opts.country.toUpperCase() },
    capacityBytes: parseBytes(opts.capacity)
  }, { logger })
  await agent.start()
  ready(opts.json === true, { event: 'ready', role: 'node', id: agent.id, url: agent.url, pid: process.pid },
    `node ${agent.id} (${opts.provider}/${opts.region}) serving pieces on ${agent.url}`)
  await untilStopped(opts.exitWithParent, logger, agent.exited.then(() => 'this node has exited the network (shoal node exit)'))
  await agent.stop()
  return 0
}

export function parsePort (text: string): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new RangeError(`port "${text}" must be an integer from 0 to 65535`)
  return n
}

function ready (json: boolean, event: Record<string, unknown>, line: string): void {
  process.stdout.write(json ? JSON.stringify(event) + '\n' : line + '\n')
}

/** Resolves on SIGINT/SIGTERM, when the parent process (`shoal up`) is gone, or when `also` resolves (with the reason). */
async function untilStopped (parentPid: string | undefined, logger: ReturnType<typeof createLogger>, also?: Promise<string>): Promise<void> {
  await new Promise<void>((resolve) => {
    let stopped = false
    void also?.then((why) => { done(why) })
    const done = (why: string): void => {
      if (stopped) return
      stopped = true
      logger.info(`stopping (${why})`)
      clearInterval(watch)
      process.off('SIGINT', onInt)
      process.off('SIGTERM', onTerm)
      resolve()
    }
    const onInt = (): void => { done('SIGINT') }
    const onTerm = (): void => { done('SIGTERM') }
    process.on('SIGINT', onInt)
    process.on('SIGTERM', onTerm)
    const ppid = parentPid === undefined ? undefined : Number(parentPid)
    const watch = setInterval(() => {
      if (ppid === undefined) return
      try {
        process.kill(ppid, 0)
      } catch {
        done(`parent ${ppid} exited`)
      }
    }, 1000)
  })
}
