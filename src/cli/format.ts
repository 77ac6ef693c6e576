/** Human-readable output helpers for the CLI: sizes, rates, durations, tables, a progress bar. */

/** 1536 → "1.5 KiB". */
export function formatBytes (n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let v = n
  let i = 0
  while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`
}

/** Parses "10GiB", "512 MB", "1.5T", "4096" → bytes. Throws RangeError naming the accepted forms. */
export function parseBytes (text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?)b?\s*$/i.exec(text)
  if (m === null) throw new RangeError(`"${text}" is not a size; use e.g. 4096, 512MiB, 10GiB or 1TB`)
  const power = ' kmgtp'.indexOf(m[2].toLowerCase() === '' ? ' ' : m[2].toLowerCase())
  const base = m[3] !== '' || m[2] === '' ? 1024 : 1000
  return Math.round(Number(m[1]) * base ** power)
}

/** Parses "500ms", "30s", "2m", "1h", "7d" or plain milliseconds → ms. Throws RangeError naming the accepted forms. */
export function parseDuration (text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(text)
  if (m === null) throw new RangeError(`"${text}" is not a duration; use e.g. 500ms, 30s, 2m, 1h or 7d (0 turns a timer off)`)
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 }[(m[2] ?? 'ms').toLowerCase() as 'ms']
  return Math.round(Number(m[1]) * unit)
}

export function formatRate (bytesPerSecond: number): string {
  return `${(bytesPerSecond / 1e6).toFixed(1)} MB/s`
}

export function formatDuration (seconds: number): string {
  if (!Number.isFinite(seconds)) return '--'
  if (seconds < 60) return `${Math.round(seconds)}s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`
}

/** Renders rows as aligned columns under a header. */
export function table (header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => (c ?? '').padEnd(widths[i])).join('  ').trimEnd()
  return [line(header), ...rows.map(line)].join('\n')
}

/**
 * A progress bar on a TTY stream: bytes done/total, MB/s and ETA, redrawn at most 10 times a second.
 * Does nothing when the stream is not a terminal (scripts, CI logs).
 */
export class ProgressBar {
  readonly #stream: NodeJS.WriteStream
  readonly #label: string
  readonly #total: number | undefined
  readonly #enabled: boolean
  readonly #started = Date.now()
  #done = 0
  #lastDraw = 0

  constructor (label: string, total: number | undefined, stream: NodeJS.WriteStream = process.stderr, enabled = stream.isTTY === true) {
    this.#label = label
    this.#total = total
    this.#stream = stream
    this.#enabled = enabled
  }

  add (n: number): void {
    this.#done += n
    const now = Date.now()
    if (now - this.#lastDraw >= 100) { this.#lastDraw = now; this.#draw(now) }
  }

  /** Draws the final state and moves to a new line. */
  finish (): void {
    if (!this.#enabled) return
    this.#draw(Date.now())
    this.#stream.write('\n')
  }

  #draw (now: number): void {
    if (!this.#enabled) return
    const secs = Math.max(0.001, (now - this.#started) / 1000)
    const rate = this.#done / secs
    const width = 24
    let bar = ''
    let tail = `${formatBytes(this.#done)}`
    if (this.#total !== undefined && this.#total > 0) {
      const frac = Math.min(1, this.#done / this.#total)
      const full = Math.round(frac * width)
      bar = `[${'='.repeat(Math.max(0, full - 1))}${full > 0 ? '>' : ''}${' '.repeat(width - full)}] ${String(Math.floor(frac * 100)).padStart(3)}% `
      tail = `${formatBytes(this.#done)}/${formatBytes(this.#total)}  ETA ${formatDuration((this.#total - this.#done) / Math.max(rate, 1))}`
    }
    this.#stream.write(`\r${this.#label} ${bar}${tail}  ${formatRate(rate)}\x1b[K`)
  }
}
