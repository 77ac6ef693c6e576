/**
 * The node agent: what a provider runs to hold pieces. NodeAgent is the composition root; the pieces
 * it wires (store, serials, server, heartbeat, coordinator trust) are exported for tests and tools.
 */
export { NodeAgent, validateNodeAgentInit, type NodeAgentInit, type NodeAgentComponents } from './node-agent.js'
export type {
  PieceStore, PieceInfo, PieceReadOptions, PieceReadResult, PieceStoreCapacity, PieceStoreUsage, PieceWriteOptions
} from './piece-store.js'
export {
  FilePieceStore, PIECE_HEADER_BYTES, READ_CHUNK_BYTES, assertPieceHash, assertPieceId,
  type FilePieceStoreComponents, type FilePieceStoreInit
} from './file-piece-store.js'
export { SerialStore, SERIALS_FILE, type SerialStoreComponents, type SerialStoreInit } from './serial-store.js'
export {
  PieceServer, NODE_AGENT_VERSION, HEADERS_TIMEOUT_MS, REQUEST_TIMEOUT_MS, IDLE_TIMEOUT_MS, SHUTDOWN_GRACE_MS,
  MAX_DRAIN_BYTES, statusForError, type NodeInfo, type PieceServerComponents, type PieceServerInit
} from './piece-server.js'
export { Heartbeat, HEARTBEAT_TIMEOUT_MS, type HeartbeatComponents, type HeartbeatInit } from './heartbeat.js'
export {
  resolveCoordinatorKey, readPinnedCoordinator, checkCoordinatorIdentity, COORDINATOR_PIN_FILE,
  type CoordinatorTrustComponents, type CoordinatorTrustInit, type PinnedCoordinator
} from './coordinator-trust.js'
export { httpRequest, MAX_RESPONSE_BYTES, type HttpRequestOptions, type HttpResponse } from './http-client.js'
export * from './errors.js'
export * from './protocol.js'
