/**
 * The node registry: who is in the network, where, with which labels and capacity, and who is online.
 * Liveness lives in memory (a node is online while heartbeats keep arriving); the records are persisted
 * in metadata so `shoal status` still lists a node that went silent, across coordinator restarts.
 */
import { idFromPublicKey, verifySignature } from '../crypto/identity.js'
import type { MetadataStore, NodeRecord } from '../metadata/metadata-store.js'
import { subnetOf, type Candidate, type Labels } from '../placement/index.js'
import type { HeartbeatMessage } from '../node/protocol.js'
import type { Logger } from '../util/logger.js'
import { InvalidHeartbeatError } from './errors.js'

/**
 * Silence after which a node counts as offline: three missed heartbeats (HEARTBEAT_INTERVAL_MS = 1 s),
 * so one delayed packet doesn't flap a node, while an outage is seen within ~3 s.
 */
export const OFFLINE_AFTER_MS = 3000
/** Heartbeats whose timestamp is further than this from the coordinator's clock are refused (replay and skew). */
export const HEARTBEAT_MAX_SKEW_MS = 5 * 60_000
/** How often an unchanged node's record is written back (last seen, capacity): bounds write load to nodes/30 per second. */
export const PERSIST_INTERVAL_MS = 30_000

const LABEL_PATTERN = /^[A-Za-z0-9][A-Za-z0-9:._/-]{0,63}$/

export interface NodeView extends NodeRecord {
  readonly online: boolean
}

interface Entry {
  record: NodeRecord
  /** Free bytes still unreserved: placement subtracts what it assigns until the next heartbeat. */
  free: number
  lastHeartbeat: number
  persistedAt: number
}

export interface RegistryInit {
  offlineAfterMs?: number
}

export class NodeRegistry {
  readonly #nodes = new Map<string, Entry>()
  readonly #offlineAfterMs: number
  readonly #metadata: MetadataStore
  readonly #logger: Logger
  readonly #wasOnline = new Map<string, boolean>()
  #timer: NodeJS.Timeout | undefined

  constructor (init: RegistryInit, components: { metadata: MetadataStore, logger: Logger }) {
    this.#offlineAfterMs = init.offlineAfterMs ?? OFFLINE_AFTER_MS
    this.#metadata = components.metadata
    this.#logger = components.logger
  }

  get offlineAfterMs (): number {
    return this.#offlineAfterMs
  }

  /** Loads known nodes (all offline until they report) and starts logging online/offline transitions. */
  async start (): Promise<void> {
    for (const record of await this.#metadata.listNodes()) {
      this.#nodes.set(record.id, { record, free: record.freeBytes, lastHeartbeat: 0, persistedAt: Date.now() })
    }
    this.#timer = setInterval(() => { this.#watch() }, 500)
    this.#timer.unref()
  }

  /** Stops the liveness watcher; safe to call twice. */
  stop (): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  /**
   * Accepts a heartbeat: checks the signature against the key in the message, that the id derives
   * from that key, the clock skew and every field; records the node. Throws InvalidHeartbeatError.
   */
  async heartbeat (body: Buffer, signature: string | undefined, remoteAddress: string): Promise<string> {
    const msg = parseHeartbeat(body)
    if (idFromPublicKey(msg.publicKey) !== msg.id) throw new InvalidHeartbeatError('heartbeat id does not derive from its public key')
    if (signature === undefined || !verifySignature(msg.publicKey, body, Buffer.from(signature, 'base64url'))) {
      throw new InvalidHeartbeatError('heartbeat signature does not verify')
    }
    const now = Date.now()
    if (Math.abs(now - msg.timestamp) > HEARTBEAT_MAX_SKEW_MS) {
      throw new InvalidHeartbeatError(`heartbeat timestamp is ${Math.round((msg.timestamp - now) / 1000)} s off the coordinator's clock; fix the node's clock`)
    }
    let subnet: string
    try {
      subnet = subnetOf(remoteAddress)
    } catch {
      subnet = 'unknown'
    }
    const prev = this.#nodes.get(msg.id)
    const record: NodeRecord = {
      id: msg.id,
      publicKey: msg.publicKey,
      url: msg.url,
      provider: msg.labels.provider,
      region: msg.labels.region,
      operator: msg.labels.operator,
      country: msg.labels.country,
      subnet,
      capacityBytes: msg.capacityBytes,
      usedBytes: msg.usedBytes,
      freeBytes: msg.freeBytes,
      firstSeen: prev?.record.firstSeen ?? now,
      lastSeen: now
    }
    const changed = prev === undefined || prev.record.url !== record.url || prev.record.provider !== record.provider ||
      prev.record.region !== record.region || prev.record.operator !== record.operator || prev.record.subnet !== record.subnet ||
      prev.record.country !== record.country || prev.record.publicKey !== record.publicKey
    const entry: Entry = { record, free: msg.freeBytes, lastHeartbeat: now, persistedAt: prev?.persistedAt ?? 0 }
    this.#nodes.set(msg.id, entry)
    if (prev === undefined) this.#logger.info('node joined', { node: msg.id, url: msg.url, ...msg.labels })
    if (changed || now - entry.persistedAt > PERSIST_INTERVAL_MS) {
      entry.persistedAt = now
      await this.#metadata.upsertNode(record)
    }
    return msg.id
  }

