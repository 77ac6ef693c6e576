/**
 * Which coordinator this node obeys. Order limits are only as trustworthy as the key that verifies
 * them, so the node must know its coordinator's public key: configured (`coordinatorKey`), or learned
 * once from `${coordinatorUrl}${IDENTITY_PATH}` and pinned in `<dataDir>/coordinator.json` (trust on
 * first use, like SSH's known_hosts). A coordinator that later presents another key is refused until
 * an operator deletes the pin.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { idFromPublicKey, parsePublicKey } from '../crypto/identity.js'
import type { Logger } from '../util/logger.js'
import { CoordinatorTrustError } from './errors.js'
import { httpRequest } from './http-client.js'
import { IDENTITY_PATH, type CoordinatorIdentity } from './protocol.js'

/** File in the data directory that pins the coordinator's identity. */
export const COORDINATOR_PIN_FILE = 'coordinator.json'
/** First retry delay while waiting for the coordinator to come up: short, as `shoal up` starts it first. */
export const TRUST_RETRY_INITIAL_MS = 100
/** Longest delay between retries: keeps a node that started first joining within seconds. */
export const TRUST_RETRY_MAX_MS = 5_000
/** Time allowed for one identity request; the coordinator answers from memory. */
export const TRUST_REQUEST_TIMEOUT_MS = 5_000

/** Settings of resolveCoordinatorKey. */
export interface CoordinatorTrustInit {
  readonly dataDir: string
  readonly coordinatorUrl: string
  /** A key configured by the operator; used as is, never pinned, when given. */
  readonly coordinatorKey?: string
}

/** Collaborators of resolveCoordinatorKey. */
export interface CoordinatorTrustComponents {
  readonly logger: Logger
}

/** A pinned coordinator identity, as stored in coordinator.json. */
export interface PinnedCoordinator extends CoordinatorIdentity {
  readonly url: string
  readonly pinnedAt: string
}

/**
 * Parses and checks an identity document: `publicKey` must be an ed25519 key and `id` must derive from
 * it. Throws CoordinatorTrustError otherwise.
 */
export function checkCoordinatorIdentity (value: unknown, from: string): CoordinatorIdentity {
  const doc = value as Partial<CoordinatorIdentity> | null
  if (typeof doc !== 'object' || doc === null || typeof doc.id !== 'string' || typeof doc.publicKey !== 'string') {
    throw new CoordinatorTrustError(`${from} is not a coordinator identity ({ id, publicKey })`)
  }
  try {
    parsePublicKey(doc.publicKey)
  } catch (err) {
    throw new CoordinatorTrustError(`${from} presents a public key that is not an ed25519 key`, { cause: err })
  }
  if (idFromPublicKey(doc.publicKey) !== doc.id) {
    throw new CoordinatorTrustError(`${from} claims id ${doc.id}, which does not derive from its public key`)
  }
  return { id: doc.id, publicKey: doc.publicKey }
}

/** The message telling an operator how to accept a coordinator's new key. */
export function repinAdvice (pinFile: string): string {
  return `if the coordinator's key was rotated on purpose, delete ${pinFile} and restart the node to trust the new key`
}

/** Reads the pin, or undefined when there is none; throws CoordinatorTrustError when it is damaged. */
export async function readPinnedCoordinator (dataDir: string): Promise<PinnedCoordinator | undefined> {
  const file = join(dataDir, COORDINATOR_PIN_FILE)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err: any) {
    if (err.code === 'ENOENT') return undefined
    throw err
  }
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (err) {
    throw new CoordinatorTrustError(`${file} is not valid JSON; delete it to pin the coordinator again`, { cause: err })
  }
  const identity = checkCoordinatorIdentity(doc, file)
  const { url, pinnedAt } = doc as Partial<PinnedCoordinator>
  return { ...identity, url: String(url ?? ''), pinnedAt: String(pinnedAt ?? '') }
}

