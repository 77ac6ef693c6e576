/**
 * `npm run bench`: Shoal's figures, each beside a baseline measured in the same run on the same machine
 * (these machines are noisy, so only ratios within one run mean much).
 *
 *   1. Baseline: a plain node:http server in its own process that streams a PUT body to disk (fsync at
 *      the end) and streams it back on GET (bench/baseline-server.ts).
 *   2. Full path: `shoal up` (a coordinator and 9 node agents as separate processes); the same object
 *      PUT and GET through the coordinator's API: encrypt → Reed-Solomon 4+2 → fan out, and back.
 *   3. S3: the same object PUT and GET through `shoal up`'s S3 endpoint with @aws-sdk/client-s3
 *      (lib-storage multipart Upload, 16 MiB parts, the SDK's default checksums and signing), beside the same baselines.
 *   4. Small objects: 4 KiB objects PUT, then GET, 32 at a time, through the S3 endpoint with the SDK,
 *      beside the same PUTs and GETs to the baseline server over node:http keep-alive connections.
 *   5. Codec: the native 4+2 erasure codec at 16 MiB shards beside the pure-TypeScript reference.
 *
 * Every network figure is the median of --rounds rounds (baseline and Shoal alternate within a
 * round, so slow spells hit both). CPU-seconds per phase are read from /proc/PID/stat for every process.
 * The results are also written to bench/results/latest.json.
 *
 * Usage: npm run bench [-- --rounds N] [-- --size MiB] [-- --json] [-- --nodes N] [-- --keep]
 * Exits 1 when anything fails (a process does not start, a request fails, a download's sha256 differs
 * from the upload's), after printing what the processes logged; every process it started is stopped by
 * pid and its temporary folder removed, on success, on error and on Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash, randomFillSync } from 'node:crypto'
import { once, setMaxListeners } from 'node:events'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { Agent, request, type IncomingMessage } from 'node:http'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { createCodec, measureCodec } from '../src/erasure/index.js'
import { isAlive as alive } from '../src/util/process.js'

/** Repository root: this file runs as dist/bench/run.js. */
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const SHOAL_BIN = join(ROOT, 'bin', 'shoal.js')
const BASELINE_SERVER = fileURLToPath(new URL('./baseline-server.js', import.meta.url))
const RESULTS_FILE = join(ROOT, 'bench', 'results', 'latest.json')

const MiB = 1024 * 1024
/** Client write size: 1 MiB chunks, each write waiting for 'drain' when the socket buffer is full. */
const CHUNK_BYTES = 1 * MiB
/** Segment size given to `shoal up` (the design's default). */
const SEGMENT_SIZE = '64MiB'
/** Shard size for the codec figure: a 64 MiB segment over k=4 is 16 MiB per data shard. */
const CODEC_SHARD_BYTES = 16 * MiB
/** Timed codec operations per measurement (native: each a few ms; the reference is ~100× slower). */
const NATIVE_CODEC_ROUNDS = 5
const REFERENCE_CODEC_ROUNDS = 1
/** Targets from the issue: the full path should keep this share of a plain server's throughput. */
const UPLOAD_TARGET = 0.6
const DOWNLOAD_TARGET = 0.8
/** Small objects through S3 should keep half a plain server's operations per second. */
const SMALL_OBJECTS_TARGET = 0.5
/** 4 KiB: the small-object size S3 workloads are usually quoted at (thumbnails, manifests, JSON). */
const SMALL_OBJECT_BYTES = 4 * 1024
/** Requests in flight at once for the small-object figures: a busy client's connection pool. */
const SMALL_CONCURRENCY = 32
/** Small objects per phase and round (PUTs, then GETs of what was put)… */
const SMALL_COUNT = 2000
/** …unless a phase runs this long first: no new request starts after it, so a round is bounded. */
const SMALL_MAX_SECONDS = 10
/** `shoal up` starts ten processes and waits for every node to heartbeat; its own limit is 30 s each. */
const UP_READY_TIMEOUT_MS = 90_000
/** `up` gives its children 5 s to stop before SIGKILL; allow that plus its own exit. */
const UP_STOP_TIMEOUT_MS = 15_000
const BASELINE_STOP_TIMEOUT_MS = 5_000
/** How much of a child's stderr and of each log file to show when something fails. */
const LOG_TAIL_BYTES = 4000

class BenchFailedError extends Error {
  override readonly name: string = 'BenchFailedError'
}
class IntegrityError extends BenchFailedError {
  override readonly name = 'IntegrityError'
}
class ProcessStartError extends BenchFailedError {
  override readonly name = 'ProcessStartError'
}
class HttpStatusError extends BenchFailedError {
  override readonly name = 'HttpStatusError'
}

interface Options {
  readonly rounds: number
  readonly sizeMiB: number
  readonly nodes: number
  readonly json: boolean
  readonly keep: boolean
}

function parseOptions (argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string', default: '3' },
      size: { type: 'string', default: '256' },
      nodes: { type: 'string', default: '9' },
      json: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false }
    }
  })
  const rounds = Number(values.rounds)
  const sizeMiB = Number(values.size)
  const nodes = Number(values.nodes)
  if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`--rounds must be a positive integer (got ${values.rounds})`)
  if (!Number.isInteger(sizeMiB) || sizeMiB < 1 || sizeMiB > 4096) throw new RangeError(`--size must be an integer number of MiB from 1 to 4096 (got ${values.size})`)
  if (!Number.isInteger(nodes) || nodes < 6) throw new RangeError(`--nodes must be an integer ≥ 6 for 4+2 (got ${values.nodes})`)
  return { rounds, sizeMiB, nodes, json: values.json, keep: values.keep }
}

// ---------------------------------------------------------------------------------------------------
// Processes: everything started here is tracked by pid and stopped in `Cleanup.run`.

/** A stack of stop actions, run once in reverse order on success, error or Ctrl-C. */
class Cleanup {
  readonly #actions: Array<{ what: string, run: () => Promise<void> }> = []
  /** Pids that must be dead when the bench exits; killed synchronously on 'exit' as a last resort. */
  readonly pids = new Set<number>()
  #running: Promise<void> | undefined

