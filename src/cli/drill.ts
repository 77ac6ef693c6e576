/**
 * `shoal drill`: a failure drill on a local network. It freezes every node of one failure domain (a
 * provider, region, operator or node) with SIGSTOP while a workload of writes and reads keeps running,
 * measures what users saw before and during the outage and how long repair took to restore full
 * redundancy, resumes the nodes, and reads back every object the drill wrote, byte for byte.
 *
 * SIGSTOP is the harder failure: the processes stay and their sockets stay open but nothing answers,
 * so every request to them hangs until a timeout (a killed node is refused at once). Frozen nodes are
 * always resumed: in a `finally`, on SIGINT/SIGTERM/SIGHUP and on process exit.
 *
 * `--dry-run` touches no process: it asks the coordinator, from metadata alone, which objects the
 * domain's outage would make unavailable or lose. It works against any coordinator.
 */
import { createHash, randomBytes } from 'node:crypto'
import { Readable, Writable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import type { OutageImpact } from '../risk/index.js'
import { isAlive } from '../util/process.js'
import type { CoordinatorClient, NodeStatus } from './client.js'
import { formatBytes, parseBytes, parseDuration, table } from './format.js'
import { findCoordinator, readNetworkFile, DEFAULT_DIR, type NetworkNode } from './network.js'
import { client, out, UsageError, type GlobalOptions } from './objects.js'

/** The failure domains a drill can take out, one per run. */
export const DRILL_DIMENSIONS = ['provider', 'region', 'operator', 'node'] as const
export type DrillDimension = typeof DRILL_DIMENSIONS[number]

/** Defaults of the flags, as `shoal drill --help` shows them. */
export const DRILL_DEFAULTS = {
  baseline: '5s',
  outage: '10s',
  timeout: '120s',
  concurrency: '4',
  objectSize: '256KiB'
} as const

/**
 * A workload request is given up after this long. A frozen node keeps its sockets open, so a request
 * the gateway routes to it waits for the gateway's own timeouts (a write right after the freeze took
 * 15 s on a 9-node local network); 30 s bounds that without cutting such a request short.
 */
export const REQUEST_TIMEOUT_MS = 30_000
/** Time between repair passes the drill asks for while the domain is down (the brief: every second). */
export const REPAIR_POLL_MS = 1000
/** How long resumed nodes get to be seen online again: they heartbeat every second. */
export const RESTORE_TIMEOUT_MS = 30_000
/** Time between status polls while waiting for nodes to go offline or come back. */
const STATUS_POLL_MS = 250
/** Reads of one object during verification before it counts as lost (a transient error is not a loss). */
export const VERIFY_ATTEMPTS = 3
const VERIFY_RETRY_MS = 1000
/** Objects named per list in the human dry-run output (--json lists all the coordinator returned). */
export const DRY_RUN_LISTED = 20
/** Share of workload requests that are writes (the rest read back objects the drill already wrote). */
const WRITE_SHARE = 0.5
/** Objects are generated and hashed in chunks of this size, so an object of any size streams. */
const CHUNK_BYTES = 64 * 1024
/** Upper bound of --concurrency: each worker holds one request and one chunk at a time. */
const MAX_CONCURRENCY = 256

export interface DrillOptions {
  provider?: string
  region?: string
  operator?: string
  /** Node id or a unique prefix of one. */
  node?: string
  /** Duration of the baseline phase (default 5s). */
  baseline?: string
  /** Least duration of the outage phase (default 10s); it lasts until full redundancy or --timeout. */
  outage?: string
  /** Longest wait for full redundancy, from the freeze (default 120s). */
  timeout?: string
  /** Concurrent workload requests (default 4). */
  concurrency?: string
  /** Size of each object the workload writes (default 256KiB). */
  objectSize?: string
  /** Delete the drill bucket and its objects afterwards (default: keep them). */
  cleanup?: boolean
  /** Answer from metadata only; touch no process. */
  dryRun?: boolean
  /** Aborts the drill (frozen nodes are resumed first). */
  signal?: AbortSignal
}

/** The drill was interrupted (Ctrl-C, SIGTERM or its signal); every node it froze has been resumed. */
export class DrillAbortedError extends Error {
  override readonly name = 'DrillAbortedError'
}

/** The network is not in a state a drill can start from (a node of the domain offline, a pid gone). */
export class DrillPreconditionError extends Error {
  override readonly name = 'DrillPreconditionError'
}

/** 'after': requests started once the nodes were resumed; in no phase's figures. */
type Phase = 'baseline' | 'outage' | 'after'
type Op = 'write' | 'read'

interface RequestRecord {
  readonly phase: Phase
  readonly op: Op
  readonly ok: boolean
  readonly ms: number
  readonly error?: string
}

/** What users saw in one phase. Latencies are of served requests, nearest-rank percentiles. */
export interface PhaseReport {
  readonly durationMs: number
  readonly requests: number
  readonly served: number
  readonly failed: number
  readonly writes: { readonly served: number, readonly failed: number }
  readonly reads: { readonly served: number, readonly failed: number }
  readonly latencyMs: { readonly p50: number | null, readonly p99: number | null, readonly max: number | null }
  /** Failed requests by error name. */
  readonly errors: Readonly<Record<string, number>>
}

export interface DrillNode {
  readonly id: string
  readonly pid: number
  readonly provider: string
  readonly region: string
  readonly operator: string
}

/** The `--json` output of a live drill. */
export interface DrillReport {
  readonly coordinator: string
  readonly domain: { readonly dimension: DrillDimension, readonly value: string }
  readonly failure: 'SIGSTOP'
  readonly nodes: readonly DrillNode[]
  readonly bucket: string
  readonly phases: { readonly baseline: PhaseReport, readonly outage: PhaseReport }
  readonly repair: {
    readonly graceMs: number
    /** From the freeze to the first repair pass that found no segment at risk; null when not reached. */
    readonly timeToFullRedundancyMs: number | null
    readonly note: string
    readonly passes: number
    readonly bytesRebuilt: number
    readonly piecesRebuilt: number
  }
  readonly restore: { readonly nodesOnline: boolean, readonly ms: number }
  readonly objects: { readonly written: number, readonly verified: number, readonly lost: number, readonly lostKeys: readonly string[] }
  readonly cleanedUp: boolean
  readonly ok: boolean
}

/**
 * Runs `shoal drill` and resolves with the exit code: 0 when no object was lost and the nodes came
 * back, 1 otherwise. Throws UsageError (exit 2) for a bad invocation (no domain or several, a domain
 * matching no node or every node, a live drill without a local network), DrillPreconditionError when
 * the domain is not all online, DrillAbortedError when interrupted.
 */
export async function drill (opts: DrillOptions & GlobalOptions): Promise<number> {
  const domain = parseDomain(opts)
  if (opts.dryRun === true) return await dryRun(domain, opts)
  const settings = parseSettings(opts)

  const url = await findCoordinator(opts)
  const network = await readNetworkFile(opts.dir ?? DEFAULT_DIR)
  if (network === undefined || network.coordinator.url.replace(/\/+$/, '') !== url) {
    throw new UsageError('a live drill freezes node processes, so it needs the network.json of a local network (`shoal up`, found through --dir) ' +
      'whose coordinator it talks to; against any other coordinator use --dry-run')
  }
  const c = await client(opts)
  try {
    const status = await c.status()
    const nodes = resolveNodes(domain, network.nodes, status.nodes)
    for (const n of nodes) {
      if (!Number.isInteger(n.pid) || n.pid <= 0 || !isAlive(n.pid)) throw new DrillPreconditionError(`node ${n.id.slice(0, 12)} (pid ${n.pid}) is not running; is ${opts.dir ?? DEFAULT_DIR} the network's folder?`)
      if (status.nodes.find((s) => s.id === n.id)?.online !== true) throw new DrillPreconditionError(`node ${n.id.slice(0, 12)} is offline already; a drill starts from a healthy domain (see shoal status)`)
    }
    const durability = await c.durability()
    const graceMs = Number(durability?.repair?.graceMs)
    if (!Number.isFinite(graceMs)) throw new DrillPreconditionError('this coordinator reports no repair grace (it runs without durability services); a live drill measures repair')
    return await new Drill(c, opts, domain, nodes, graceMs, settings).run()
  } finally {
    c.close()
  }
}

interface Settings {
  readonly baselineMs: number
  readonly outageMs: number
  readonly timeoutMs: number
  readonly concurrency: number
  readonly objectSize: number
}

function parseDomain (opts: DrillOptions): { dimension: DrillDimension, value: string } {
  const given = DRILL_DIMENSIONS.filter((d) => opts[d] !== undefined)
  if (given.length !== 1) {
    throw new UsageError(`name exactly one failure domain: ${DRILL_DIMENSIONS.map((d) => `--${d}`).join(', ')}` +
      (given.length > 1 ? ` (got ${given.map((d) => `--${d}`).join(' and ')})` : ''))
  }
  const value = (opts[given[0]] ?? '').trim()
  if (value === '') throw new UsageError(`--${given[0]} needs a value`)
  return { dimension: given[0], value }
}

function parseSettings (opts: DrillOptions): Settings {
  const duration = (text: string, flag: string, min: number): number => {
    const ms = parseDuration(text)
    if (ms < min) throw new UsageError(`--${flag} must be at least ${min} ms (got ${text})`)
    return ms
  }
  const concurrency = Number(opts.concurrency ?? DRILL_DEFAULTS.concurrency)
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > MAX_CONCURRENCY) throw new UsageError(`--concurrency must be an integer from 1 to ${MAX_CONCURRENCY}`)
  const objectSize = parseBytes(opts.objectSize ?? DRILL_DEFAULTS.objectSize)
  if (objectSize < 1) throw new UsageError('--object-size must be at least 1 byte')
  return {
    baselineMs: duration(opts.baseline ?? DRILL_DEFAULTS.baseline, 'baseline', 1),
    outageMs: duration(opts.outage ?? DRILL_DEFAULTS.outage, 'outage', 0),
    timeoutMs: duration(opts.timeout ?? DRILL_DEFAULTS.timeout, 'timeout', 1),
    concurrency,
    objectSize
  }
}

