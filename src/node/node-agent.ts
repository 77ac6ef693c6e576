/**
 * The node agent's composition root: wires identity, coordinator trust, piece store, serial store,
 * piece server and heartbeats into the process a provider runs (`shoal node`). Settings (`init`) are
 * validated up front; collaborators (`components`, the logger) are injected.
 *
 * Layout of the data directory: identity.pem, coordinator.json (pinned coordinator key), serials.log,
 * pieces/ab/cd/<id>, tmp/.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { Identity, parsePublicKey } from '../crypto/identity.js'
import type { Logger } from '../util/logger.js'
import { resolveCoordinatorKey } from './coordinator-trust.js'
import { NodeConfigError, NotStartedError } from './errors.js'
import { FilePieceStore } from './file-piece-store.js'
import { Heartbeat } from './heartbeat.js'
import { IDLE_TIMEOUT_MS, PieceServer } from './piece-server.js'
import { HEARTBEAT_INTERVAL_MS, type HeartbeatMessage, type NodeLabels } from './protocol.js'
import { SERIALS_FILE, SerialStore } from './serial-store.js'

/** Settings of a NodeAgent. */
export interface NodeAgentInit {
  /** Directory for the identity, pieces and state; created when missing. */
  readonly dataDir: string
  /** Interface the piece API listens on. Default 127.0.0.1. */
  readonly host?: string
  /** Port of the piece API; 0 (the default) picks a free one. */
  readonly port?: number
  /**
   * URL gateways use to reach this node (sent in heartbeats). Default http://<host>:<bound port>, with
   * 0.0.0.0 / :: replaced by loopback, so set it whenever the node listens on all interfaces.
   */
  readonly advertiseUrl?: string
  /** Base URL of the coordinator, e.g. http://127.0.0.1:7070 (a trailing slash is dropped). */
  readonly coordinatorUrl: string
  /**
   * The coordinator's public key (SPKI DER base64). When absent, it is fetched from the coordinator on
   * first start and pinned in dataDir/coordinator.json (trust on first use).
   */
  readonly coordinatorKey?: string
  /** Failure-domain labels reported to the coordinator. */
  readonly labels: NodeLabels
  /** Bytes this node offers for pieces (a positive integer). */
  readonly capacityBytes: number
  /** Default HEARTBEAT_INTERVAL_MS (protocol.ts). */
  readonly heartbeatIntervalMs?: number
  /** Silence after which a connection is cut; default IDLE_TIMEOUT_MS (piece-server.ts). */
  readonly idleTimeoutMs?: number
}

/** Collaborators of a NodeAgent. */
export interface NodeAgentComponents {
  readonly logger: Logger
  /** Clock used for order-limit expiry and serials; default Date.now. */
  readonly now?: () => number
}

const COUNTRY_PATTERN = /^(?:[A-Z]{2})?$/

function checkHttpUrl (field: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new NodeConfigError(field, 'must be an http(s) URL')
  let url: URL
  try {
    url = new URL(value)
  } catch (err) {
    throw new NodeConfigError(field, `"${value}" is not a URL`, { cause: err })
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new NodeConfigError(field, `"${value}" must use http or https`)
  if (url.search !== '' || url.hash !== '') throw new NodeConfigError(field, `"${value}" must not have a query or fragment`)
  return value.replace(/\/+$/, '')
}

function checkPositiveInt (field: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) throw new NodeConfigError(field, 'must be a positive integer')
}