  /** True while the node's heartbeats are arriving. */
  isOnline (id: string, now = Date.now()): boolean {
    const e = this.#nodes.get(id)
    return e !== undefined && now - e.lastHeartbeat < this.#offlineAfterMs
  }

  get (id: string): NodeView | undefined {
    const e = this.#nodes.get(id)
    return e === undefined ? undefined : { ...e.record, lastSeen: Math.max(e.record.lastSeen, e.lastHeartbeat), online: this.isOnline(id) }
  }

  /** Every known node, online or not, sorted by provider, region, id. */
  list (): NodeView[] {
    return [...this.#nodes.keys()].map((id) => this.get(id)!).sort((a, b) =>
      a.provider.localeCompare(b.provider) || a.region.localeCompare(b.region) || a.id.localeCompare(b.id))
  }

  /** Online nodes as placement candidates, with free space net of recent reservations. */
  candidates (exclude?: ReadonlySet<string>): Candidate[] {
    const now = Date.now()
    const out: Candidate[] = []
    for (const [id, e] of this.#nodes) {
      if (!this.isOnline(id, now) || exclude?.has(id) === true) continue
      out.push({ id, labels: labelsOf(e.record), freeBytes: Math.max(0, e.free) })
    }
    return out
  }

  /** Subtracts bytes just assigned to a node until its next heartbeat reports real usage. */
  reserve (id: string, bytes: number): void {
    const e = this.#nodes.get(id)
    if (e !== undefined) e.free -= bytes
  }

  #watch (): void {
    const now = Date.now()
    for (const [id, e] of this.#nodes) {
      const online = this.isOnline(id, now)
      const was = this.#wasOnline.get(id)
      if (was === online) continue
      this.#wasOnline.set(id, online)
      if (was === undefined && !online) continue
      if (online) this.#logger.info('node online', { node: id, provider: e.record.provider, region: e.record.region })
      else this.#logger.warn('node offline', { node: id, provider: e.record.provider, region: e.record.region, silentMs: now - e.lastHeartbeat })
    }
  }
}

/** The failure-domain labels placement sees for a node. */
export function labelsOf (record: NodeRecord): Labels {
  return { provider: record.provider, region: record.region, operator: record.operator, subnet: record.subnet }
}

function parseHeartbeat (body: Buffer): HeartbeatMessage {
  let v: any
  try {
    v = JSON.parse(body.toString('utf8'))
  } catch (err) {
    throw new InvalidHeartbeatError('heartbeat is not valid JSON', { cause: err })
  }
  const fail = (what: string): never => { throw new InvalidHeartbeatError(`heartbeat field ${what} is missing or malformed`) }
  if (typeof v !== 'object' || v === null || v.version !== 1) fail('version')
  if (typeof v.id !== 'string' || !/^[0-9a-f]{40}$/.test(v.id)) fail('id')
  if (typeof v.publicKey !== 'string' || v.publicKey.length > 200) fail('publicKey')
  if (typeof v.url !== 'string' || !isHttpUrl(v.url)) fail('url')
  const labels = v.labels
  if (typeof labels !== 'object' || labels === null) fail('labels')
  for (const name of ['provider', 'region', 'operator'] as const) {
    if (typeof labels[name] !== 'string' || !LABEL_PATTERN.test(labels[name])) fail(`labels.${name}`)
  }
  if (typeof labels.country !== 'string' || !/^([A-Za-z]{2})?$/.test(labels.country)) fail('labels.country')
  for (const name of ['capacityBytes', 'usedBytes', 'freeBytes', 'pieces', 'timestamp'] as const) {
    if (!Number.isSafeInteger(v[name]) || v[name] < 0) fail(name)
  }
  return v as HeartbeatMessage
}

function isHttpUrl (text: string): boolean {
  try {
    const u = new URL(text)
    return (u.protocol === 'http:' || u.protocol === 'https:') && text.length <= 300
  } catch {
    return false
  }
}
