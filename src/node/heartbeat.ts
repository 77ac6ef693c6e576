/**
 * Heartbeats: every HEARTBEAT_INTERVAL_MS the node tells its coordinator it is alive, where to reach
 * it and how much room it has. The first heartbeat is also its registration. The body is signed by the
 * node's identity (x-shoal-signature), so nobody can report on a node's behalf.
 *
 * The loop never throws: a failed beat is logged once when the coordinator becomes unreachable and
 * once when it is back, not every second in between.
 */
import type { Identity } from '../crypto/identity.js'
import type { Logger } from '../util/logger.js'
import { httpRequest } from './http-client.js'
import { HEARTBEAT_INTERVAL_MS, HEARTBEAT_PATH, SIGNATURE_HEADER, type HeartbeatMessage, type HeartbeatReply } from './protocol.js'

/**
 * Time allowed for one heartbeat request: under the interval's double, so a slow coordinator delays at
 * most one beat, and far under the coordinator's offline threshold of several seconds.
 */
export const HEARTBEAT_TIMEOUT_MS = 2_000

/** Settings of a Heartbeat. */
export interface HeartbeatInit {
  /** Base URL of the coordinator, without a trailing slash. */
  readonly coordinatorUrl: string
  /** Public key the coordinator's replies must carry; a different one is logged as an error (once). */
  readonly coordinatorKey: string
  /** Default HEARTBEAT_INTERVAL_MS. */
  readonly intervalMs?: number
  /** Default HEARTBEAT_TIMEOUT_MS. */
  readonly timeoutMs?: number
}

/** Collaborators of a Heartbeat. */
export interface HeartbeatComponents {
  readonly identity: Identity
  readonly logger: Logger
  /** Builds the current message (capacity changes between beats); its rejection counts as a failed beat. */
  readonly message: () => Promise<HeartbeatMessage>
  /** Called once when the coordinator says this node has exited the network (`shoal node exit`). */
  readonly onExited?: () => void
}

/** Sends signed heartbeats on a timer until stopped. */
export class Heartbeat {
  readonly #url: string
  readonly #coordinatorKey: string
  readonly #intervalMs: number
  readonly #timeoutMs: number
  readonly #components: HeartbeatComponents
  #timer: NodeJS.Timeout | undefined
  #controller: AbortController | undefined
  #inFlight: Promise<void> | undefined
  /** undefined until the first beat's outcome, then whether the coordinator answered the last one. */
  #reachable: boolean | undefined
  #keyMismatchLogged = false
  #beats = 0

  #exitState: HeartbeatReply['exitState']

  constructor (init: HeartbeatInit, components: HeartbeatComponents) {
    this.#url = `${init.coordinatorUrl}${HEARTBEAT_PATH}`
    this.#coordinatorKey = init.coordinatorKey
    this.#intervalMs = init.intervalMs ?? HEARTBEAT_INTERVAL_MS
    this.#timeoutMs = init.timeoutMs ?? HEARTBEAT_TIMEOUT_MS
    this.#components = components
  }

  /** Whether the last heartbeat was accepted (undefined before the first one completed). */
  get reachable (): boolean | undefined {
    return this.#reachable
  }

  /** Heartbeats accepted by the coordinator since start. */
  get accepted (): number {
    return this.#beats
  }

  /** Sends the first heartbeat now and then every interval. Idempotent; never throws. */
  start (): void {
    if (this.#controller !== undefined) return
    this.#controller = new AbortController()
    this.#tick()
  }

  /** Stops the timer and aborts a heartbeat in flight. Idempotent. */
  async stop (): Promise<void> {
    const controller = this.#controller
    if (controller === undefined) return
    this.#controller = undefined
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    controller.abort()
    await this.#inFlight
  }

  #tick (): void {
    const controller = this.#controller
    if (controller === undefined) return
    // setTimeout after each beat (not setInterval) so a slow coordinator never gets overlapping beats.
    this.#inFlight = this.#beat(controller.signal).finally(() => {
      this.#inFlight = undefined
      if (this.#controller === controller) this.#timer = setTimeout(() => { this.#tick() }, this.#intervalMs)
    })
  }

  async #beat (stop: AbortSignal): Promise<void> {
    const log = this.#components.logger
    try {
      const message = await this.#components.message()
      const body = Buffer.from(JSON.stringify(message))
      const signature = this.#components.identity.sign(body).toString('base64url')
      const res = await httpRequest(this.#url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signature },
        body,
        signal: AbortSignal.any([stop, AbortSignal.timeout(this.#timeoutMs)])
      })
      if (res.status < 200 || res.status > 299) {
        throw new Error(`coordinator answered HTTP ${res.status}: ${res.body.toString('utf8').slice(0, 200)}`)
      }
      this.#checkReply(res.body)
      this.#beats++
      if (this.#reachable !== true) {
        if (this.#reachable === false) log.info('coordinator is reachable again', { url: this.#url })
        else log.info('registered with the coordinator', { url: this.#url })
      }
      this.#reachable = true
    } catch (err) {
      if (stop.aborted) return
      if (this.#reachable !== false) log.warn('coordinator is unreachable; heartbeats keep retrying', { url: this.#url, err })
      this.#reachable = false
    }
  }

  #checkReply (body: Buffer): void {
    let reply: Partial<HeartbeatReply> | undefined
    try {
      reply = JSON.parse(body.toString('utf8')) as Partial<HeartbeatReply>
    } catch {
      return // the reply's content is informative only; acceptance is the 2xx
    }
    if (reply?.exitState !== undefined && reply.exitState !== this.#exitState) {
      this.#exitState = reply.exitState
      if (reply.exitState === 'exiting') this.#components.logger.info('this node is exiting the network: its pieces are being moved elsewhere; keep it running until it has exited')
      if (reply.exitState === 'exited') {
        this.#components.logger.info('this node has exited the network: every piece it held lives elsewhere now')
        this.#components.onExited?.()
      }
    }
    if (typeof reply?.publicKey === 'string' && reply.publicKey !== this.#coordinatorKey && !this.#keyMismatchLogged) {
      this.#keyMismatchLogged = true
      this.#components.logger.error('the coordinator answering heartbeats presents a key this node does not trust; order limits it signs will be refused',
        { coordinatorId: reply.coordinatorId })
    }
  }
}
