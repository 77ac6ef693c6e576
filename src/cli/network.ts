/**
 * The local network contract (DESIGN.md): DIR/network.json describes a running `shoal up`, and every
 * command finds the coordinator through --coordinator, SHOAL_COORDINATOR or that file.
 */
import { readFile, rename, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'

export const DEFAULT_DIR = '.shoal'
export const NETWORK_FILE = 'network.json'

export interface NetworkNode {
  id: string
  url: string
  pid: number
  provider: string
  region: string
  operator: string
  dataDir: string
}

export interface NetworkFile {
  coordinator: { url: string, pid: number }
  s3?: { endpoint: string, accessKeyId: string, secretAccessKey: string, region: string }
  nodes: NetworkNode[]
}

/** A command that needs a network but can't find one. */
export class NoNetworkError extends Error {
  override readonly name = 'NoNetworkError'
}

/** Reads DIR/network.json; undefined when absent. Throws when it exists but is malformed. */
export async function readNetworkFile (dir: string): Promise<NetworkFile | undefined> {
  const file = join(resolve(dir), NETWORK_FILE)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err: any) {
    if (err.code === 'ENOENT') return undefined
    throw err
  }
  const v = JSON.parse(text) as NetworkFile
  if (typeof v?.coordinator?.url !== 'string' || !Array.isArray(v.nodes)) throw new NoNetworkError(`${file} is malformed; stop the network and start it again`)
  return v
}

/** Writes DIR/network.json atomically (readers never see half a file). */
export async function writeNetworkFile (dir: string, network: NetworkFile): Promise<void> {
  const file = join(resolve(dir), NETWORK_FILE)
  const tmp = `${file}.${process.pid}.tmp`
  await writeFile(tmp, JSON.stringify(network, null, 2) + '\n')
  await rename(tmp, file)
}

/** The coordinator URL from the flag, the environment or DIR/network.json. Throws NoNetworkError with what to do. */
export async function findCoordinator (options: { coordinator?: string, dir?: string }): Promise<string> {
  const url = options.coordinator ?? process.env.SHOAL_COORDINATOR
  if (url !== undefined && url !== '') return url.replace(/\/+$/, '')
  const dir = options.dir ?? DEFAULT_DIR
  const network = await readNetworkFile(dir)
  if (network === undefined) {
    throw new NoNetworkError(`no Shoal network found: ${join(resolve(dir), NETWORK_FILE)} does not exist. ` +
      'Start one with `npm start` (or `shoal up`), or point at a coordinator with --coordinator URL or SHOAL_COORDINATOR')
  }
  return network.coordinator.url
}
