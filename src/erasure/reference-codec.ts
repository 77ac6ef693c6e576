/**
 * A pure-TypeScript erasure codec that writes exactly the parity of @ronomon/reed-solomon 6, so that it
 * can stand in for the native addon (where it cannot be built) and cross-check it.
 *
 * What that parity is (read from the addon's binding.c, and checked against its published test vectors
 * in test/erasure/conformance.ts): NOT Backblaze's systematic Vandermonde matrix over GF(2^8), but a
 * Cauchy Reed-Solomon code in bit-matrix form, as in Jerasure (Plank & Xu, "Optimizing Cauchy
 * Reed-Solomon Codes for Fault-Tolerant Network Storage Applications", NCA 2006):
 *
 * - For each (k, m) a table fixes the field GF(2^w), w ∈ {2, 4, 8}, its primitive polynomial p and the
 *   Cauchy offsets (x, y) that minimise the number of ones in the bit matrix (found by the addon's
 *   `search()`; copied below as PARAMETERS).
 * - m = 1: one parity row of ones (plain XOR). m = 2: a row of ones, then the k nonzero field elements
 *   with the fewest ones in their bit matrices. m ≥ 3: the Cauchy matrix 1 / ((y + r) ⊕ (x + c)), each
 *   column divided by its row-0 element (so row 0 is all ones), then each later row divided by the one
 *   element of that row that leaves the fewest ones.
 * - Each element e becomes a w×w bit matrix whose column j is e·2^j. A shard is cut into groups of
 *   w·chunk bytes, each group into w packets of `chunk` bytes; output packet i of a parity shard is the
 *   XOR of every source packet j of every data shard whose element has bit i set in e·2^j. `chunk`
 *   depends on the shard size (see chunkSize), so parity is defined per shard size.
 *
 * It runs on the calling thread and blocks the event loop while it codes; use it for tests and as a
 * fallback, not on a busy server.
 */

import {
  checkParameters,
  checkPresent,
  checkShards,
  type ErasureCodec
} from './erasure-codec.js'
import { CodecFailedError } from './errors.js'

/**
 * PARAMETERS[k - 1][m - 1] = [w, p, x, y, ones]: field exponent, primitive polynomial (without its
 * x^w term), Cauchy column and row offsets (-1 when m ≤ 2), and the number of ones in the resulting
 * bit matrix (a self-check). Copied verbatim from @ronomon/reed-solomon 6.0.0 binding.c.
 */
type Parameters = readonly [w: number, polynomial: number, x: number, y: number, ones: number]

