/**
 * Replay protection: remembers every order-limit serial this node accepted until the limit expires, so
 * the same limit can't be used twice. Serials are appended to a log file (`<serial> <expiresAt>\n`) and
 * made durable before the request they authorise is served, so a replay is refused across a crash or
 * restart too. start() reloads the log, drops expired entries and rewrites it compactly.
 *
 * Memory and the file stay bounded because verifyOrderLimit refuses limits valid for longer than
 * MAX_ORDER_LIMIT_TTL_MS: at most one hour's worth of serials is ever live.
 */
import { type FileHandle, open, readFile, rename, writeFile } from 'node:fs/promises'
import { OrderLimitError } from '../crypto/errors.js'
import type { Logger } from '../util/logger.js'
import { NotStartedError } from './errors.js'

/** Name of the serial log inside the node's data directory. */
export const SERIALS_FILE = 'serials.log'
/** How often expired serials are dropped from memory: a minute keeps the map near its live size. */
export const SERIAL_PRUNE_INTERVAL_MS = 60_000
/**
 * Appended lines after which the log is compacted in place: ~100k lines is a few MiB, rewritten in
 * well under a second, and reached only under sustained load (≈ 28 requests/s for an hour).
 */
export const SERIAL_COMPACT_AFTER_LINES = 100_000
const SERIAL_PATTERN = /^[0-9a-f]{32}$/

/** Settings of a SerialStore. */
export interface SerialStoreInit {
  /** Path of the append-only log (normally `<dataDir>/serials.log`). */
  readonly file: string
}

/** Collaborators of a SerialStore. */
export interface SerialStoreComponents {
  readonly logger: Logger
  /** Clock (ms since the epoch); injectable so tests can expire serials. Default Date.now. */
  readonly now?: () => number
}

/** Remembers used order-limit serials until they expire, durably. */
export class SerialStore {
  readonly #file: string
  readonly #log: Logger
  readonly #now: () => number
  readonly #serials = new Map<string, number>()
  #fh: FileHandle | undefined
  #timer: NodeJS.Timeout | undefined
  /** Lines waiting for the next group commit, and the commit in progress: one fsync serves many requests. */
  #pending: string[] = []
  #waiters: Array<{ resolve: () => void, reject: (err: unknown) => void }> = []
  #flushing = false
  #appended = 0

  constructor (init: SerialStoreInit, components: SerialStoreComponents) {
    this.#file = init.file
    this.#log = components.logger
    this.#now = components.now ?? Date.now
  }

  /** Loads the log, drops expired and malformed lines, rewrites it, and opens it for appending. Idempotent. */
  async start (): Promise<void> {
    if (this.#fh !== undefined) return
    let text = ''
    try {
      text = await readFile(this.#file, 'utf8')
    } catch (err: any) {
      if (err.code !== 'ENOENT') throw err
    }
    const now = this.#now()
    this.#serials.clear()
    for (const line of text.split('\n')) {
      // A torn last line (crash mid-append) fails to parse and is dropped: its request was never served.
      const [serial, expires] = line.split(' ')
      const expiresAt = Number(expires)
      if (serial === undefined || !SERIAL_PATTERN.test(serial) || !Number.isSafeInteger(expiresAt)) continue
      if (expiresAt > now) this.#serials.set(serial, Math.max(expiresAt, this.#serials.get(serial) ?? 0))
    }
    await this.#rewrite()
    this.#fh = await open(this.#file, 'a', 0o600)
    this.#timer = setInterval(() => { this.#prune() }, SERIAL_PRUNE_INTERVAL_MS)
    this.#timer.unref()
    this.#log.debug('serial store loaded', { live: this.#serials.size })
  }

  /** Waits for pending appends, closes the log and stops the prune timer. Idempotent. */
  async stop (): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
    while (this.#flushing) await new Promise((resolve) => setImmediate(resolve))
    const fh = this.#fh
    this.#fh = undefined
    await fh?.close()
  }

  /** Number of serials currently remembered (live ones, plus expired ones not yet pruned). */
  get size (): number {
    return this.#serials.size
  }

  /**
   * Records `serial` as used until `expiresAt` and resolves once that is durable. Throws
   * OrderLimitError('replayed') when the serial was already used and has not expired; the check and
   * the record are one synchronous step, so two concurrent requests with one serial can't both pass.
   * Throws NotStartedError before start() and file-system errors from the append.
   */
  async use (serial: string, expiresAt: number): Promise<void> {
    if (this.#fh === undefined) throw new NotStartedError('serial store is not started')
    const known = this.#serials.get(serial)
    if (known !== undefined && known > this.#now()) {
      throw new OrderLimitError('replayed', `order limit serial ${serial} was already used; ask the coordinator for a new limit`)
    }
    this.#serials.set(serial, expiresAt)
    this.#pending.push(`${serial} ${expiresAt}\n`)
    await new Promise<void>((resolve, reject) => {
      this.#waiters.push({ resolve, reject })
      void this.#flush()
    })
  }

  async #flush (): Promise<void> {
    if (this.#flushing) return
    this.#flushing = true
    try {
      while (this.#pending.length > 0) {
        const lines = this.#pending
        const waiters = this.#waiters
        this.#pending = []
        this.#waiters = []
        try {
          const fh = this.#fh
          if (fh === undefined) throw new NotStartedError('serial store stopped before the serial was recorded')
          await fh.appendFile(lines.join(''))
          await fh.datasync()
          this.#appended += lines.length
          for (const w of waiters) w.resolve()
        } catch (err) {
          for (const w of waiters) w.reject(err)
        }
        // Compacting inside the flush loop means no append can race the rewrite onto the old file.
        if (this.#appended >= SERIAL_COMPACT_AFTER_LINES) await this.#compact()
      }
    } finally {
      this.#flushing = false
    }
  }

  async #compact (): Promise<void> {
    this.#prune()
    try {
      const old = this.#fh
      await this.#rewrite()
      this.#fh = await open(this.#file, 'a', 0o600)
      this.#appended = 0
      await old?.close()
    } catch (err) {
      this.#log.warn('could not compact the serial log; it keeps growing until the next start', { err })
    }
  }

  #prune (): void {
    const now = this.#now()
    for (const [serial, expiresAt] of this.#serials) if (expiresAt <= now) this.#serials.delete(serial)
  }

  /** Writes the live serials to a temp file, fsyncs it and renames it over the log. */
  async #rewrite (): Promise<void> {
    const tmp = `${this.#file}.tmp`
    let text = ''
    for (const [serial, expiresAt] of this.#serials) text += `${serial} ${expiresAt}\n`
    await writeFile(tmp, text, { mode: 0o600, flush: true })
    await rename(tmp, this.#file)
  }
}