/** Validates and normalises an init; throws NodeConfigError naming the first bad field. */
export function validateNodeAgentInit (init: NodeAgentInit): Required<Omit<NodeAgentInit, 'advertiseUrl' | 'coordinatorKey'>> & Pick<NodeAgentInit, 'advertiseUrl' | 'coordinatorKey'> {
  if (typeof init !== 'object' || init === null) throw new NodeConfigError('init', 'must be an object')
  if (typeof init.dataDir !== 'string' || init.dataDir === '') throw new NodeConfigError('dataDir', 'must be a non-empty path')
  const host = init.host ?? '127.0.0.1'
  if (typeof host !== 'string' || host === '') throw new NodeConfigError('host', 'must be a non-empty host name or address')
  const port = init.port ?? 0
  if (!Number.isSafeInteger(port) || port < 0 || port > 65535) throw new NodeConfigError('port', 'must be an integer from 0 to 65535')
  const advertiseUrl = init.advertiseUrl === undefined ? undefined : checkHttpUrl('advertiseUrl', init.advertiseUrl)
  const coordinatorUrl = checkHttpUrl('coordinatorUrl', init.coordinatorUrl)
  if (init.coordinatorKey !== undefined) {
    try {
      parsePublicKey(init.coordinatorKey)
    } catch (err) {
      throw new NodeConfigError('coordinatorKey', 'must be an ed25519 public key (SPKI DER, base64)', { cause: err })
    }
  }
  const labels = init.labels
  if (typeof labels !== 'object' || labels === null) throw new NodeConfigError('labels', 'must be an object')
  for (const key of ['provider', 'region', 'operator'] as const) {
    if (typeof labels[key] !== 'string' || labels[key].trim() === '') throw new NodeConfigError(`labels.${key}`, 'must be a non-empty string')
  }
  if (typeof labels.country !== 'string' || !COUNTRY_PATTERN.test(labels.country)) {
    throw new NodeConfigError('labels.country', 'must be an ISO 3166-1 alpha-2 code in capitals (e.g. "DE"), or "" when unknown')
  }
  checkPositiveInt('capacityBytes', init.capacityBytes)
  const heartbeatIntervalMs = init.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS
  checkPositiveInt('heartbeatIntervalMs', heartbeatIntervalMs)
  const idleTimeoutMs = init.idleTimeoutMs ?? IDLE_TIMEOUT_MS
  checkPositiveInt('idleTimeoutMs', idleTimeoutMs)
  return {
    dataDir: init.dataDir,
    host,
    port,
    advertiseUrl,
    coordinatorUrl,
    coordinatorKey: init.coordinatorKey,
    labels: { provider: labels.provider, region: labels.region, operator: labels.operator, country: labels.country },
    capacityBytes: init.capacityBytes,
    heartbeatIntervalMs,
    idleTimeoutMs
  }
}

interface Running {
  readonly identity: Identity
  readonly url: string
  readonly store: FilePieceStore
  readonly serials: SerialStore
  readonly server: PieceServer
  readonly heartbeat: Heartbeat
}

/** A provider's node agent. */
function deferred (): { promise: Promise<void>, resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((r) => { resolve = r })
  return { promise, resolve }
}

export class NodeAgent {
  readonly #init: ReturnType<typeof validateNodeAgentInit>
  readonly #log: Logger
  readonly #now: () => number
  #starting: Promise<void> | undefined
  #stopping: Promise<void> | undefined
  #abort = new AbortController()
  #running: Running | undefined
  /** Resolves once the coordinator says this node has exited the network (`shoal node exit`). */
  readonly #exited = deferred()
  /** Components started so far, stopped in reverse order (also when start fails midway). */
  #stops: Array<() => Promise<void>> = []

  /** Validates `init` (NodeConfigError naming the bad field); starts nothing. */
  constructor (init: NodeAgentInit, components: NodeAgentComponents) {
    this.#init = validateNodeAgentInit(init)
    this.#log = components.logger
    this.#now = components.now ?? Date.now
  }