const PARAMETERS: ReadonlyArray<readonly Parameters[]> = [
  /* k= 1 */ [[2,   7,  -1,  -1,    2], [2,   7,  -1,  -1,    4], [2,   7,   0,   1,    6], [4,  19,   0,   1,   16], [4,  19,   0,   1,   20], [4,  19,   0,   1,   24]],
  /* k= 2 */ [[2,   7,  -1,  -1,    4], [2,   7,  -1,  -1,    9], [4,  19,   0,   4,   28], [4,  19,   0,   5,   40], [4,  19,   2,   9,   51], [4,  19,   4,  10,   62]],
  /* k= 3 */ [[2,   7,  -1,  -1,    6], [4,  19,  -1,  -1,   26], [4,  19,   0,   9,   44], [4,  19,   1,   8,   63], [4,  19,   1,   9,   82], [4,  19,   0,   9,  101]],
  /* k= 4 */ [[4,  19,  -1,  -1,   16], [4,  19,  -1,  -1,   36], [4,  19,   0,   9,   63], [4,  19,   3,  11,   89], [4,  19,   3,  11,  116], [4,  19,  11,   4,  145]],
  /* k= 5 */ [[4,  19,  -1,  -1,   20], [4,  19,  -1,  -1,   47], [4,  19,   4,  13,   82], [4,  19,   3,  12,  118], [4,  19,   0,   9,  152], [4,  19,   0,   9,  185]],
  /* k= 6 */ [[4,  19,  -1,  -1,   24], [4,  19,  -1,  -1,   58], [4,  19,   2,  12,  102], [4,  19,   2,  12,  144], [4,  19,   0,   9,  186], [4,  19,   0,   9,  231]],
  /* k= 7 */ [[4,  19,  -1,  -1,   28], [4,  19,  -1,  -1,   71], [4,  19,   1,  13,  123], [4,  19,   2,  12,  174], [4,  19,   0,   9,  226], [4,  19,   7,   0,  277]],
  /* k= 8 */ [[4,  19,  -1,  -1,   32], [4,  19,  -1,  -1,   84], [4,  19,   2,  13,  142], [4,  19,   2,  12,  205], [4,  19,   0,   9,  265], [4,  19,   0,   8,  328]],
  /* k= 9 */ [[4,  19,  -1,  -1,   36], [4,  19,  -1,  -1,   97], [4,  19,   1,  13,  162], [4,  19,   2,  12,  237], [4,  19,   0,   9,  308], [4,  19,   1,  10,  376]],
  /* k=10 */ [[4,  19,  -1,  -1,   40], [4,  19,  -1,  -1,  111], [4,  19,   1,  13,  186], [4,  19,   0,  12,  268], [4,  19,   0,  11,  347], [4,  19,   0,  10,  426]],
  /* k=11 */ [[4,  19,  -1,  -1,   44], [4,  19,  -1,  -1,  125], [4,  19,   0,  13,  211], [4,  19,   0,  12,  300], [4,  19,   0,  11,  390], [8, 135,  58, 188, 1401]],
  /* k=12 */ [[4,  19,  -1,  -1,   48], [4,  19,  -1,  -1,  139], [4,  19,   3,   0,  234], [4,  19,   0,  12,  334], [8, 113,  24, 208, 1269], [8, 135,  57, 188, 1577]],
  /* k=13 */ [[4,  19,  -1,  -1,   52], [4,  19,  -1,  -1,  155], [4,  19,   0,  13,  261], [8, 135,  59, 189, 1037], [8, 113,  27, 236, 1393], [8, 113,  27, 236, 1733]],
  /* k=14 */ [[4,  19,  -1,  -1,   56], [4,  19,  -1,  -1,  171], [8, 169,   4, 252,  777], [8, 135,  58, 189, 1121], [8, 135,  58, 189, 1508], [8, 135,  58, 188, 1880]],
  /* k=15 */ [[4,  19,  -1,  -1,   60], [8, 135,  -1,  -1,  353], [8, 113,  24, 209,  836], [8, 135,  58, 189, 1225], [8, 101,  28, 232, 1644], [8, 113, 120, 241, 2037]],
  /* k=16 */ [[8,  29,  -1,  -1,  128], [8, 135,  -1,  -1,  380], [8, 113,  22, 213,  901], [8, 113,  22, 212, 1324], [8, 101,  28, 232, 1765], [8, 101,  28, 232, 2195]],
  /* k=17 */ [[8,  29,  -1,  -1,  136], [8, 135,  -1,  -1,  407], [8, 113,  22, 213,  960], [8, 135,  58, 189, 1423], [8, 101,  27, 232, 1880], [8, 101,  27, 232, 2343]],
  /* k=18 */ [[8,  29,  -1,  -1,  144], [8, 135,  -1,  -1,  434], [8, 113,  24, 213, 1027], [8, 113,  22, 212, 1513], [8, 195,   8,  32, 2019], [8, 113, 205, 126, 2500]],
  /* k=19 */ [[8,  29,  -1,  -1,  152], [8, 135,  -1,  -1,  462], [8, 113,  22, 213, 1086], [8, 113,  23, 212, 1604], [8, 195,   7,  32, 2131], [8, 195,   3,  60, 2654]],
  /* k=20 */ [[8,  29,  -1,  -1,  160], [8, 135,  -1,  -1,  490], [8, 113,  22, 213, 1147], [8, 113,  22, 212, 1695], [8, 195,   4, 238, 2270], [8, 113,  21, 233, 2816]],
  /* k=21 */ [[8,  29,  -1,  -1,  168], [8, 135,  -1,  -1,  518], [8, 113,  21, 213, 1225], [8, 113,  21, 212, 1801], [8, 195,   3,  60, 2395], [8, 195,   3,  60, 2980]],
  /* k=22 */ [[8,  29,  -1,  -1,  176], [8, 135,  -1,  -1,  546], [8, 113,  20, 213, 1292], [8, 113,  21, 212, 1906], [8, 195,  35,  28, 2512], [8, 195,   3,  60, 3135]],
  /* k=23 */ [[8,  29,  -1,  -1,  184], [8, 135,  -1,  -1,  574], [8, 113,  19, 213, 1366], [8, 113,  19, 212, 2008], [8, 195,   3, 238, 2652], [8, 113, 205, 126, 3291]],
  /* k=24 */ [[8,  29,  -1,  -1,  192], [8, 135,  -1,  -1,  603], [8, 113,  18, 213, 1437], [8, 195, 125,  91, 2110], [8, 195,   3, 238, 2787], [8, 195,  42, 225, 3466]]
]