  add (what: string, run: () => Promise<void>): void { this.#actions.push({ what, run }) }

  async run (log: (line: string) => void): Promise<void> {
    this.#running ??= (async () => {
      while (this.#actions.length > 0) {
        const action = this.#actions.pop()!
        const start = Date.now()
        try {
          await action.run()
          log(`bench: ${action.what}: done in ${((Date.now() - start) / 1000).toFixed(1)} s`)
        } catch (err) {
          log(`bench: cleanup "${action.what}" failed: ${(err as Error).message}`)
        }
      }
    })()
    await this.#running
  }

  killRemaining (): void {
    for (const pid of this.pids) if (alive(pid)) { try { process.kill(pid, 'SIGKILL') } catch {} }
  }
}

/** True while `pid` is alive and still the process we started (its command line names `marker`). */
function aliveAs (pid: number, marker: string): boolean {
  if (!alive(pid)) return false
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker)
  } catch {
    return true // no /proc (not Linux): trust the pid
  }
}

async function waitExit (child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true
  return await new Promise((resolve) => {
    const timer = setTimeout(() => { resolve(false) }, ms)
    child.once('exit', () => { clearTimeout(timer); resolve(true) })
  })
}

async function waitPidsGone (pids: number[], ms: number): Promise<void> {
  const deadline = Date.now() + ms
  while (pids.some(alive) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
}

/** Keeps the last `limit` bytes written to a stream, for error reports. */
function tail (stream: NodeJS.ReadableStream | null, limit = LOG_TAIL_BYTES): () => string {
  let text = ''
  stream?.on('data', (chunk: Buffer) => { text = (text + chunk.toString('utf8')).slice(-limit) })
  return () => text
}

/** Resolves with the first stdout line of `child` parsed as JSON; rejects if it exits or times out first. */
async function readyLine (child: ChildProcess, what: string, ms: number, stderr: () => string): Promise<Record<string, unknown>> {
  return await new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! })
    const timer = setTimeout(() => { reject(new ProcessStartError(`${what} did not print its ready line within ${ms} ms\n${stderr()}`)) }, ms)
    lines.once('line', (line) => {
      clearTimeout(timer)
      try {
        resolve(JSON.parse(line) as Record<string, unknown>)
      } catch (err) {
        reject(new ProcessStartError(`${what} printed an unexpected first line: ${line}`, { cause: err }))
      }
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new ProcessStartError(`${what} exited during start (${signal ?? `code ${String(code)}`})\n${stderr()}`))
    })
  })
}

interface BaselineServer { readonly url: string, readonly pid: number }

async function startBaseline (dir: string, cleanup: Cleanup): Promise<BaselineServer> {
  // stdin stays a pipe: the server exits when it closes, even if this process is SIGKILLed.
  const child = spawn(process.execPath, [BASELINE_SERVER, '--dir', dir], { stdio: ['pipe', 'pipe', 'pipe'] })
  const stderr = tail(child.stderr)
  cleanup.pids.add(child.pid!)
  cleanup.add('stop the baseline server', async () => {
    child.kill('SIGTERM')
    if (!await waitExit(child, BASELINE_STOP_TIMEOUT_MS) && aliveAs(child.pid!, 'baseline-server')) child.kill('SIGKILL')
    child.stdin?.destroy()
  })
  const ready = await readyLine(child, 'the baseline server', 10_000, stderr)
  return { url: ready.url as string, pid: child.pid! }
}

interface NetworkNode { readonly id: string, readonly url: string, readonly pid: number, readonly provider: string, readonly region: string }
interface S3Endpoint { readonly endpoint: string, readonly accessKeyId: string, readonly secretAccessKey: string, readonly region: string }
interface Network { readonly coordinator: { readonly url: string, readonly pid: number }, readonly nodes: NetworkNode[], readonly s3?: S3Endpoint }
interface ShoalNetwork { readonly upPid: number, readonly dir: string, readonly network: Network, readonly stderr: () => string }

async function startShoal (dir: string, nodes: number, cleanup: Cleanup): Promise<ShoalNetwork> {
  // Durability timers off: the durability phase runs audits and repair itself, so they never overlap a timed phase.
  const child = spawn(process.execPath, [SHOAL_BIN, 'up', '--dir', dir, '--port', '0', '--json', '--nodes', String(nodes), '--segment-size', SEGMENT_SIZE,
    '--audit-interval', '0', '--repair-interval', '0', '--gc-interval', '0', '--repair-grace', `${REPAIR_GRACE_SECONDS}s`],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  const stderr = tail(child.stderr)
  cleanup.pids.add(child.pid!)
  const known = new Set<number>()
  cleanup.add('stop shoal up', async () => {
    // Pids from the ready line and from DIR/network.json (up removes that file when it stops).
    for (const pid of await networkFilePids(dir)) known.add(pid)
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT')
      if (!await waitExit(child, UP_STOP_TIMEOUT_MS)) child.kill('SIGKILL')
    }
    const left = [...known].filter((pid) => aliveAs(pid, 'shoal'))
    for (const pid of left) process.kill(pid, 'SIGKILL')
    await waitPidsGone(left, 5000)
  })
  const ready = await readyLine(child, '`shoal up`', UP_READY_TIMEOUT_MS, stderr)
  if (ready.event !== 'ready') throw new ProcessStartError(`\`shoal up\` printed ${JSON.stringify(ready)} instead of a ready event`)
  const network = ready.network as Network
  for (const pid of [network.coordinator.pid, ...network.nodes.map((n) => n.pid)]) { known.add(pid); cleanup.pids.add(pid) }
  child.stdout!.resume()
  return { upPid: child.pid!, dir, network, stderr }
}

async function networkFilePids (dir: string): Promise<number[]> {
  try {
    const network = JSON.parse(await readFile(join(dir, 'network.json'), 'utf8')) as Network
    return [network.coordinator.pid, ...network.nodes.map((n) => n.pid)]
  } catch {
    return []
  }
}