  /**
   * Loads or creates the identity, establishes coordinator trust (this waits for the coordinator when
   * its key is neither configured nor pinned), opens the stores, listens, and starts heartbeats.
   * Idempotent while running. Rejects — leaving nothing running — on a bad data directory, a busy port,
   * a coordinator that fails trust (CoordinatorTrustError), or when stop() is called meanwhile.
   */
  async start (): Promise<void> {
    if (this.#stopping !== undefined) await this.#stopping
    this.#starting ??= this.#start().catch(async (err: unknown) => {
      await this.#teardown()
      this.#starting = undefined
      throw err
    })
    return await this.#starting
  }

  async #start (): Promise<void> {
    const init = this.#init
    const signal = this.#abort.signal
    await mkdir(init.dataDir, { recursive: true })
    const identity = await Identity.loadOrCreate(init.dataDir)
    const log = this.#log
    const coordinatorKey = await resolveCoordinatorKey(init, { logger: log.child('trust') }, { signal })
    signal.throwIfAborted()

    const store = new FilePieceStore({ dir: init.dataDir, capacityBytes: init.capacityBytes }, { logger: log.child('store') })
    await store.start()
    this.#stops.push(async () => { await store.stop() })
    const serials = new SerialStore({ file: join(init.dataDir, SERIALS_FILE) }, { logger: log.child('serials'), now: this.#now })
    await serials.start()
    this.#stops.push(async () => { await serials.stop() })
    const server = new PieceServer(
      { host: init.host, port: init.port, idleTimeoutMs: init.idleTimeoutMs },
      { identity, store, serials, coordinatorKey, labels: init.labels, logger: log.child('api'), now: this.#now })
    await server.start()
    this.#stops.push(async () => { await server.stop() })
    signal.throwIfAborted()

    const url = init.advertiseUrl ?? defaultUrl(init.host, server.address.port)
    const message = async (): Promise<HeartbeatMessage> => {
      const capacity = await store.capacity()
      return {
        version: 1,
        id: identity.id,
        publicKey: identity.publicKey,
        url,
        labels: init.labels,
        capacityBytes: capacity.capacityBytes,
        usedBytes: capacity.usedBytes,
        freeBytes: capacity.freeBytes,
        pieces: store.usage().pieces,
        timestamp: this.#now()
      }
    }
    const heartbeat = new Heartbeat(
      { coordinatorUrl: init.coordinatorUrl, coordinatorKey, intervalMs: init.heartbeatIntervalMs },
      { identity, logger: log.child('heartbeat'), message, onExited: () => { this.#exited.resolve() } })
    heartbeat.start()
    this.#stops.push(async () => { await heartbeat.stop() })
    this.#running = { identity, url, store, serials, server, heartbeat }
    log.info('node agent started', { id: identity.id, url, dataDir: init.dataDir })
  }

  /** Stops heartbeats, the server (in-flight requests get a short grace), the stores. Safe to call twice. */
  async stop (): Promise<void> {
    this.#stopping ??= (async () => {
      this.#abort.abort(new NotStartedError('node agent is stopping'))
      await this.#starting?.catch(() => {})
      await this.#teardown()
      const wasRunning = this.#running !== undefined
      this.#running = undefined
      this.#starting = undefined
      this.#abort = new AbortController()
      if (wasRunning) this.#log.info('node agent stopped')
    })().finally(() => { this.#stopping = undefined })
    await this.#stopping
  }

  async #teardown (): Promise<void> {
    const stops = this.#stops.reverse()
    this.#stops = []
    for (const stop of stops) {
      try {
        await stop()
      } catch (err) {
        this.#log.warn('a component failed to stop cleanly', { err })
      }
    }
  }

  /** The node's id (derived from its public key); throws NotStartedError before start(). */
  /** Resolves when the coordinator reports this node exited (its pieces all moved): time to stop. */
  get exited (): Promise<void> {
    return this.#exited.promise
  }

  get id (): string {
    return this.#need().identity.id
  }

  /** The node's public key (SPKI DER base64); throws NotStartedError before start(). */
  get publicKey (): string {
    return this.#need().identity.publicKey
  }

  /** The URL gateways reach the piece API at; throws NotStartedError before start(). */
  get url (): string {
    return this.#need().url
  }

  /** Whether the last heartbeat reached the coordinator (undefined before the first answer or when stopped). */
  get coordinatorReachable (): boolean | undefined {
    return this.#running?.heartbeat.reachable
  }

  #need (): Running {
    if (this.#running === undefined) throw new NotStartedError('node agent is not started')
    return this.#running
  }
}

function defaultUrl (host: string, port: number): string {
  const h = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host
  return `http://${h.includes(':') ? `[${h}]` : h}:${port}`
}
