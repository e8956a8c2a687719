import { type Server, type Socket } from 'socket.io';
import { type ApiErrorBody } from '../use-cases/api-error';
import { type SocketReply } from '../ws/socket-reply';
import { type ClientLimits, isRefusal, type Refusal, refusalBody } from './client-limits';

/** The handshake refusal: `connect_error` with message `RATE_LIMITED` and the error as `data`. */
export class HandshakeRefusedError extends Error {
  readonly data: ApiErrorBody;

  constructor(refusal: Refusal) {
    super('RATE_LIMITED');
    this.name = 'HandshakeRefusedError';
    this.data = refusalBody(refusal);
  }
}

/** The client key the socket was counted on (set at the handshake). */
export function clientKeyOf(socket: Socket): string | undefined {
  return (socket.data as { clientKey?: string }).clientKey;
}

/**
 * The per-client limits of a socket.io server, as its last handshake middleware (after the
 * token check, so unauthenticated handshakes are refused before they count):
 * - the connection count of the client's IP (both channels share it): over the budget the
 *   handshake is refused with `connect_error` "RATE_LIMITED"; a disconnect gives it back;
 * - every event of the socket, before any handler sees it (socket.io's per-socket middleware):
 *   the socket's own budget, then its IP's. Over either, the event is answered
 *   `{ ok: false, error: { code: 'RATE_LIMITED', message, details: { limit, retryAfterMs } } }`
 *   (when it asked for an ack) and dropped: no use case runs, the connection stays up. Events
 *   pass the limiter one at a time, in the order they came.
 *
 * Keep it the last `server.use`: a middleware after it that refuses the handshake would leave
 * the connection counted until the counter expires.
 */
export function limitSockets(server: Server, limits: ClientLimits): void {
  server.use((socket, next) => {
    const key = limits.clientKey(socket.request);
    (socket.data as { clientKey?: string }).clientKey = key;
    limits.acquireConnection(key).then(
      (lease) => {
        if (isRefusal(lease)) {
          next(new HandshakeRefusedError(lease));
          return;
        }
        // Gone during the count: socket.io drops such a socket without a 'disconnect'.
        if (socket.conn.readyState !== 'open') {
          void lease.release();
          next();
          return;
        }
        socket.once('disconnect', () => void lease.release());
        limitEvents(socket, limits, key);
        next();
      },
      () => next(),
    );
  });
}

function limitEvents(socket: Socket, limits: ClientLimits, key: string): void {
  if (!limits.enabled('socketEvents') && !limits.enabled('ipEvents')) return;
  let queue: Promise<void> = Promise.resolve();
  socket.use((packet, next) => {
    let passed = false;
    const pass = (): void => {
      if (passed) return;
      passed = true;
      next();
    };
    queue = queue
      .then(async () => {
        const refusal =
          (await limits.consume('socketEvents', socket.id)) ??
          (await limits.consume('ipEvents', key));
        if (!refusal) {
          pass();
          return;
        }
        passed = true;
        const ack: unknown = packet[packet.length - 1];
        if (typeof ack === 'function') {
          const reply: SocketReply<never> = { ok: false, error: refusalBody(refusal) };
          (ack as (reply: unknown) => void)(reply);
        }
      })
      // The limiter never throws (it fails open); should anything else, let the event through.
      .catch(pass);
  });
}
