/**
 * Test harness for end-to-end tests: runs the real `shoal` binary (built by `npm test` into dist/),
 * a real local network of separate processes on loopback, and stops every process it started by pid.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import type { NetworkFile, NetworkNode } from '../../src/cli/network.js'
import { createCipheriv, createHash, randomBytes, type Cipher } from 'node:crypto'

export const ROOT = resolve(import.meta.dirname, '../..')
export const BIN = join(ROOT, 'bin', 'shoal.js')

export type { NetworkNode } from '../../src/cli/network.js'
type Network = Pick<NetworkFile, 'coordinator' | 'nodes' | 's3'>

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

/** Runs a command to completion, collecting its output. */
export async function runProcess (cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return await new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => { stdout += d })
    child.stderr.on('data', (d) => { stderr += d })
    child.once('error', reject)
    child.once('exit', (code) => { resolve({ code: code ?? -1, stdout, stderr }) })
  })
}

/** Runs `shoal ARGS` to completion. */
export async function shoal (args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return await runProcess(process.execPath, [BIN, ...args], { ...process.env, ...env })
}

/** A running `shoal up` in a temporary folder. */
export class LocalNetwork {
  readonly dir: string
  readonly #up: ChildProcess
  readonly #extra = new Set<ChildProcess>()
  network: Network

  private constructor (dir: string, up: ChildProcess, network: Network) {
    this.dir = dir
    this.#up = up
    this.network = network
  }

  /** Starts `shoal up --port 0` with the given options and waits until every node is online. */
  static async start (options: { nodes?: number, segmentSize?: string, dir?: string, args?: string[] } = {}): Promise<LocalNetwork> {
    const dir = options.dir ?? await mkdtemp(join(tmpdir(), 'shoal-e2e-'))
    const up = spawn(process.execPath, [BIN, 'up', '--dir', dir, '--port', '0', '--json', '--nodes', String(options.nodes ?? 9),
      '--segment-size', options.segmentSize ?? '1MiB', '--capacity', '2GiB', ...(options.args ?? [])], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SHOAL_LOG: 'warn' } })
    let stderr = ''
    up.stderr!.on('data', (d) => { stderr += d })
    const network = await new Promise<Network>((resolve, reject) => {
      const lines = createInterface({ input: up.stdout! })
      lines.once('line', (line) => {
        try {
          resolve((JSON.parse(line) as { network: Network }).network)
        } catch (err) {
          reject(err)
        }
      })
      up.once('exit', (code) => { reject(new Error(`shoal up exited with ${code}: ${stderr}`)) })
    })
    return new LocalNetwork(dir, up, network)
  }

  /** Runs a CLI command against this network. */
  async cli (...args: string[]): Promise<CliResult> {
    return await shoal(['--dir', this.dir, ...args])
  }

  /** Runs a CLI command with --json and parses its output; throws with stderr when it fails. */
  async json (...args: string[]): Promise<any> {
    const r = await shoal(['--dir', this.dir, '--json', ...args])
    if (r.code !== 0) throw new Error(`shoal ${args.join(' ')} failed (${r.code}): ${r.stderr}`)
    return JSON.parse(r.stdout)
  }

  nodesWhere (pred: (n: NetworkNode) => boolean): NetworkNode[] {
    return this.network.nodes.filter(pred)
  }

  /** Sends `signal` to each node's pid. */
  signal (nodes: NetworkNode[], signal: NodeJS.Signals): void {
    for (const n of nodes) process.kill(n.pid, signal)
  }

  /** Waits until the coordinator reports exactly `online` nodes online. */
  async waitOnline (online: number, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const status = await this.json('status')
      const n = (status.nodes as Array<{ online: boolean }>).filter((x) => x.online).length
      if (n === online) return
      if (Date.now() > deadline) throw new Error(`expected ${online} nodes online, have ${n}`)
      await sleep(250)
    }
  }

  /** Kills the coordinator with SIGKILL and waits for it to be gone. */
  async killCoordinator (): Promise<void> {
    process.kill(this.network.coordinator.pid, 'SIGKILL')
    await waitGone(this.network.coordinator.pid)
  }

  /** Starts a replacement coordinator on the same folder and port (as an operator would after a crash). */
  async restartCoordinator (): Promise<void> {
    const port = new URL(this.network.coordinator.url).port
    const s3Port = this.network.s3 === undefined ? 'off' : new URL(this.network.s3.endpoint).port
    const ready = await this.#spawnReady(['coordinator', '--dir', join(this.dir, 'coordinator'), '--port', port, '--s3-port', s3Port, '--segment-size', '1MiB', '--json'])
    this.network = { ...this.network, coordinator: { url: this.network.coordinator.url, pid: ready.pid } }
  }

  /** Starts a killed node again with its data folder, port and labels (as its operator would). */
  async restartNode (node: NetworkNode): Promise<void> {
    const ready = await this.#spawnReady(['node', '--dir', node.dataDir, '--port', new URL(node.url).port, '--coordinator', this.network.coordinator.url,
      '--provider', node.provider, '--region', node.region, '--operator', node.operator, '--capacity', '2GiB', '--json'])
    this.network = { ...this.network, nodes: this.network.nodes.map((n) => n.id === node.id ? { ...n, pid: ready.pid } : n) }
  }

  /** Spawns `shoal ARGS` (a server), remembers it for stop(), and resolves with its ready line. */
  async #spawnReady (args: string[]): Promise<{ pid: number }> {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SHOAL_LOG: 'warn' } })
    this.#extra.add(child)
    child.stderr!.resume()
    return await new Promise((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', (line) => { resolve(JSON.parse(line)) })
      child.once('exit', (code) => { reject(new Error(`shoal ${args[0]} exited with ${code}`)) })
    })
  }

  /** Stops the network (Ctrl-C to `up`), then makes sure every process it listed is gone, by pid. */
  async stop (options: { keepDir?: boolean } = {}): Promise<void> {
    if (this.#up.exitCode === null && this.#up.signalCode === null) {
      this.#up.kill('SIGINT')
      await new Promise((resolve) => { this.#up.once('exit', resolve) })
    }
    for (const child of this.#extra) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    for (const pid of [this.network.coordinator.pid, ...this.network.nodes.map((n) => n.pid)]) {
      try { process.kill(pid, 'SIGCONT'); process.kill(pid, 'SIGKILL') } catch {}
    }
    if (options.keepDir !== true) await rm(this.dir, { recursive: true, force: true })
  }
}

export async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

async function waitGone (pid: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try { process.kill(pid, 0) } catch { return }
    await sleep(25)
  }
  throw new Error(`process ${pid} did not exit`)
}