// ---------------------------------------------------------------------------------------------------
// HTTP: the client side, identical for the baseline and for Shoal.

async function readAll (res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of res) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/** PUT with an empty body; resolves with the status and body text. */
async function simpleRequest (method: string, url: string): Promise<{ status: number, body: string }> {
  const req = request(url, { method, headers: { 'content-length': 0 } })
  req.end()
  const [res] = await once(req, 'response') as [IncomingMessage]
  return { status: res.statusCode ?? 0, body: await readAll(res) }
}

/**
 * PUTs `data` in CHUNK_BYTES writes, waiting for 'drain' whenever the socket buffer is full, and
 * returns the seconds from the first byte sent to the end of the reply. Throws HttpStatusError unless
 * the reply's status is `expected`.
 */
async function timedPut (url: string, data: Buffer, expected: number, signal: AbortSignal): Promise<number> {
  const start = process.hrtime.bigint()
  const req = request(url, { method: 'PUT', headers: { 'content-type': 'application/octet-stream', 'content-length': data.length }, signal })
  const response = new Promise<IncomingMessage>((resolve, reject) => { req.once('response', resolve); req.once('error', reject) })
  const stopPump = new AbortController()
  const pump = (async () => {
    for (let offset = 0; offset < data.length; offset += CHUNK_BYTES) {
      if (!req.write(data.subarray(offset, offset + CHUNK_BYTES))) await once(req, 'drain', { signal: stopPump.signal })
    }
    req.end()
  })()
  pump.catch(() => {}) // its failure surfaces through `response` (the request errors) or below
  const res = await response
  const body = await readAll(res)
  if (res.statusCode !== expected) {
    stopPump.abort()
    req.destroy()
    throw new HttpStatusError(`PUT ${url} → ${String(res.statusCode)} (expected ${expected}): ${body.slice(0, 2000)}`)
  }
  await pump
  return Number(process.hrtime.bigint() - start) / 1e9
}

/** GETs `url`, hashing the body as it streams in; returns the seconds taken and the sha256 and length. */
async function timedGet (url: string, signal: AbortSignal): Promise<{ seconds: number, sha256: string, bytes: number }> {
  const start = process.hrtime.bigint()
  const req = request(url, { method: 'GET', signal })
  req.end()
  const [res] = await once(req, 'response') as [IncomingMessage]
  if (res.statusCode !== 200) throw new HttpStatusError(`GET ${url} → ${String(res.statusCode)}: ${(await readAll(res)).slice(0, 2000)}`)
  const hash = createHash('sha256')
  let bytes = 0
  for await (const chunk of res) {
    hash.update(chunk as Buffer)
    bytes += (chunk as Buffer).length
  }
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, sha256: hash.digest('hex'), bytes }
}

function checkDownload (what: string, got: { sha256: string, bytes: number }, expected: { sha256: string, bytes: number }): void {
  if (got.bytes !== expected.bytes || got.sha256 !== expected.sha256) {
    throw new IntegrityError(`${what}: downloaded ${got.bytes} bytes with sha256 ${got.sha256}, uploaded ${expected.bytes} bytes with sha256 ${expected.sha256}`)
  }
}

// ---------------------------------------------------------------------------------------------------
// S3: what a user of the endpoint runs. SDK defaults throughout (its CRC32 of every PUT body, SigV4 over
// plain http), except maxAttempts 1, so that a failed request fails the bench instead of being retried
// inside a timed figure, and an explicit keep-alive pool the size of the small-object concurrency.

function s3Client (s3: S3Endpoint, agent: Agent): S3Client {
  return new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    forcePathStyle: true,
    maxAttempts: 1,
    requestHandler: { httpAgent: agent }
  })
}

/** Multipart size of the large S3 PUT: what @aws-sdk/lib-storage users typically pick for big objects. */
const S3_PART_SIZE = 16 * 1024 * 1024

/** Uploads all of `data` the way SDK users upload large objects: lib-storage's multipart Upload; returns the seconds taken. */
async function timedS3Put (client: S3Client, bucket: string, key: string, data: Buffer, signal: AbortSignal): Promise<number> {
  const start = process.hrtime.bigint()
  const upload = new Upload({ client, params: { Bucket: bucket, Key: key, Body: data }, partSize: S3_PART_SIZE, queueSize: 4 })
  const onAbort = (): void => { void upload.abort() }
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    await upload.done()
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
  return Number(process.hrtime.bigint() - start) / 1e9
}

/** GetObject, hashing the body as it streams in; returns the seconds taken and the sha256 and length. */
async function timedS3Get (client: S3Client, bucket: string, key: string, signal: AbortSignal): Promise<{ seconds: number, sha256: string, bytes: number }> {
  const start = process.hrtime.bigint()
  const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal })
  if (res.Body === undefined) throw new HttpStatusError(`GetObject ${bucket}/${key} returned no body`)
  const hash = createHash('sha256')
  let bytes = 0
  for await (const chunk of res.Body as AsyncIterable<Uint8Array>) {
    hash.update(chunk)
    bytes += chunk.length
  }
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, sha256: hash.digest('hex'), bytes }
}

// ---------------------------------------------------------------------------------------------------
// Small objects: SMALL_COUNT operations, SMALL_CONCURRENCY at a time, stopped early at SMALL_MAX_SECONDS.

/** Operations completed and the seconds from the first start to the last end. */
interface SmallRun { readonly ops: number, readonly seconds: number }

/**
 * Runs `op(0)`, `op(1)`, … `op(count - 1)` with `concurrency` in flight, starting none after `maxSeconds`.
 * Waits for every started operation, then throws the first failure (or the abort reason), if any.
 */