/** The domain's nodes, labels from network.json (or the coordinator's status where it lacks them). */
function resolveNodes (domain: { dimension: DrillDimension, value: string }, local: readonly NetworkNode[], known: readonly NodeStatus[]): DrillNode[] {
  const nodes: DrillNode[] = local.map((n) => {
    const s = known.find((k) => k.id === n.id)
    return { id: n.id, pid: n.pid, provider: n.provider ?? s?.provider ?? '', region: n.region ?? s?.region ?? '', operator: n.operator ?? s?.operator ?? '' }
  })
  const { dimension, value } = domain
  let matched: DrillNode[]
  if (dimension === 'node') {
    const exact = nodes.filter((n) => n.id === value)
    matched = exact.length > 0 ? exact : nodes.filter((n) => n.id.startsWith(value))
    if (matched.length > 1) throw new UsageError(`--node ${value} matches ${matched.length} nodes; give more of the id`)
  } else {
    matched = nodes.filter((n) => n[dimension] === value)
  }
  if (matched.length === 0) {
    const values = dimension === 'node' ? nodes.map((n) => n.id.slice(0, 12)) : [...new Set(nodes.map((n) => n[dimension]))].sort()
    throw new UsageError(dimension === 'node'
      ? `no node "${value}" in this network; nodes here: ${values.join(', ')}`
      : `no node of this network has ${dimension} "${value}"; ${dimension}s here: ${values.join(', ')}`)
  }
  if (matched.length === nodes.length) {
    throw new UsageError(`${dimension} "${value}" is every node of this network; with all of them frozen nothing would serve, so there is nothing to measure`)
  }
  return matched
}