/** Arithmetic in GF(2^w) from log/exp tables, plus the per-element bit-matrix tables the code needs. */
interface Field {
  readonly w: number
  readonly log: Int32Array
  readonly exp: Int32Array
  /** ones[e]: number of ones in the w×w bit matrix of e. */
  readonly ones: Int32Array
  /** fewest[i]: the i-th element in order of (ones, value); fewest[0] = 0. */
  readonly fewest: Int32Array
}

function createField (w: number, polynomial: number): Field {
  const size = 1 << w
  const order = size - 1
  const log = new Int32Array(size).fill(order)
  const exp = new Int32Array(size)
  let value = 1
  for (let i = 0; i < order; i++) {
    log[value] = i
    exp[i] = value
    value <<= 1
    if ((value & size) !== 0) value = (value ^ polynomial) & order
  }
  const field = { w, log, exp, ones: new Int32Array(size), fewest: new Int32Array(size) }
  for (let e = 0; e < size; e++) {
    let column = e
    for (let j = 0; j < w; j++) {
      field.ones[e] = (field.ones[e] as number) + popcount(column)
      column = multiply(field, column, 2)
    }
  }
  // Same selection loop as binding.c create_tables(), so ties break the same way.
  for (let i = 1; i < size; i++) {
    const previous = field.fewest[i - 1] as number
    let best = -1
    for (let e = 1; e < size; e++) {
      const ones = field.ones[e] as number
      const previousOnes = field.ones[previous] as number
      if (ones < previousOnes || (ones === previousOnes && e <= previous)) continue
      if (best === -1 || ones < (field.ones[best] as number)) best = e
    }
    field.fewest[i] = best
  }
  return field
}

function multiply (field: Field, a: number, b: number): number {
  if (a === 0 || b === 0) return 0
  const order = (1 << field.w) - 1
  return field.exp[((field.log[a] as number) + (field.log[b] as number)) % order] as number
}

function divide (field: Field, a: number, b: number): number {
  if (b === 0) throw new CodecFailedError('division by zero in GF(2^w) (a bug in ReferenceCodec)')
  if (a === 0) return 0
  const order = (1 << field.w) - 1
  return field.exp[((field.log[a] as number) + order - (field.log[b] as number)) % order] as number
}

function popcount (value: number): number {
  let count = 0
  for (let v = value; v !== 0; v &= v - 1) count++
  return count
}

/** The m×k parity matrix (row-major), built as binding.c create_matrix() builds it; returns its ones. */
function createMatrix (field: Field, k: number, m: number, x: number, y: number): { matrix: number[], ones: number } {
  const matrix = new Array<number>(m * k).fill(0)
  let ones = (field.ones[1] as number) * k
  for (let c = 0; c < k; c++) matrix[c] = 1
  if (m === 2) {
    for (let c = 0; c < k; c++) {
      const e = field.fewest[c + 1] as number
      matrix[k + c] = e
      ones += field.ones[e] as number
    }
  } else if (m > 2) {
    for (let r = 0; r < m; r++) {
      for (let c = 0; c < k; c++) matrix[r * k + c] = divide(field, 1, (y + r) ^ (x + c))
    }
    for (let r = 1; r < m; r++) {
      for (let c = 0; c < k; c++) matrix[r * k + c] = divide(field, matrix[r * k + c] as number, matrix[c] as number)
    }
    for (let c = 0; c < k; c++) matrix[c] = 1
    for (let r = 1; r < m; r++) {
      const row = matrix.slice(r * k, (r + 1) * k)
      let best = row.reduce((sum, e) => sum + (field.ones[e] as number), 0)
      let divisor = -1
      for (const candidate of row) {
        const total = row.reduce((sum, e) => sum + (field.ones[divide(field, e, candidate)] as number), 0)
        if (total < best) {
          best = total
          divisor = candidate
        }
      }
      if (divisor >= 0) {
        for (let c = 0; c < k; c++) matrix[r * k + c] = divide(field, row[c] as number, divisor)
      }
      ones += best
    }
  }
  return { matrix, ones }
}

