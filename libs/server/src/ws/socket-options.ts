export const MAX_PAYLOAD_BYTES = Symbol('MAX_PAYLOAD_BYTES');

/**
 * Shared by both socket.io servers. Two servers share one HTTP server on different paths, so
 * neither may destroy upgrade requests meant for the other (`destroyUpgrade: false`). The engine's
 * own limit is far above the per-event limit on purpose: engine.io drops the connection on an
 * oversized packet, while the per-event check answers with PAYLOAD_TOO_LARGE and keeps it.
 */
export const SOCKET_SERVER_OPTIONS = {
  serveClient: false,
  destroyUpgrade: false,
  maxHttpBufferSize: 1_000_000,
  pingInterval: 25_000,
  pingTimeout: 20_000,
  cors: { origin: true, credentials: true },
} as const;