/** One live drill: phases, repair watch, restore, verification, report. */
class Drill {
  readonly #c: CoordinatorClient
  readonly #opts: DrillOptions & GlobalOptions
  readonly #domain: { dimension: DrillDimension, value: string }
  readonly #nodes: readonly DrillNode[]
  readonly #graceMs: number
  readonly #s: Settings
  readonly #abort = new AbortController()

  constructor (c: CoordinatorClient, opts: DrillOptions & GlobalOptions, domain: { dimension: DrillDimension, value: string },
    nodes: readonly DrillNode[], graceMs: number, settings: Settings) {
    this.#c = c
    this.#opts = opts
    this.#domain = domain
    this.#nodes = nodes
    this.#graceMs = graceMs
    this.#s = settings
  }

  #say (line: string): void {
    if (this.#opts.json !== true) process.stderr.write(`drill: ${line}\n`)
  }

  async run (): Promise<number> {
    const signal = this.#abort.signal
    const outer = this.#opts.signal
    const onOuter = (): void => { this.#abort.abort(new DrillAbortedError('drill aborted', { cause: outer?.reason })) }
    if (outer?.aborted === true) onOuter()
    outer?.addEventListener('abort', onOuter, { once: true })
    const freezer = new Freezer(this.#nodes.map((n) => n.pid), (sig) => {
      this.#abort.abort(new DrillAbortedError(`drill interrupted by ${sig}; every frozen node was resumed (SIGCONT)`))
    })
    const bucket = `drill-${randomBytes(4).toString('hex')}`
    const workload = new Workload(this.#c, bucket, this.#s, signal)
    try {
      const what = `${this.#domain.dimension} ${this.#domain.value}`
      await this.#c.createBucket(bucket)
      this.#say(`bucket ${bucket}; domain ${what}: ${this.#nodes.map((n) => `${n.id.slice(0, 12)} (pid ${n.pid})`).join(', ')}`)
      this.#say(`baseline: ${this.#s.concurrency} workers writing and reading ${formatBytes(this.#s.objectSize)} objects for ${this.#s.baselineMs / 1000}s`)
      const baselineStart = Date.now()
      workload.start()
      await sleep(this.#s.baselineMs, undefined, { signal })
      const before = await repairTotals(this.#c)

      this.#say(`outage: freezing ${this.#nodes.length} node(s) with SIGSTOP (processes stay, sockets hang: the harder failure)`)
      const outageStart = Date.now()
      workload.phase = 'outage'
      freezer.freeze()
      const watch = await this.#watchRepair(outageStart, signal)

      this.#say('restore: resuming the frozen nodes (SIGCONT)')
      freezer.resume()
      const restoreStart = Date.now()
      workload.phase = 'after'
      const stopping = workload.stop()
      const nodesOnline = await this.#waitOnline(signal)
      const restoreMs = Date.now() - restoreStart
      await stopping
      const after = await repairTotals(this.#c)
      this.#say(nodesOnline ? `restore: all ${this.#nodes.length} node(s) online again after ${(restoreMs / 1000).toFixed(1)}s` : `restore: nodes NOT all online after ${RESTORE_TIMEOUT_MS / 1000}s`)

      this.#say(`verify: reading back ${workload.acknowledged.size} objects`)
      const lostKeys = await verify(this.#c, bucket, workload.acknowledged, this.#s.concurrency, signal)
      let cleanedUp = false
      if (this.#opts.cleanup === true) {
        await cleanup(this.#c, bucket)
        cleanedUp = true
      }

      const sum = (f: (p: RepairPass) => number): number => watch.passes.reduce((a, p) => a + f(p), 0)
      const report: DrillReport = {
        coordinator: this.#c.url,
        domain: this.#domain,
        failure: 'SIGSTOP',
        nodes: this.#nodes,
        bucket,
        phases: {
          baseline: phaseReport(workload.records, 'baseline', outageStart - baselineStart),
          outage: phaseReport(workload.records, 'outage', restoreStart - outageStart)
        },
        repair: {
          graceMs: this.#graceMs,
          timeToFullRedundancyMs: watch.fullRedundancyMs,
          note: watch.fullRedundancyMs === null ? `not reached within timeout (${this.#s.timeoutMs / 1000}s)` : 'every segment had all its pieces healthy again',
          passes: watch.passes.length,
          // The coordinator's totals count every pass of the window, its own timer's included; the
          // passes the drill asked for are the fallback when it reports none.
          bytesRebuilt: before !== undefined && after !== undefined ? after.bytesRebuilt - before.bytesRebuilt : sum((p) => p.bytesRebuilt),
          piecesRebuilt: before !== undefined && after !== undefined ? after.piecesRebuilt - before.piecesRebuilt : sum((p) => p.piecesRebuilt)
        },
        restore: { nodesOnline, ms: restoreMs },
        objects: { written: workload.acknowledged.size, verified: workload.acknowledged.size - lostKeys.length, lost: lostKeys.length, lostKeys },
        cleanedUp,
        ok: lostKeys.length === 0 && nodesOnline
      }
      out(this.#opts, report, render(report))
      return report.ok ? 0 : 1
    } catch (err) {
      if (signal.aborted) throw signal.reason
      throw err
    } finally {
      freezer.close()
      outer?.removeEventListener('abort', onOuter)
      this.#abort.abort(new DrillAbortedError('drill finished'))
      await workload.stop()
    }
  }

  /**
   * Asks for a repair pass every second until one finds no segment at risk, or the timeout; the phase
   * lasts at least --outage. A pass counts only if it began once the domain's nodes were seen offline
   * and the repair grace had passed since the freeze: before that their pieces still count as healthy,
   * and a pass finding nothing at risk says nothing about redundancy. A call joins the pass running
   * (the coordinator's timer may have started it long ago, and a pass can stall on a frozen node), and
   * passes never overlap, so the pass a call gets began no earlier than the previous report arrived:
   * only a call made after a report that arrived past that moment counts.
   */
  async #watchRepair (outageStart: number, signal: AbortSignal): Promise<{ passes: RepairPass[], fullRedundancyMs: number | null }> {
    const passes: RepairPass[] = []
    const ids = new Set(this.#nodes.map((n) => n.id))
    let fullRedundancyMs: number | null = null
    let seenOffline = false
    let eligibleAt: number | undefined
    let lastReportAt = -Infinity
    let lastNote = 0
    for (;;) {
      const elapsed = Date.now() - outageStart
      if (elapsed >= this.#s.outageMs && (fullRedundancyMs !== null || elapsed >= this.#s.timeoutMs)) break
      if (fullRedundancyMs === null && elapsed < this.#s.timeoutMs) {
        if (!seenOffline) {
          seenOffline = (await this.#c.status()).nodes.filter((n) => ids.has(n.id)).every((n) => !n.online)
          if (seenOffline) this.#say(`outage: the coordinator sees the domain offline after ${((Date.now() - outageStart) / 1000).toFixed(1)}s; repair grace is ${this.#graceMs / 1000}s`)
        }
        if (eligibleAt === undefined && seenOffline && Date.now() - outageStart >= this.#graceMs) eligibleAt = Date.now()
        const counts = eligibleAt !== undefined && lastReportAt >= eligibleAt
        const r = await this.#c.runDurability('repair')
        lastReportAt = Date.now()
        const pass: RepairPass = { at: lastReportAt - outageStart, atRisk: Number(r.atRisk), bytesRebuilt: Number(r.bytesRebuilt ?? 0), piecesRebuilt: Number(r.piecesRebuilt ?? 0) }
        passes.push(pass)
        if (counts && pass.atRisk === 0) {
          fullRedundancyMs = pass.at
          this.#say(`repair: full redundancy after ${(pass.at / 1000).toFixed(1)}s`)
        } else if (pass.at - lastNote >= 5000 || pass.piecesRebuilt > 0) {
          lastNote = pass.at
          this.#say(`repair: ${pass.atRisk} segment(s) at risk at ${(pass.at / 1000).toFixed(1)}s${pass.piecesRebuilt > 0 ? `, ${pass.piecesRebuilt} piece(s) rebuilt` : ''}`)
        }
      }
      await sleep(REPAIR_POLL_MS, undefined, { signal })
    }
    return { passes, fullRedundancyMs }
  }

  /** Waits until the coordinator sees every node of the domain online; false after RESTORE_TIMEOUT_MS. */
  async #waitOnline (signal: AbortSignal): Promise<boolean> {
    const deadline = Date.now() + RESTORE_TIMEOUT_MS
    const ids = new Set(this.#nodes.map((n) => n.id))
    for (;;) {
      const online = (await this.#c.status()).nodes.filter((n) => ids.has(n.id) && n.online).length
      if (online === ids.size) return true
      if (Date.now() > deadline) return false
      await sleep(STATUS_POLL_MS, undefined, { signal })
    }
  }
}

interface RepairPass {
  /** When the report arrived, from the freeze. */
  readonly at: number
  readonly atRisk: number
  readonly bytesRebuilt: number
  readonly piecesRebuilt: number
}

async function repairTotals (c: CoordinatorClient): Promise<{ bytesRebuilt: number, piecesRebuilt: number } | undefined> {
  const r = (await c.durability())?.repair
  if (typeof r?.bytesRebuilt !== 'number' || typeof r?.piecesRebuilt !== 'number') return undefined
  return { bytesRebuilt: r.bytesRebuilt, piecesRebuilt: r.piecesRebuilt }
}

/**
 * Freezes processes with SIGSTOP and guarantees SIGCONT: resume() is idempotent, and while frozen a
 * SIGINT/SIGTERM/SIGHUP resumes them (then calls `onSignal`; a second signal exits at once) and so
 * does process exit. close() resumes and removes the handlers; calling it twice is safe.
 */
class Freezer {
  static readonly #SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const
  readonly #pids: readonly number[]
  readonly #onSignal: (sig: NodeJS.Signals) => void
  readonly #onExit = (): void => { this.resume() }
  readonly #onProcessSignal = (sig: NodeJS.Signals): void => {
    this.resume()
    if (this.#signalled) process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1))
    this.#signalled = true
    this.#onSignal(sig)
  }

  #frozen = false
  #installed = false
  #signalled = false

  constructor (pids: readonly number[], onSignal: (sig: NodeJS.Signals) => void) {
    this.#pids = pids
    this.#onSignal = onSignal
  }

  freeze (): void {
    if (!this.#installed) {
      this.#installed = true
      process.on('exit', this.#onExit)
      for (const s of Freezer.#SIGNALS) process.on(s, this.#onProcessSignal)
    }
    // Marked frozen first: a signal arriving halfway through still resumes every pid.
    this.#frozen = true
    for (const pid of this.#pids) process.kill(pid, 'SIGSTOP')
  }

  resume (): void {
    if (!this.#frozen) return
    this.#frozen = false
    for (const pid of this.#pids) {
      try {
        process.kill(pid, 'SIGCONT')
      } catch {} // gone already: nothing left frozen
    }
  }

  close (): void {
    this.resume()
    if (!this.#installed) return
    this.#installed = false
    process.off('exit', this.#onExit)
    for (const s of Freezer.#SIGNALS) process.off(s, this.#onProcessSignal)
  }
}

/**
 * Concurrent writes of random objects and reads of objects already written, each timed and checked
 * (a read whose bytes differ from what was written counts as failed). start() once; stop() waits for
 * the requests in flight and is safe to call twice.
 */
class Workload {
  /** Each request counts in the phase current when it starts, or in the outage if it was in flight when that began. */
  phase: Phase = 'baseline'
  readonly records: RequestRecord[] = []
  /** sha256 of every object whose write was acknowledged, by key. */
  readonly acknowledged = new Map<string, string>()
  readonly #keys: string[] = []
  readonly #c: CoordinatorClient
  readonly #bucket: string
  readonly #s: Settings
  readonly #signal: AbortSignal
  #stopped = false
  #workers: Promise<void> | undefined
  #seq = 0

  constructor (c: CoordinatorClient, bucket: string, settings: Settings, signal: AbortSignal) {
    this.#c = c
    this.#bucket = bucket
    this.#s = settings
    this.#signal = signal
  }

  start (): void {
    this.#workers ??= Promise.all(Array.from({ length: this.#s.concurrency }, async () => { await this.#worker() })).then(() => {})
  }

  async stop (): Promise<void> {
    this.#stopped = true
    await this.#workers
  }

  async #worker (): Promise<void> {
    while (!this.#stopped && !this.#signal.aborted) {
      const keys = this.#keys
      const op: Op = keys.length === 0 || Math.random() < WRITE_SHARE ? 'write' : 'read'
      const startPhase = this.phase
      const started = performance.now()
      // A request in flight when the nodes froze met the outage: it counts there, not in the baseline.
      const phaseOf = (): Phase => startPhase === 'baseline' && this.phase !== 'baseline' ? 'outage' : startPhase
      const signal = AbortSignal.any([this.#signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)])
      try {
        if (op === 'write') {
          const key = `${startPhase}/${String(++this.#seq).padStart(6, '0')}`
          const hash = createHash('sha256')
          await this.#c.put(this.#bucket, key, Readable.from(randomChunks(this.#s.objectSize, hash)), { size: this.#s.objectSize, signal })
          this.acknowledged.set(key, hash.digest('hex'))
          this.#keys.push(key)
        } else {
          const key = keys[Math.floor(Math.random() * keys.length)]
          const got = await readHash(this.#c, this.#bucket, key, signal)
          if (got !== this.acknowledged.get(key)) throw new ReadMismatchError(`${key} read back different bytes`)
        }
        this.records.push({ phase: phaseOf(), op, ok: true, ms: performance.now() - started })
      } catch (err) {
        if (this.#signal.aborted) return
        const e = err as Error
        const name = e.name === 'ApiError' ? (err as { errorName: string }).errorName : e.name === 'AbortError' || e.name === 'TimeoutError' ? 'TimeoutError' : e.name
        this.records.push({ phase: phaseOf(), op, ok: false, ms: performance.now() - started, error: name })
      }
    }
  }
}

/** A read returned bytes other than those written. */
class ReadMismatchError extends Error {
  override readonly name = 'ReadMismatchError'
}

/** `size` random bytes in CHUNK_BYTES pieces, each added to `hash` as it is produced. */
function * randomChunks (size: number, hash: ReturnType<typeof createHash>): Generator<Buffer> {
  for (let left = size; left > 0; left -= CHUNK_BYTES) {
    const chunk = randomBytes(Math.min(CHUNK_BYTES, left))
    hash.update(chunk)
    yield chunk
  }
}

/** Streams bucket/key through sha256; resolves with the hex digest. */
async function readHash (c: CoordinatorClient, bucket: string, key: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256')
  const sink = new Writable({ write (chunk: Buffer, _enc, cb) { hash.update(chunk); cb() } })
  await c.get(bucket, key, sink, { signal })
  return hash.digest('hex')
}

/** Reads back every acknowledged object; returns the keys missing or different after VERIFY_ATTEMPTS tries. */
async function verify (c: CoordinatorClient, bucket: string, expected: ReadonlyMap<string, string>, concurrency: number, signal: AbortSignal): Promise<string[]> {
  const keys = [...expected.keys()]
  const lost: string[] = []
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < keys.length) {
      const key = keys[next++]
      let ok = false
      for (let attempt = 1; attempt <= VERIFY_ATTEMPTS && !ok; attempt++) {
        try {
          ok = await readHash(c, bucket, key, AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)])) === expected.get(key)
        } catch {
          if (signal.aborted) throw signal.reason
        }
        if (!ok && attempt < VERIFY_ATTEMPTS) await sleep(VERIFY_RETRY_MS, undefined, { signal })
      }
      if (!ok) lost.push(key)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, keys.length)) }, worker))
  return lost.sort()
}

/** Deletes every object of the drill bucket (acknowledged or not) and the bucket. */
async function cleanup (c: CoordinatorClient, bucket: string): Promise<void> {
  for (;;) {
    const page = await c.list(bucket, { limit: 1000 })
    for (const o of page.objects) await c.delete(bucket, o.key)
    if (page.objects.length === 0 || !page.truncated) break
  }
  await c.deleteBucket(bucket)
}

function phaseReport (records: readonly RequestRecord[], phase: Exclude<Phase, 'after'>, durationMs: number): PhaseReport {
  const mine = records.filter((r) => r.phase === phase)
  const served = mine.filter((r) => r.ok)
  const latencies = served.map((r) => r.ms).sort((a, b) => a - b)
  const errors: Record<string, number> = {}
  for (const r of mine) if (!r.ok) errors[r.error ?? 'Error'] = (errors[r.error ?? 'Error'] ?? 0) + 1
  const count = (op: Op, ok: boolean): number => mine.filter((r) => r.op === op && r.ok === ok).length
  return {
    durationMs,
    requests: mine.length,
    served: served.length,
    failed: mine.length - served.length,
    writes: { served: count('write', true), failed: count('write', false) },
    reads: { served: count('read', true), failed: count('read', false) },
    latencyMs: { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), max: latencies.length === 0 ? null : round(latencies[latencies.length - 1]) },
    errors
  }
}

/** Nearest-rank percentile of sorted values, to 0.1 ms; null when there are none. */
function percentile (sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null
  return round(sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))])
}

function round (ms: number): number {
  return Math.round(ms * 10) / 10
}

function render (r: DrillReport): string {
  const b = r.phases.baseline
  const o = r.phases.outage
  const ms = (v: number | null): string => v === null ? '-' : `${v.toFixed(0)} ms`
  const errs = (p: PhaseReport): string => Object.entries(p.errors).map(([n, c]) => `${n} ${c}`).join(', ') || '-'
  const lines = [
    `Drill of ${r.domain.dimension} ${r.domain.value} on ${r.coordinator}: ${r.nodes.length} node(s) frozen with SIGSTOP ` +
      '(processes kept, sockets hanging: harder than a crash, which is refused at once)',
    '',
    table(['', 'BEFORE', 'DURING OUTAGE'], [
      ['duration', `${(b.durationMs / 1000).toFixed(1)}s`, `${(o.durationMs / 1000).toFixed(1)}s`],
      ['requests served', String(b.served), String(o.served)],
      ['requests failed', String(b.failed), String(o.failed)],
      ['latency p50', ms(b.latencyMs.p50), ms(o.latencyMs.p50)],
      ['latency p99', ms(b.latencyMs.p99), ms(o.latencyMs.p99)],
      ['errors', errs(b), errs(o)]
    ]),
    '',
    `Time to full redundancy: ${r.repair.timeToFullRedundancyMs === null ? r.repair.note : `${(r.repair.timeToFullRedundancyMs / 1000).toFixed(1)}s`} ` +
      `(repair grace ${r.repair.graceMs / 1000}s)`,
    `Repaired: ${formatBytes(r.repair.bytesRebuilt)} in ${r.repair.piecesRebuilt} piece(s)`,
    `Objects: ${r.objects.written} written, ${r.objects.verified} verified byte-exact, ${r.objects.lost} lost` +
      (r.objects.lost > 0 ? `: ${r.objects.lostKeys.slice(0, DRY_RUN_LISTED).join(', ')}` : ''),
    `Nodes: ${r.nodes.map((n) => `${n.id.slice(0, 12)} (${n.provider}/${n.region}/${n.operator})`).join(', ')}; ` +
      (r.restore.nodesOnline ? `all online again after ${(r.restore.ms / 1000).toFixed(1)}s` : `NOT all online again after ${RESTORE_TIMEOUT_MS / 1000}s`),
    `Bucket: ${r.bucket}${r.cleanedUp ? ' (deleted)' : ' (kept; --cleanup deletes it)'}`,
    r.ok ? 'Result: PASS' : `Result: FAIL${r.objects.lost > 0 ? ` (${r.objects.lost} object(s) lost)` : ''}${r.restore.nodesOnline ? '' : ' (nodes not back online)'}`
  ]
  return lines.join('\n')
}

/** `--dry-run`: what the domain's outage would do, from metadata only. */
async function dryRun (domain: { dimension: DrillDimension, value: string }, opts: DrillOptions & GlobalOptions): Promise<number> {
  const c = await client(opts)
  try {
    let value = domain.value
    const status = await c.status()
    if (domain.dimension === 'node') {
      const exact = status.nodes.filter((n) => n.id === value)
      const matched = exact.length > 0 ? exact : status.nodes.filter((n) => n.id.startsWith(value))
      if (matched.length !== 1) throw new UsageError(matched.length === 0 ? `no node ${value}; \`shoal status\` lists them` : `--node ${value} matches ${matched.length} nodes; give more of the id`)
      value = matched[0].id
    }
    const impact = await c.outage(domain.dimension, value) as OutageImpact
    if (impact.nodes === 0) {
      const dim = domain.dimension as Exclude<DrillDimension, 'node'>
      throw new UsageError(`no node of this network has ${dim} "${value}"; ${dim}s here: ${[...new Set(status.nodes.map((n) => n[dim]))].sort().join(', ')}`)
    }
    out(opts, { dryRun: true, ...impact }, renderDryRun(impact))
    return 0
  } finally {
    c.close()
  }
}

function renderDryRun (r: OutageImpact): string {
  const list = (title: string, a: OutageImpact['lost']): string[] => {
    const lines = [`${title}: ${a.count} object(s) in ${a.segments} segment(s)${a.count > a.causedByOutage ? ` (${a.count - a.causedByOutage} of them already before the outage)` : ''}`]
    for (const o of a.objects.slice(0, DRY_RUN_LISTED)) lines.push(`  ${o.bucket}/${o.key}${o.causedByOutage ? '' : ' (already)'}`)
    if (a.count > Math.min(a.objects.length, DRY_RUN_LISTED)) lines.push(`  … ${a.count - Math.min(a.objects.length, DRY_RUN_LISTED)} more (--json lists up to ${a.objects.length})`)
    return lines
  }
  return [
    `Dry run: if ${r.domain.dimension} ${r.domain.value} failed (${r.nodes} node(s), ${r.onlineNodes} online now, ${formatBytes(r.storedBytes)} of pieces); no process was touched`,
    ...list('Would lose availability', r.unavailable),
    ...list('Would lose data', r.lost)
  ].join('\n')
}