/**
 * Packet size in bytes for a shard size, ported from binding.c dot_chunk_size(): one packet per bit
 * (shardSize / w), halved while the working set of one group, (1 + k·w)·chunk, exceeds 1 MiB — the
 * addon's cache-fitting choice, which is part of the parity format.
 */
function chunkSize (w: number, k: number, shardSize: number): number {
  let chunk = shardSize / w
  while (chunk > 64 && chunk % 2 === 0 && (1 + k * w) * chunk > 1_048_576) chunk /= 2
  return chunk
}

/**
 * A coding row compiled to XOR terms: terms[i] lists, for output packet i, the [source, packet] pairs
 * to XOR together (source indexes the row's inputs).
 */
type CompiledRow = ReadonlyArray<ReadonlyArray<readonly [number, number]>>

function compileRow (field: Field, row: readonly number[]): CompiledRow {
  const terms: Array<Array<[number, number]>> = Array.from({ length: field.w }, () => [])
  for (let source = 0; source < row.length; source++) {
    let column = row[source] as number
    for (let packet = 0; packet < field.w; packet++) {
      for (let bit = 0; bit < field.w; bit++) {
        if ((column & (1 << bit)) !== 0) (terms[bit] as Array<[number, number]>).push([source, packet])
      }
      column = multiply(field, column, 2)
    }
  }
  return terms
}

type Words = Uint32Array | Uint8Array

/** Word views of the shards: 32-bit when every offset and packet is 4-byte aligned, else bytes. */
function views (shards: readonly Buffer[], chunk: number): { views: Words[], unit: number } {
  const aligned = chunk % 4 === 0 && shards.every((s) => s.byteOffset % 4 === 0)
  if (aligned) {
    return { views: shards.map((s) => new Uint32Array(s.buffer, s.byteOffset, s.length / 4)), unit: 4 }
  }
  return { views: shards.map((s) => new Uint8Array(s.buffer, s.byteOffset, s.length)), unit: 1 }
}

/** Writes target = row · sources for one compiled row, packet by packet, group by group. */
function applyRow (
  terms: CompiledRow,
  sources: readonly Words[],
  target: Words,
  w: number,
  chunk: number
): void {
  const length = target.length
  for (let group = 0; group < length; group += w * chunk) {
    for (let packet = 0; packet < w; packet++) {
      const out = group + packet * chunk
      const list = terms[packet] as ReadonlyArray<readonly [number, number]>
      if (list.length === 0) {
        target.fill(0, out, out + chunk)
        continue
      }
      for (let t = 0; t < list.length; t++) {
        const [source, sourcePacket] = list[t] as readonly [number, number]
        const input = sources[source] as Words
        const from = group + sourcePacket * chunk
        if (t === 0) {
          target.set(input.subarray(from, from + chunk), out)
        } else {
          for (let i = 0; i < chunk; i++) target[out + i] ^= input[from + i] as number
        }
      }
    }
  }
}