async function runConcurrent (count: number, concurrency: number, maxSeconds: number, signal: AbortSignal, op: (i: number) => Promise<void>): Promise<SmallRun> {
  const start = process.hrtime.bigint()
  const deadline = Date.now() + maxSeconds * 1000
  let next = 0
  let ops = 0
  let failure: { readonly error: unknown } | undefined
  const worker = async (): Promise<void> => {
    while (failure === undefined && !signal.aborted && next < count && Date.now() < deadline) {
      const i = next++
      try {
        await op(i)
        ops++
      } catch (error) {
        failure ??= { error }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
  signal.throwIfAborted()
  if (failure !== undefined) throw failure.error
  return { ops, seconds: Number(process.hrtime.bigint() - start) / 1e9 }
}

/** Object `i` of round `round`: `base` with the round and index in its first 8 bytes, so every object differs. */
function smallObject (base: Buffer, round: number, i: number): Buffer {
  const body = Buffer.from(base)
  body.writeUInt32BE(round, 0)
  body.writeUInt32BE(i, 4)
  return body
}

function checkSmall (what: string, got: Uint8Array, expected: Buffer): void {
  if (!expected.equals(got)) throw new IntegrityError(`${what}: got ${got.length} bytes that differ from the ${expected.length} bytes put`)
}

/** One request over `agent` with the whole body in one write; resolves with the reply body, or throws HttpStatusError. */
async function smallRequest (agent: Agent, method: 'PUT' | 'GET', url: string, body: Buffer | undefined, expected: number, signal: AbortSignal): Promise<Buffer> {
  const headers = body === undefined ? {} : { 'content-type': 'application/octet-stream', 'content-length': body.length }
  const req = request(url, { method, agent, headers, signal })
  req.end(body)
  const [res] = await once(req, 'response') as [IncomingMessage]
  const chunks: Buffer[] = []
  for await (const chunk of res) chunks.push(chunk as Buffer)
  const reply = Buffer.concat(chunks)
  if (res.statusCode !== expected) throw new HttpStatusError(`${method} ${url} → ${String(res.statusCode)} (expected ${expected}): ${reply.toString('utf8').slice(0, 2000)}`)
  return reply
}

// ---------------------------------------------------------------------------------------------------
// CPU accounting from /proc/PID/stat (utime + stime, in clock ticks).

/** USER_HZ: 100 on every Linux kernel config in practice (sysconf(_SC_CLK_TCK)); Node does not expose it. */
const CLOCK_TICKS_PER_SECOND = 100

function cpuSecondsOf (pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name, which may contain spaces: "(name) S ppid …"; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND
  } catch {
    return undefined
  }
}

interface ProcessRole { readonly role: string, readonly pid: number }
type CpuSnapshot = Map<string, number | undefined>

function snapshot (roles: ProcessRole[]): CpuSnapshot {
  const snap: CpuSnapshot = new Map()
  const self = process.cpuUsage()
  snap.set('bench client', (self.user + self.system) / 1e6)
  for (const { role, pid } of roles) snap.set(role, cpuSecondsOf(pid))
  return snap
}

/** CPU-seconds spent by each process between two snapshots; `undefined` where /proc could not be read. */
function cpuDelta (before: CpuSnapshot, after: CpuSnapshot): Record<string, number | undefined> {
  const out: Record<string, number | undefined> = {}
  for (const [role, end] of after) {
    const start = before.get(role)
    out[role] = start === undefined || end === undefined ? undefined : end - start
  }
  return out
}

// ---------------------------------------------------------------------------------------------------
// The run.

/** Phases that move the one large object, measured in MB/s. */
type LargePhase = 'baseline upload' | 'baseline download' | 'shoal upload' | 'shoal download' | 's3 upload' | 's3 download'
const LARGE_PHASES: LargePhase[] = ['baseline upload', 'baseline download', 'shoal upload', 'shoal download', 's3 upload', 's3 download']
/** Phases that move SMALL_OBJECT_BYTES objects, measured in operations per second. */
type SmallPhase = 'baseline small put' | 'baseline small get' | 's3 small put' | 's3 small get'
const SMALL_PHASES: SmallPhase[] = ['baseline small put', 'baseline small get', 's3 small put', 's3 small get']
type Phase = LargePhase | SmallPhase
const PHASES: Phase[] = [...LARGE_PHASES, ...SMALL_PHASES]

/** Grace before an offline node's pieces are repaired, in the bench network. */
const REPAIR_GRACE_SECONDS = 1
/** Audit rounds measured for the audit cost. */
const AUDIT_ROUNDS = 5

interface DurabilityResults {
  /** Audit rounds over all 9 nodes: audits made and bytes of replies, and the average piece size audited. */
  readonly audits: number
  readonly auditBytes: number
  readonly bytesPerAudit: number
  readonly pieceBytes: number
  /** One provider (a third of the nodes) frozen: what one repair pass rebuilt and how fast. */
  readonly provider: string
  readonly segmentsRepaired: number
  readonly bytesRebuilt: number
  readonly repairSeconds: number
  readonly repairMBps: number
}

interface Results {
  readonly durability: DurabilityResults
  readonly date: string
  readonly node: string
  readonly platform: string
  readonly cpuModel: string
  readonly cores: number
  readonly options: { readonly rounds: number, readonly sizeMiB: number, readonly nodes: number, readonly segmentSize: string, readonly chunkBytes: number }
  /** The large object: full path through the coordinator's API ("shoal …"), through S3 ("s3 …"), and the baseline. */
  readonly network: Record<LargePhase, { readonly medianMBps: number, readonly roundsMBps: number[] }>
  /** SMALL_OBJECT_BYTES objects, `concurrency` in flight: ops per second, and the ops each round completed. */
  readonly smallObjects: {
    readonly objectBytes: number
    readonly concurrency: number
    readonly count: number
    readonly maxSeconds: number
    readonly phases: Record<SmallPhase, { readonly medianOpsPerSecond: number, readonly roundsOpsPerSecond: number[], readonly roundsOps: number[] }>
  }
  /** Shoal over the baseline: upload/download (coordinator API), s3Upload/s3Download (S3), smallPut/smallGet (S3, 4 KiB). */
  readonly ratios: { readonly upload: number, readonly download: number, readonly s3Upload: number, readonly s3Download: number, readonly smallPut: number, readonly smallGet: number }
  readonly targets: { readonly upload: number, readonly download: number, readonly s3Upload: number, readonly s3Download: number, readonly smallObjects: number }
  readonly codec: {
    readonly shardBytes: number
    readonly native: { readonly encodeGBps: number, readonly decodeGBps: number }
    readonly reference: { readonly encodeGBps: number, readonly decodeGBps: number }
  }
  /** CPU-seconds per phase (summed over rounds) for each process; "nodes (sum)" adds every node agent. */
  readonly cpuSeconds: Record<Phase, Record<string, number | undefined>>
  /** Seconds each phase took, summed over rounds: CPU-seconds over these is the cores each process kept busy. */
  readonly wallSeconds: Record<Phase, number>
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

async function runBench (options: Options, cleanup: Cleanup, log: (line: string) => void, signal: AbortSignal): Promise<Results> {
  const size = options.sizeMiB * MiB
  const work = await mkdtemp(join(tmpdir(), 'shoal-bench-'))
  cleanup.add('remove the temporary folder', async () => {
    if (options.keep) log(`bench: kept ${work}`)
    else await rm(work, { recursive: true, force: true })
  })

  log(`bench: ${options.sizeMiB} MiB object, ${options.rounds} round(s), ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown cpu'}), node ${process.version}`)
  const data = Buffer.allocUnsafe(size)
  randomFillSync(data)
  const expected = { sha256: createHash('sha256').update(data).digest('hex'), bytes: size }

  log('bench: starting the baseline server and `shoal up` …')
  const baseline = await startBaseline(join(work, 'baseline'), cleanup)
  let shoal: ShoalNetwork
  try {
    shoal = await startShoal(join(work, 'network'), options.nodes, cleanup)
  } catch (err) {
    if (!signal.aborted) await printLogs(join(work, 'network'), undefined, log)
    throw err
  }
  const { network } = shoal
  if (network.s3 === undefined) throw new ProcessStartError('`shoal up` reported no S3 endpoint (its ready line has no network.s3)')
  log(`bench: coordinator ${network.coordinator.url} (pid ${network.coordinator.pid}), S3 ${network.s3.endpoint}, ${network.nodes.length} nodes`)

  // Both small-object clients get the same pool: SMALL_CONCURRENCY keep-alive connections. Closed
  // before the network stops (cleanup runs in reverse order).
  // Every request in flight listens on `signal` (the SDK adds its own listeners): allow a few per request.
  setMaxListeners(SMALL_CONCURRENCY * 4, signal)
  const baselineAgent = new Agent({ keepAlive: true, maxSockets: SMALL_CONCURRENCY })
  const s3Agent = new Agent({ keepAlive: true, maxSockets: SMALL_CONCURRENCY })
  const s3 = s3Client(network.s3, s3Agent)
  cleanup.add('close the S3 client and the keep-alive connections', async () => {
    s3.destroy()
    s3Agent.destroy()
    baselineAgent.destroy()
  })

  const roles: ProcessRole[] = [
    { role: 'baseline server', pid: baseline.pid },
    { role: 'shoal up', pid: shoal.upPid },
    { role: 'coordinator', pid: network.coordinator.pid },
    ...network.nodes.map((n, i) => ({ role: `node-${i + 1}`, pid: n.pid }))
  ]
  const cpu = Object.fromEntries(PHASES.map((p) => [p, {} as Record<string, number | undefined>])) as Record<Phase, Record<string, number | undefined>>
  const addCpu = (phase: Phase, delta: Record<string, number | undefined>): void => {
    const total = cpu[phase]
    for (const [role, seconds] of Object.entries(delta)) {
      total[role] = seconds === undefined || (role in total && total[role] === undefined) ? undefined : (total[role] ?? 0) + seconds
    }
  }
  /** Per phase, one figure per round: MB/s for large phases, operations per second for small ones. */
  const rates = Object.fromEntries(PHASES.map((p) => [p, [] as number[]])) as Record<Phase, number[]>
  const smallOps = Object.fromEntries(SMALL_PHASES.map((p) => [p, [] as number[]])) as Record<SmallPhase, number[]>
  const wall = Object.fromEntries(PHASES.map((p) => [p, 0])) as Record<Phase, number>
  const measure = async <T>(phase: Phase, operation: () => Promise<T>, outcome: (result: T) => { seconds: number, rate: number }): Promise<T> => {
    signal.throwIfAborted()
    const before = snapshot(roles)
    let result: T
    try {
      result = await operation()
    } catch (err) {
      if (err instanceof BenchFailedError || signal.aborted) throw err
      throw new BenchFailedError(`${phase}, round ${rates[phase].length + 1}: ${(err as Error).name}: ${(err as Error).message}`, { cause: err })
    }
    addCpu(phase, cpuDelta(before, snapshot(roles)))
    const { seconds, rate } = outcome(result)
    wall[phase] += seconds
    rates[phase].push(rate)
    return result
  }
  const large = (seconds: number): { seconds: number, rate: number } => ({ seconds, rate: size / seconds / 1e6 })
  const small = (phase: SmallPhase, operation: () => Promise<SmallRun>): Promise<SmallRun> =>
    measure(phase, operation, (run) => { smallOps[phase].push(run.ops); return { seconds: run.seconds, rate: run.ops === 0 ? 0 : run.ops / run.seconds } })

  const bucket = 'bench'
  const created = await simpleRequest('PUT', `${network.coordinator.url}/api/buckets/${bucket}`)
  if (created.status !== 201) throw new HttpStatusError(`PUT /api/buckets/${bucket} → ${created.status}: ${created.body}`)
  const s3Bucket = 'bench-s3'
  try {
    await s3.send(new CreateBucketCommand({ Bucket: s3Bucket }), { abortSignal: signal })
  } catch (err) {
    throw new BenchFailedError(`CreateBucket ${s3Bucket} through ${network.s3.endpoint}: ${(err as Error).name}: ${(err as Error).message}`, { cause: err })
  }
  const smallBase = randomFillSync(Buffer.alloc(SMALL_OBJECT_BYTES))

  try {
    for (let round = 1; round <= options.rounds; round++) {
      const name = `object-${round}`
      const baseUrl = `${baseline.url}/${name}`
      await measure('baseline upload', async () => await timedPut(baseUrl, data, 201, signal), large)
      const got = await measure('baseline download', async () => await timedGet(baseUrl, signal), (r) => large(r.seconds))
      checkDownload(`baseline round ${round}`, got, expected)

      const shoalUrl = `${network.coordinator.url}/api/objects/${bucket}/${name}`
      await measure('shoal upload', async () => await timedPut(shoalUrl, data, 201, signal), large)
      const back = await measure('shoal download', async () => await timedGet(shoalUrl, signal), (r) => large(r.seconds))
      checkDownload(`shoal round ${round}`, back, expected)

      await measure('s3 upload', async () => await timedS3Put(s3, s3Bucket, name, data, signal), large)
      const s3Back = await measure('s3 download', async () => await timedS3Get(s3, s3Bucket, name, signal), (r) => large(r.seconds))
      checkDownload(`S3 round ${round}`, s3Back, expected)

      // Small objects: every GET phase reads back exactly the objects its PUT phase completed.
      const smallName = (i: number): string => `small-${round}-${i}`
      const basePut = await small('baseline small put', async () => await runConcurrent(SMALL_COUNT, SMALL_CONCURRENCY, SMALL_MAX_SECONDS, signal, async (i) => {
        await smallRequest(baselineAgent, 'PUT', `${baseline.url}/${smallName(i)}`, smallObject(smallBase, round, i), 201, signal)
      }))
      await small('baseline small get', async () => await runConcurrent(basePut.ops, SMALL_CONCURRENCY, SMALL_MAX_SECONDS, signal, async (i) => {
        const body = await smallRequest(baselineAgent, 'GET', `${baseline.url}/${smallName(i)}`, undefined, 200, signal)
        checkSmall(`baseline GET ${smallName(i)}`, body, smallObject(smallBase, round, i))
      }))
      const s3Put = await small('s3 small put', async () => await runConcurrent(SMALL_COUNT, SMALL_CONCURRENCY, SMALL_MAX_SECONDS, signal, async (i) => {
        await s3.send(new PutObjectCommand({ Bucket: s3Bucket, Key: smallName(i), Body: smallObject(smallBase, round, i), ContentLength: SMALL_OBJECT_BYTES }), { abortSignal: signal })
      }))
      await small('s3 small get', async () => await runConcurrent(s3Put.ops, SMALL_CONCURRENCY, SMALL_MAX_SECONDS, signal, async (i) => {
        const res = await s3.send(new GetObjectCommand({ Bucket: s3Bucket, Key: smallName(i) }), { abortSignal: signal })
        if (res.Body === undefined) throw new HttpStatusError(`GetObject ${s3Bucket}/${smallName(i)} returned no body`)
        checkSmall(`S3 GET ${smallName(i)}`, await res.Body.transformToByteArray(), smallObject(smallBase, round, i))
      }))

      log(`bench: round ${round}/${options.rounds}: ` + LARGE_PHASES.map((p) => `${p} ${rates[p].at(-1)!.toFixed(0)} MB/s`).join(', ') +
        '; ' + SMALL_PHASES.map((p) => `${p} ${rates[p].at(-1)!.toFixed(0)} ops/s`).join(', '))
    }
  } catch (err) {
    if (!signal.aborted) await printLogs(shoal.dir, shoal.stderr(), log)
    throw err
  }

  signal.throwIfAborted()
  log('bench: durability: audit cost, then repair throughput with one provider frozen …')
  const durability = await measureDurability(network, log)

  // The network stops before the codec runs, so the codec has the machine to itself.
  log('bench: stopping `shoal up` and the baseline server …')
  await cleanup.run(log) // closes the clients, stops shoal up, the baseline server, removes the folder
  for (const pid of roles.map((r) => r.pid)) if (alive(pid)) log(`bench: warning: pid ${pid} still alive after stopping`)

  signal.throwIfAborted()
  log('bench: measuring the erasure codecs …')
  const native = createCodec(4, 2)
  const reference = createCodec(4, 2, { implementation: 'reference' })
  const nativeRuns = []
  for (let r = 0; r < options.rounds && !signal.aborted; r++) nativeRuns.push(await measureCodec(native, { shardSize: CODEC_SHARD_BYTES, rounds: NATIVE_CODEC_ROUNDS }))
  signal.throwIfAborted()
  const referenceRun = await measureCodec(reference, { shardSize: CODEC_SHARD_BYTES, rounds: REFERENCE_CODEC_ROUNDS })

  const throughput = Object.fromEntries(LARGE_PHASES.map((p) => [p, { medianMBps: median(rates[p]), roundsMBps: rates[p] }])) as Results['network']
  const smallPhases = Object.fromEntries(SMALL_PHASES.map((p) => [p, { medianOpsPerSecond: median(rates[p]), roundsOpsPerSecond: rates[p], roundsOps: smallOps[p] }])) as Results['smallObjects']['phases']
  for (const phase of PHASES) {
    const nodes = Object.entries(cpu[phase]).filter(([role]) => role.startsWith('node-')).map(([, s]) => s)
    cpu[phase]['nodes (sum)'] = nodes.some((s) => s === undefined) ? undefined : nodes.reduce((a, b) => a! + b!, 0)
    cpu[phase]['busiest node'] = nodes.some((s) => s === undefined) ? undefined : Math.max(...(nodes as number[]))
  }
  const ratio = (shoalPhase: Phase, baselinePhase: Phase): number => median(rates[shoalPhase]) / median(rates[baselinePhase])
  return {
    durability,
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    options: { rounds: options.rounds, sizeMiB: options.sizeMiB, nodes: options.nodes, segmentSize: SEGMENT_SIZE, chunkBytes: CHUNK_BYTES },
    network: throughput,
    smallObjects: { objectBytes: SMALL_OBJECT_BYTES, concurrency: SMALL_CONCURRENCY, count: SMALL_COUNT, maxSeconds: SMALL_MAX_SECONDS, phases: smallPhases },
    ratios: {
      upload: ratio('shoal upload', 'baseline upload'),
      download: ratio('shoal download', 'baseline download'),
      s3Upload: ratio('s3 upload', 'baseline upload'),
      s3Download: ratio('s3 download', 'baseline download'),
      smallPut: ratio('s3 small put', 'baseline small put'),
      smallGet: ratio('s3 small get', 'baseline small get')
    },
    targets: { upload: UPLOAD_TARGET, download: DOWNLOAD_TARGET, s3Upload: UPLOAD_TARGET, s3Download: DOWNLOAD_TARGET, smallObjects: SMALL_OBJECTS_TARGET },
    codec: {
      shardBytes: CODEC_SHARD_BYTES,
      native: { encodeGBps: median(nativeRuns.map((r) => r.encodeGBps)), decodeGBps: median(nativeRuns.map((r) => r.decodeGBps)) },
      reference: { encodeGBps: referenceRun.encodeGBps, decodeGBps: referenceRun.decodeGBps }
    },
    cpuSeconds: cpu,
    wallSeconds: wall
  }
}

async function postJson (url: string): Promise<any> {
  const r = await simpleRequest('POST', url)
  if (r.status !== 200) throw new HttpStatusError(`POST ${url} → ${r.status}: ${r.body}`)
  return JSON.parse(r.body)
}

/**
 * Audit cost: AUDIT_ROUNDS audit rounds, bytes per audit against the average piece size (what a
 * whole-piece download would cost). Repair throughput: freeze every node of one provider (SIGSTOP),
 * wait until they are offline past the grace, time one repair pass, and thaw them.
 */
async function measureDurability (network: Network, log: (line: string) => void): Promise<DurabilityResults> {
  const api = network.coordinator.url
  let audits = 0
  let auditBytes = 0
  for (let i = 0; i < AUDIT_ROUNDS; i++) {
    const r = await postJson(`${api}/api/durability/audit`)
    audits += r.audits
    auditBytes += r.bytes
    if (r.failures > 0) throw new BenchFailedError(`audit round ${i + 1} failed ${r.failures} audits on a healthy network`)
  }
  const status = JSON.parse((await simpleRequest('GET', `${api}/api/status`)).body)
  const pieces = status.nodes.reduce((a: number, n: any) => a + n.pieces, 0)
  const pieceBytes = pieces === 0 ? 0 : status.nodes.reduce((a: number, n: any) => a + n.pieceBytes, 0) / pieces
  const provider = network.nodes[0].provider
  const frozen = network.nodes.filter((n) => n.provider === provider)
  for (const n of frozen) process.kill(n.pid, 'SIGSTOP')
  try {
    const deadline = Date.now() + 30_000
    for (;;) {
      const s = JSON.parse((await simpleRequest('GET', `${api}/api/status`)).body)
      if (s.nodes.filter((n: any) => !n.online).length >= frozen.length) break
      if (Date.now() > deadline) throw new BenchFailedError('frozen nodes never showed as offline')
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    await new Promise((resolve) => setTimeout(resolve, REPAIR_GRACE_SECONDS * 1000 + 200))
    const started = performance.now()
    const r = await postJson(`${api}/api/durability/repair`)
    const repairSeconds = (performance.now() - started) / 1000
    if (r.failed > 0 || (r.atRisk > 0 && r.repaired === 0)) throw new BenchFailedError(`repair pass: ${JSON.stringify(r)}`)
    log(`bench: repair rebuilt ${r.piecesRebuilt} pieces of ${r.repaired} segments (${(r.bytesRebuilt / 1e6).toFixed(0)} MB) in ${repairSeconds.toFixed(1)} s`)
    return {
      audits,
      auditBytes,
      bytesPerAudit: audits === 0 ? 0 : auditBytes / audits,
      pieceBytes,
      provider,
      segmentsRepaired: r.repaired,
      bytesRebuilt: r.bytesRebuilt,
      repairSeconds,
      repairMBps: r.bytesRebuilt / repairSeconds / 1e6
    }
  } finally {
    for (const n of frozen) process.kill(n.pid, 'SIGCONT')
  }
}

/** Prints up's stderr and the tail of every DIR/logs/*.log, so a failure can be diagnosed after DIR is gone. */
async function printLogs (dir: string, upStderr: string | undefined, log: (line: string) => void): Promise<void> {
  if (upStderr !== undefined && upStderr.trim() !== '') log(`--- shoal up stderr (last ${LOG_TAIL_BYTES} bytes) ---\n${upStderr}`)
  const logs = join(dir, 'logs')
  if (!existsSync(logs)) return
  for (const file of (await readdir(logs)).sort()) {
    const text = await readFile(join(logs, file), 'utf8').catch(() => '')
    if (text.trim() === '') continue
    log(`--- ${join(logs, file)} (last ${LOG_TAIL_BYTES} bytes) ---\n${text.slice(-LOG_TAIL_BYTES)}`)
  }
}

// ---------------------------------------------------------------------------------------------------
// Output.

function table (rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)))
  const line = (r: string[]): string => r.map((cell, c) => c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)).join('  ')
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n')
}