async function fetchIdentity (coordinatorUrl: string, signal: AbortSignal): Promise<CoordinatorIdentity> {
  const url = `${coordinatorUrl}${IDENTITY_PATH}`
  const res = await httpRequest(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(TRUST_REQUEST_TIMEOUT_MS)]) })
  if (res.status !== 200) throw new Error(`${url} answered HTTP ${res.status}`)
  let doc: unknown
  try {
    doc = JSON.parse(res.body.toString('utf8'))
  } catch (err) {
    throw new CoordinatorTrustError(`${url} did not answer JSON`, { cause: err })
  }
  return checkCoordinatorIdentity(doc, url)
}

async function sleep (ms: number, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * Returns the public key (SPKI DER base64) of the coordinator this node trusts:
 * - the configured `coordinatorKey` (CoordinatorTrustError when it is not an ed25519 key);
 * - else the pinned key; the coordinator is asked once, and if it answers with another key this throws
 *   CoordinatorTrustError saying how to re-pin (an unreachable coordinator is not an error here);
 * - else the key fetched from the coordinator, retried with backoff until it answers, then pinned.
 * Rejects with the signal's reason when aborted, and with CoordinatorTrustError when the coordinator's
 * identity document is inconsistent (that is not retried: it would not fix itself).
 */
export async function resolveCoordinatorKey (
  init: CoordinatorTrustInit,
  components: CoordinatorTrustComponents,
  options: { readonly signal?: AbortSignal } = {}
): Promise<string> {
  const log = components.logger
  const signal = options.signal ?? new AbortController().signal
  if (init.coordinatorKey !== undefined) {
    checkCoordinatorIdentity({ id: safeId(init.coordinatorKey), publicKey: init.coordinatorKey }, 'the configured coordinatorKey')
    return init.coordinatorKey
  }
  const pinFile = join(init.dataDir, COORDINATOR_PIN_FILE)
  const pinned = await readPinnedCoordinator(init.dataDir)
  if (pinned !== undefined) {
    let presented: CoordinatorIdentity | undefined
    try {
      presented = await fetchIdentity(init.coordinatorUrl, signal)
    } catch (err) {
      signal.throwIfAborted()
      if (err instanceof CoordinatorTrustError) throw err
      log.info('coordinator not reachable; using the pinned key', { coordinatorId: pinned.id, err })
    }
    if (presented !== undefined && presented.publicKey !== pinned.publicKey) {
      throw new CoordinatorTrustError(
        `the coordinator at ${init.coordinatorUrl} presents key ${presented.id}, but this node pinned ${pinned.id}; refusing it. ${repinAdvice(pinFile)}`)
    }
    return pinned.publicKey
  }
  let delay = TRUST_RETRY_INITIAL_MS
  for (let attempt = 1; ; attempt++) {
    try {
      const identity = await fetchIdentity(init.coordinatorUrl, signal)
      await mkdir(init.dataDir, { recursive: true })
      const pin: PinnedCoordinator = { ...identity, url: init.coordinatorUrl, pinnedAt: new Date().toISOString() }
      const tmp = `${pinFile}.tmp`
      await writeFile(tmp, JSON.stringify(pin, null, 2) + '\n', { mode: 0o600, flush: true })
      await rename(tmp, pinFile)
      log.info('trusting the coordinator on first use; its key is pinned', { coordinatorId: identity.id, url: init.coordinatorUrl, pinFile })
      return identity.publicKey
    } catch (err) {
      signal.throwIfAborted()
      if (err instanceof CoordinatorTrustError) throw err
      if (attempt === 1 || delay === TRUST_RETRY_MAX_MS) {
        log.info('waiting for the coordinator to learn its key', { url: init.coordinatorUrl, retryInMs: delay, err })
      }
      await sleep(delay, signal)
      delay = Math.min(delay * 2, TRUST_RETRY_MAX_MS)
    }
  }
}

function safeId (publicKey: string): string {
  try {
    return idFromPublicKey(publicKey)
  } catch {
    return ''
  }
}