/** Inverts a square matrix over the field by Gauss-Jordan elimination; throws if it is singular. */
function invert (field: Field, matrix: readonly number[][]): number[][] {
  const n = matrix.length
  const a = matrix.map((row) => [...row])
  const inverse = matrix.map((_, r) => matrix.map((__, c): number => (r === c ? 1 : 0)))
  for (let c = 0; c < n; c++) {
    let pivot = c
    while (pivot < n && (a[pivot] as number[])[c] === 0) pivot++
    if (pivot === n) throw new CodecFailedError('decoding matrix is singular (a bug in ReferenceCodec)')
    ;[a[c], a[pivot]] = [a[pivot] as number[], a[c] as number[]]
    ;[inverse[c], inverse[pivot]] = [inverse[pivot] as number[], inverse[c] as number[]]
    const rowA = a[c] as number[]
    const rowI = inverse[c] as number[]
    const scale = rowA[c] as number
    for (let j = 0; j < n; j++) {
      rowA[j] = divide(field, rowA[j] as number, scale)
      rowI[j] = divide(field, rowI[j] as number, scale)
    }
    for (let r = 0; r < n; r++) {
      const factor = (a[r] as number[])[c] as number
      if (r === c || factor === 0) continue
      for (let j = 0; j < n; j++) {
        ;(a[r] as number[])[j] ^= multiply(field, factor, rowA[j] as number)
        ;(inverse[r] as number[])[j] ^= multiply(field, factor, rowI[j] as number)
      }
    }
  }
  return inverse
}

/**
 * ErasureCodec in pure TypeScript, parity-compatible with RonomonCodec (see the module comment). The
 * constructor throws an UnsupportedParametersError for a bad (k, m); encode/reconstruct reject with
 * the contract's errors. Coding runs synchronously on the calling thread.
 */
export class ReferenceCodec implements ErasureCodec {
  readonly name = 'reference'
  readonly k: number
  readonly m: number
  readonly #field: Field
  /** Parity matrix rows, row-major per parity shard. */
  readonly #rows: ReadonlyArray<readonly number[]>
  readonly #compiled: readonly CompiledRow[]

  constructor (k: number, m: number) {
    checkParameters(k, m)
    this.k = k
    this.m = m
    const [w, polynomial, x, y, expectedOnes] = PARAMETERS[k - 1]?.[m - 1] as Parameters
    this.#field = createField(w, polynomial)
    const { matrix, ones } = createMatrix(this.#field, k, m, x, y)
    if (ones !== expectedOnes) {
      throw new CodecFailedError(
        `the ${k}+${m} bit matrix has ${ones} ones, the native codec's has ${expectedOnes} (a bug in ReferenceCodec)`)
    }
    this.#rows = Array.from({ length: m }, (_, r) => matrix.slice(r * k, (r + 1) * k))
    this.#compiled = this.#rows.map((row) => compileRow(this.#field, row))
  }

  async encode (shards: Buffer[]): Promise<void> {
    const size = checkShards(this.k, this.m, shards)
    const chunk = chunkSize(this.#field.w, this.k, size)
    const { views: words, unit } = views(shards, chunk)
    const data = words.slice(0, this.k)
    for (let r = 0; r < this.m; r++) {
      applyRow(this.#compiled[r] as CompiledRow, data, words[this.k + r] as Words, this.#field.w, chunk / unit)
    }
  }

  async reconstruct (shards: Buffer[], present: readonly boolean[]): Promise<void> {
    const { k, m } = this
    const size = checkShards(k, m, shards)
    const count = checkPresent(k, m, present)
    if (count === k + m) return
    const w = this.#field.w
    const chunk = chunkSize(w, k, size)
    const { views: words, unit } = views(shards, chunk)

    const missingData = [...Array(k).keys()].filter((i) => present[i] !== true)
    if (missingData.length > 0) {
      // Any k present shards determine the data: sources = A · data, so data = A⁻¹ · sources.
      const sources = [...Array(k + m).keys()].filter((i) => present[i] === true).slice(0, k)
      const a = sources.map((s): number[] =>
        s < k ? Array.from({ length: k }, (_, c): number => (c === s ? 1 : 0)) : [...(this.#rows[s - k] as number[])])
      const inverse = invert(this.#field, a)
      const inputs = sources.map((s) => words[s] as Words)
      for (const d of missingData) {
        applyRow(compileRow(this.#field, inverse[d] as number[]), inputs, words[d] as Words, w, chunk / unit)
      }
    }
    const data = words.slice(0, k)
    for (let r = 0; r < m; r++) {
      if (present[k + r] === true) continue
      applyRow(this.#compiled[r] as CompiledRow, data, words[k + r] as Words, w, chunk / unit)
    }
  }
}