function render (r: Results): string {
  const mb = (v: number): string => `${v.toFixed(0)} MB/s`
  const gb = (v: number): string => `${v.toFixed(2)} GB/s`
  const x = (v: number): string => `${v.toFixed(2)}×`
  const ops = (v: number): string => `${v.toFixed(0)} ops/s`
  const verdict = (ratio: number, target: number): string => `≥${target}× ${ratio >= target ? 'ok' : 'BELOW'}`
  const n = r.network
  const m = r.smallObjects.phases
  const smallLabel = `${r.smallObjects.objectBytes / 1024} KiB × ${r.smallObjects.concurrency} concurrent`
  const rows = [
    ['figure', 'value', 'baseline', 'ratio', 'target'],
    ['upload (PUT, full path)', mb(n['shoal upload'].medianMBps), mb(n['baseline upload'].medianMBps), x(r.ratios.upload), verdict(r.ratios.upload, r.targets.upload)],
    ['download (GET, full path)', mb(n['shoal download'].medianMBps), mb(n['baseline download'].medianMBps), x(r.ratios.download), verdict(r.ratios.download, r.targets.download)],
    ['S3 PUT (lib-storage multipart, 16 MiB parts)', mb(n['s3 upload'].medianMBps), mb(n['baseline upload'].medianMBps), x(r.ratios.s3Upload), verdict(r.ratios.s3Upload, r.targets.s3Upload)],
    ['S3 GetObject', mb(n['s3 download'].medianMBps), mb(n['baseline download'].medianMBps), x(r.ratios.s3Download), verdict(r.ratios.s3Download, r.targets.s3Download)],
    [`S3 small PUT, ${smallLabel}`, ops(m['s3 small put'].medianOpsPerSecond), ops(m['baseline small put'].medianOpsPerSecond), x(r.ratios.smallPut), verdict(r.ratios.smallPut, r.targets.smallObjects)],
    [`S3 small GET, ${smallLabel}`, ops(m['s3 small get'].medianOpsPerSecond), ops(m['baseline small get'].medianOpsPerSecond), x(r.ratios.smallGet), verdict(r.ratios.smallGet, r.targets.smallObjects)],
    [`repair: one provider of ${r.options.nodes} nodes frozen`, mb(r.durability.repairMBps), mb(n['baseline download'].medianMBps), x(r.durability.repairMBps / n['baseline download'].medianMBps), 'rebuilt vs baseline GET'],
    ['audit cost (bytes per audit)', `${(r.durability.bytesPerAudit / 1024).toFixed(1)} KiB`, `${(r.durability.pieceBytes / 1024 / 1024).toFixed(1)} MiB`, x(r.durability.bytesPerAudit / Math.max(1, r.durability.pieceBytes)), 'vs whole piece'],
    ['codec 4+2 encode, 16 MiB shards', gb(r.codec.native.encodeGBps), gb(r.codec.reference.encodeGBps), x(r.codec.native.encodeGBps / r.codec.reference.encodeGBps), 'vs reference'],
    ['codec 4+2 decode, 16 MiB shards', gb(r.codec.native.decodeGBps), gb(r.codec.reference.decodeGBps), x(r.codec.native.decodeGBps / r.codec.reference.decodeGBps), 'vs reference']
  ]
  const columns = ['bench client', 'baseline server', 'shoal up', 'coordinator', 'nodes (sum)', 'busiest node']
  const s = (v: number | undefined): string => v === undefined ? 'n/a' : v.toFixed(2)
  const cpuRows = [
    ['CPU-seconds (all rounds)', 'wall s', ...columns],
    ...PHASES.map((p) => [p, r.wallSeconds[p].toFixed(2), ...columns.map((c) => s(r.cpuSeconds[p][c]))])
  ]
  const perRound = [
    ...LARGE_PHASES.map((p) => `  ${p.padEnd(19)} ${n[p].roundsMBps.map((v) => v.toFixed(0)).join(' / ')} MB/s`),
    ...SMALL_PHASES.map((p) => `  ${p.padEnd(19)} ${m[p].roundsOpsPerSecond.map((v) => v.toFixed(0)).join(' / ')} ops/s (${m[p].roundsOps.join(' / ')} ops)`)
  ].join('\n')
  return [
    `Shoal bench  ${r.date}  node ${r.node}  ${r.cpuModel} × ${r.cores} cores`,
    `object ${r.options.sizeMiB} MiB, segment ${r.options.segmentSize}, ${r.options.nodes} nodes, median of ${r.options.rounds} round(s); MB = 10^6 bytes`,
    '',
    table(rows),
    '',
    'baseline = one node:http process streaming to a file (fsync) and back; codec baseline = pure-TS reference codec',
    `S3 = @aws-sdk/client-s3 with its defaults (CRC32 of every PUT body); small = up to ${r.smallObjects.count} objects per phase and round, ` +
      `at most ${r.smallObjects.maxSeconds} s, baseline over node:http keep-alive`,
    '',
    'Per round:',
    perRound,
    '',
    table(cpuRows),
    '',
    `written to ${RESULTS_FILE}`
  ].join('\n')
}