/** sha256 hex of a file. */
export async function sha256File (path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex')
}

/** Deterministic pseudo-random bytes (an AES-256-CTR keystream of the seed): test content made independently of Shoal. */
export function pseudoRandom (size: number, seed = 1): Buffer {
  return keystream(seed).update(Buffer.alloc(size))
}

/** The same bytes as pseudoRandom, as a stream of `chunk`-byte pieces (for objects too large to hold). */
export async function * pseudoRandomChunks (size: number, seed = 1, chunk = 1024 * 1024, delayMs = 0): AsyncGenerator<Buffer> {
  const ks = keystream(seed)
  for (let off = 0; off < size; off += chunk) {
    if (delayMs > 0) await sleep(delayMs)
    yield ks.update(Buffer.alloc(Math.min(chunk, size - off)))
  }
}

function keystream (seed: number): Cipher {
  const key = createHash('sha256').update(`shoal-test-seed:${seed}`).digest()
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16))
}

export function randomName (prefix = 'b'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`
}

/**
 * PUTs a body to the coordinator's API from a generator, so tests can act (kill things) mid-upload.
 * Resolves with the HTTP status and parsed body (or the transport error).
 */
export async function putStream (coordinatorUrl: string, bucket: string, key: string, size: number,
  chunks: AsyncIterable<Buffer>): Promise<{ status: number, body: any } | { error: Error }> {
  return await new Promise((resolve) => {
    const req = request(`${coordinatorUrl}/api/objects/${bucket}/${encodeURIComponent(key)}`, { method: 'PUT', headers: { 'content-length': size } })
    req.once('response', (res) => {
      let text = ''
      res.on('data', (d) => { text += d })
      res.once('end', () => { resolve({ status: res.statusCode ?? 0, body: text === '' ? {} : JSON.parse(text) }) })
      res.once('error', (error) => { resolve({ error }) })
    })
    req.once('error', (error) => { resolve({ error }) })
    void (async () => {
      try {
        for await (const chunk of chunks) {
          if (!req.write(chunk)) await new Promise((resolve) => req.once('drain', resolve))
        }
        req.end()
      } catch (err) {
        req.destroy(err as Error)
      }
    })()
  })
}

/** GETs an object from the coordinator's API into memory. */
export async function getBytes (coordinatorUrl: string, bucket: string, key: string): Promise<{ status: number, body: Buffer }> {
  return await new Promise((resolve, reject) => {
    request(`${coordinatorUrl}/api/objects/${bucket}/${encodeURIComponent(key)}`, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (d: Buffer) => chunks.push(d))
      res.once('end', () => { resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }) })
      res.once('error', reject)
    }).once('error', reject).end()
  })
}
