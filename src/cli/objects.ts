/**
 * `shoal put/get/ls/rm/mb/rb/status`: the user-facing commands over the coordinator's API.
 * Objects are addressed BUCKET/KEY. Every command takes --json for scripts.
 */
import { createReadStream, createWriteStream } from 'node:fs'
import { rename, rm, stat } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { Transform } from 'node:stream'
import { CoordinatorClient } from './client.js'
import { formatBytes, formatRate, parseDuration, ProgressBar, table } from './format.js'
import { findCoordinator } from './network.js'

export interface GlobalOptions {
  dir?: string
  coordinator?: string
  json?: boolean
}

/** A CLI argument that is not valid; exits with status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

/** Splits "bucket/key/with/slashes" → ["bucket", "key/with/slashes"]; the key may be empty. */
export function parseTarget (text: string): { bucket: string, key: string } {
  const t = text.replace(/^shoal:\/\//, '')
  const slash = t.indexOf('/')
  const bucket = slash < 0 ? t : t.slice(0, slash)
  const key = slash < 0 ? '' : t.slice(slash + 1)
  if (bucket === '') throw new UsageError(`"${text}" has no bucket; write BUCKET/KEY, e.g. demo/photos/cat.jpg`)
  return { bucket, key }
}

export async function client (g: GlobalOptions): Promise<CoordinatorClient> {
  return new CoordinatorClient(await findCoordinator(g))
}

export function out (g: GlobalOptions, json: unknown, text: string): void {
  process.stdout.write((g.json === true ? JSON.stringify(json) : text) + '\n')
}

export async function put (file: string, target: string, g: GlobalOptions & { contentType?: string }): Promise<number> {
  let { bucket, key } = parseTarget(target)
  if (key === '' || key.endsWith('/')) key += basename(file)
  let size: number
  try {
    const s = await stat(file)
    if (!s.isFile()) throw new UsageError(`${file} is not a regular file`)
    size = s.size
  } catch (err: any) {
    if (err.code === 'ENOENT') throw new UsageError(`${file} does not exist`)
    throw err
  }
  const c = await client(g)
  try {
    const bar = new ProgressBar(`put ${bucket}/${key}`, size, process.stderr, g.json !== true && process.stderr.isTTY === true)
    const started = Date.now()
    const counter = new Transform({ transform (chunk: Buffer, _enc, cb) { bar.add(chunk.length); cb(null, chunk) } })
    const result = await c.put(bucket, key, createReadStream(file).pipe(counter), { size, contentType: g.contentType })
    bar.finish()
    const secs = (Date.now() - started) / 1000
    const note = result.underPlacedSegments > 0 ? ` (${result.underPlacedSegments} segment(s) under-placed: a failure domain is offline; they will be re-spread when it returns)` : ''
    out(g, { ...result.object, underPlacedSegments: result.underPlacedSegments, seconds: secs },
      `stored ${bucket}/${key}: ${formatBytes(size)} in ${secs.toFixed(1)}s (${formatRate(size / Math.max(secs, 0.001))})${note}`)
    return 0
  } finally {
    c.close()
  }
}

export async function get (target: string, dest: string | undefined, g: GlobalOptions): Promise<number> {
  const { bucket, key } = parseTarget(target)
  if (key === '') throw new UsageError(`"${target}" names no object; write BUCKET/KEY`)
  let path = dest ?? basename(key)
  if (path !== '-') {
    try {
      if ((await stat(path)).isDirectory()) path = join(path, basename(key))
    } catch {}
  }
  const c = await client(g)
  const tmp = `${path}.shoal-partial`
  try {
    let bar: ProgressBar | undefined
    const started = Date.now()
    const sink = path === '-' ? process.stdout : createWriteStream(tmp)
    const size = await c.get(bucket, key, sink, {
      onHeaders: (n) => { bar = new ProgressBar(`get ${bucket}/${key}`, n, process.stderr, g.json !== true && path !== '-' && process.stderr.isTTY === true) },
      onData: (n) => { bar?.add(n) }
    })
    bar?.finish()
    if (path !== '-') await rename(tmp, path)
    const secs = (Date.now() - started) / 1000
    if (path !== '-') out(g, { bucket, key, size, path, seconds: secs }, `wrote ${path}: ${formatBytes(size)} in ${secs.toFixed(1)}s (${formatRate(size / Math.max(secs, 0.001))})`)
    return 0
  } catch (err) {
    if (path !== '-') await rm(tmp, { force: true })
    throw err
  } finally {
    c.close()
  }
}

export async function ls (target: string | undefined, g: GlobalOptions & { recursive?: boolean }): Promise<number> {
  const c = await client(g)
  try {
    if (target === undefined || target === '') {
      const buckets = await c.listBuckets()
      out(g, { buckets }, buckets.length === 0 ? 'no buckets yet; create one with `shoal mb NAME`' : table(['BUCKET', 'CREATED', 'REDUNDANCY'],
        buckets.map((b) => [b.name, b.createdAt, `${b.settings.k}+${b.settings.m} over ${b.settings.policy.dimensions.join('/')}${b.settings.underPlacement === 'refuse' ? ' (strict)' : ''}`])))
      return 0
    }
    const { bucket, key: prefix } = parseTarget(target)
    const objects: any[] = []
    const prefixes: string[] = []
    let startAfter: string | undefined
    for (;;) {
      const page = await c.list(bucket, { prefix, delimiter: g.recursive === true ? undefined : '/', startAfter })
      objects.push(...page.objects)
      prefixes.push(...page.prefixes)
      if (!page.truncated || page.nextStartAfter === null) break
      startAfter = page.nextStartAfter
    }
    const rows = [
      ...prefixes.map((p) => ['', '', 'PRE', `${bucket}/${p}`]),
      ...objects.map((o) => [o.createdAt, formatBytes(o.size), o.inline === true ? 'inline' : `${o.segments} seg`, `${bucket}/${o.key}`])
    ]
    out(g, { bucket, prefix, prefixes, objects }, rows.length === 0 ? `nothing in ${bucket}/${prefix}` : table(['MODIFIED', 'SIZE', 'STORED', 'NAME'], rows))
    return 0
  } finally {
    c.close()
  }
}

export async function rmObject (target: string, g: GlobalOptions): Promise<number> {
  const { bucket, key } = parseTarget(target)
  if (key === '') throw new UsageError(`"${target}" names no object; to delete a bucket use \`shoal rb ${bucket}\``)
  const c = await client(g)
  try {
    await c.delete(bucket, key)
    out(g, { deleted: { bucket, key } }, `deleted ${bucket}/${key}`)
    return 0
  } finally {
    c.close()
  }
}

export async function mb (name: string, g: GlobalOptions & { k?: string, m?: string, spares?: string, refuseUnderPlaced?: boolean, dimensions?: string }): Promise<number> {
  const settings: Record<string, unknown> = {}
  const int = (v: string | undefined, flag: string): number | undefined => {
    if (v === undefined) return undefined
    const n = Number(v)
    if (!Number.isInteger(n)) throw new UsageError(`${flag} must be an integer`)
    return n
  }
  if (g.k !== undefined) settings.k = int(g.k, '--k')
  if (g.m !== undefined) settings.m = int(g.m, '--m')
  if (g.spares !== undefined) settings.spares = int(g.spares, '--spares')
  if (g.refuseUnderPlaced === true) settings.underPlacement = 'refuse'
  if (g.dimensions !== undefined) settings.policy = { dimensions: g.dimensions.split(',').map((d) => d.trim()).filter((d) => d !== ''), margin: 0 }
  const c = await client(g)
  try {
    const bucket = await c.createBucket(name, Object.keys(settings).length > 0 ? settings : undefined)
    out(g, { bucket }, `created bucket ${name} (${bucket.settings.k}+${bucket.settings.m}, survives losing any one ${bucket.settings.policy.dimensions.join(', ')})`)
    return 0
  } finally {
    c.close()
  }
}

export async function rb (name: string, g: GlobalOptions): Promise<number> {
  const c = await client(g)
  try {
    await c.deleteBucket(name)
    out(g, { deleted: { bucket: name } }, `deleted bucket ${name}`)
    return 0
  } finally {
    c.close()
  }
}

export async function locate (target: string, g: GlobalOptions): Promise<number> {
  const { bucket, key } = parseTarget(target)
  if (key === '') throw new UsageError(`"${target}" names no object; write BUCKET/KEY`)
  const c = await client(g)
  try {
    const r = await c.locate(bucket, key)
    if (g.json === true) { out(g, r, ''); return 0 }
    const lines: string[] = [`${bucket}/${key}: ${formatBytes(r.object.size)}, ${r.segments.length === 0 ? 'stored inline in metadata (encrypted)' : `${r.segments.length} segment(s)`}`]
    for (const s of r.segments) {
      const up = s.pieces.filter((p) => p.online).length
      const perProvider = new Map<string, number>()
      for (const p of s.pieces) perProvider.set(p.provider ?? '?', (perProvider.get(p.provider ?? '?') ?? 0) + 1)
      lines.push('')
      lines.push(`segment ${s.index}: ${formatBytes(s.size)}, ${s.k} data + ${s.m} parity pieces, ${s.pieces.length} stored, ${up} online (needs ${s.k})` +
        `${s.underPlaced ? `, UNDER-PLACED: ${s.placementNote}` : ''}`)
      lines.push(`  pieces per provider: ${[...perProvider].map(([p, n]) => `${p} ${n}`).join(', ')}`)
      lines.push(table(['  PIECE', 'NODE', 'PROVIDER', 'REGION', 'OPERATOR', 'STATE', 'SIZE'], s.pieces.map((p) => [
        `  ${p.index}${p.index < s.k ? ' (data)' : ''}`, p.nodeId.slice(0, 12), p.provider ?? '?', p.region ?? '?', p.operator ?? '?', p.online ? 'online' : 'OFFLINE', formatBytes(p.size)
      ])))
    }
    process.stdout.write(lines.join('\n') + '\n')
    return 0
  } finally {
    c.close()
  }
}

export async function keysCreate (account: string, g: GlobalOptions): Promise<number> {
  const c = await client(g)
  try {
    const k = await c.createKey(account)
    out(g, { accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey, account: k.account },
      `access key for account ${k.account} (the secret is shown only now):\n  aws_access_key_id     = ${k.accessKeyId}\n  aws_secret_access_key = ${k.secretAccessKey}`)
    return 0
  } finally {
    c.close()
  }
}

export async function keysList (g: GlobalOptions): Promise<number> {
  const c = await client(g)
  try {
    const keys = await c.listKeys()
    out(g, { keys }, keys.length === 0 ? 'no access keys; create one with `shoal keys create NAME`' : table(['ACCESS KEY ID', 'ACCOUNT', 'CREATED'], keys.map((k) => [k.accessKeyId, k.account, k.createdAt])))
    return 0
  } finally {
    c.close()
  }
}

export async function keysRemove (id: string, g: GlobalOptions): Promise<number> {
  const c = await client(g)
  try {
    await c.deleteKey(id)
    out(g, { deleted: { accessKeyId: id } }, `deleted access key ${id}`)
    return 0
  } finally {
    c.close()
  }
}

export async function status (g: GlobalOptions): Promise<number> {
  const c = await client(g)
  try {
    const s = await c.status()
    if (g.json === true) { out(g, s, ''); return 0 }
    const nodes = s.nodes
    const online = nodes.filter((n) => n.online).length
    const lines: string[] = []
    lines.push(`Coordinator ${c.url}   nodes ${online}/${nodes.length} online   objects ${s.objects} (${formatBytes(s.bytes)})   segments ${s.segments}   under-placed segments ${s.underPlacedSegments}`)
    lines.push('')
    lines.push(table(['NODE', 'PROVIDER', 'REGION', 'OPERATOR', 'STATE', 'STANDING', 'AUDITS', 'SCORE', 'UPTIME', 'USED', 'FREE', 'PIECES', 'URL'], nodes.map((n) => [
      n.id.slice(0, 12), n.provider, n.region, n.operator, n.online ? 'online' : 'OFFLINE',
      (n.standing ?? '-') + (n.exitState !== undefined && n.exitState !== 'none' ? ` (${n.exitState})` : ''),
      n.audits === undefined ? '-' : `${n.audits - (n.auditFailures ?? 0)}/${n.audits}`,
      n.auditScore === undefined ? '-' : n.auditScore.toFixed(2),
      n.uptimeScore === undefined ? '-' : `${(100 * n.uptimeScore).toFixed(0)}%`,
      formatBytes(n.usedBytes), formatBytes(n.freeBytes), String(n.pieces), n.url
    ])))
    const flagged = nodes.filter((n) => n.standingReason !== undefined && n.standingReason !== '')
    for (const n of flagged) lines.push(`  ${n.id.slice(0, 12)} is ${n.standing ?? ''}: ${n.standingReason ?? ''}`)
    for (const dim of ['provider', 'region'] as const) {
      lines.push('')
      const spread = s.spread[dim]
      const totalPieces = Object.values(spread).reduce((a, v) => a + v.pieces, 0)
      lines.push(table([dim.toUpperCase(), 'NODES', 'ONLINE', 'PIECES', 'SHARE', 'BYTES'], Object.entries(spread).map(([name, v]) => [
        name, String(v.nodes), String(v.online), String(v.pieces), totalPieces === 0 ? '-' : `${(100 * v.pieces / totalPieces).toFixed(0)}%`, formatBytes(v.bytes)
      ])))
    }
    const d = (s as { durability?: any }).durability
    if (d !== undefined) {
      lines.push('')
      lines.push(`Audits: ${d.audits.audits} in ${d.audits.rounds} rounds, ${d.audits.failures} failed, ${d.audits.bytesPerAudit} B per audit.   ` +
        `Repair: ${d.repair.repaired} segments repaired (${formatBytes(d.repair.bytesRebuilt)} rebuilt), ${d.repair.atRisk} at risk at the last check.`)
    }
    if (s.underPlacedSegments > 0) lines.push(`\n${s.underPlacedSegments} segment(s) are under-placed: written while a failure domain was offline; they are re-spread when it returns.`)
    process.stdout.write(lines.join('\n') + '\n')
    return 0
  } finally {
    c.close()
  }
}

/** `shoal node exit NODE`: drain a node (its pieces are moved first), optionally waiting until it is done. */
export async function nodeExit (nodeId: string, opts: GlobalOptions & { wait?: boolean, timeout?: string }): Promise<number> {
  const c = await client(opts)
  try {
    const status = await c.status()
    const matches = status.nodes.filter((n) => n.id === nodeId || n.id.startsWith(nodeId))
    if (matches.length !== 1) throw new RangeError(matches.length === 0 ? `no node ${nodeId}; \`shoal status\` lists them` : `${nodeId} matches ${matches.length} nodes; give more of the id`)
    const node = matches[0]
    await c.exitNode(node.id)
    if (opts.wait !== true) {
      out(opts, { node: node.id, exitState: 'exiting' }, `node ${node.id} is exiting: repair moves its ${node.pieces} pieces away, then it leaves. Watch with \`shoal status\` or use --wait.`)
      return 0
    }
    const deadline = Date.now() + (opts.timeout === undefined ? 600_000 : parseDuration(opts.timeout))
    for (;;) {
      await c.runDurability('repair')
      const now = (await c.status()).nodes.find((n) => n.id === node.id)
      if (now?.exitState === 'exited') {
        out(opts, { node: node.id, exitState: 'exited' }, `node ${node.id} has exited: every piece it held now lives elsewhere.`)
        return 0
      }
      if (opts.json !== true) process.stderr.write(`\r${now?.pieces ?? 0} pieces left on ${node.id.slice(0, 12)} …   `)
      if (Date.now() > deadline) throw new Error(`node ${node.id} still holds ${now?.pieces ?? '?'} pieces; the exit goes on in the background`)
      await new Promise((resolve) => setTimeout(resolve, 1000))
    }
  } finally {
    c.close()
  }
}

/** `shoal repair|audit|gc`: run one pass now and print its report. */
export async function runTask (task: 'audit' | 'repair' | 'gc', opts: GlobalOptions): Promise<number> {
  const c = await client(opts)
  try {
    const r = await c.runDurability(task)
    const text = task === 'audit'
      ? `audited ${r.audits} pieces on ${r.nodes} nodes: ${r.successes} passed, ${r.failures} failed, ${r.unknown} unanswered, ${r.offline} offline; ${r.bytes} bytes moved` +
        (r.failed.length > 0 ? '\n' + r.failed.map((f: any) => `  FAILED ${f.nodeId.slice(0, 12)} piece ${f.pieceId.slice(0, 12)}: ${f.reason}`).join('\n') : '')
      : task === 'repair'
        ? `checked ${r.checked} segments: ${r.atRisk} at risk, ${r.repaired} repaired (${r.piecesRebuilt} pieces, ${formatBytes(r.bytesRebuilt)} rebuilt), ${r.failed} failed, ${r.unrepairable} not repairable now` +
          (r.exited.length > 0 ? `; exited: ${r.exited.join(', ')}` : '')
        : `aborted ${r.abortedStale} stale uploads, purged ${r.purgedUploads}, deleted ${r.deletedPieces} unreferenced pieces (${formatBytes(r.deletedBytes)}) on ${r.nodes.length} nodes`
    out(opts, r, text)
    return 0
  } finally {
    c.close()
  }
}