async function main (): Promise<number> {
  const options = parseOptions(process.argv.slice(2))
  const err = (line: string): void => { process.stderr.write(line + '\n') }
  const progress = options.json ? () => {} : err
  const cleanup = new Cleanup()
  const abort = new AbortController()
  const interrupted = new Promise<number>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      err(`bench: ${signal}, stopping every process …`)
      abort.abort(new BenchFailedError(`interrupted by ${signal}`))
      cleanup.run(err).finally(() => { resolve(130) })
    }
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
  })
  process.once('exit', () => { cleanup.killRemaining() })

  const work = (async (): Promise<number> => {
    try {
      const results = await runBench(options, cleanup, progress, abort.signal)
      await mkdir(join(ROOT, 'bench', 'results'), { recursive: true })
      await writeFile(RESULTS_FILE, JSON.stringify(results, null, 2) + '\n')
      process.stdout.write(options.json ? JSON.stringify(results) + '\n' : render(results) + '\n')
      return 0
    } catch (e) {
      if (abort.signal.aborted) return 130
      err(`bench: FAILED: ${(e as Error).name}: ${(e as Error).message}`)
      if ((e as Error).cause !== undefined) err(`  cause: ${String((e as Error).cause)}`)
      return 1
    } finally {
      await cleanup.run(err)
    }
  })()
  return await Promise.race([work, interrupted])
}

main().then((code) => { process.exit(code) }, (e: unknown) => {
  process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`)
  process.exit(1)
})
