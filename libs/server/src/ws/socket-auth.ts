import { type Server, type Socket } from 'socket.io';
import { type Principal } from '../auth/principal';
import { type TokenService } from '../auth/token.service';
import { guardInput } from '../schemas/input-guard';
import { handshakeAuth } from '../schemas/socket.schemas';

interface SocketData {
  principal: Principal;
  /** the client resyncs messages itself (`auth.resync: true`): full states carry no messages */
  resync: boolean;
}

export function principalOf<P extends Principal>(socket: Socket): P {
  return (socket.data as { principal: P }).principal;
}

/** Whether the client asked, in its handshake, to fetch messages itself with `chat.sync`. */
export function wantsResync(socket: Socket): boolean {
  return (socket.data as Partial<SocketData>).resync === true;
}

/**
 * Handshake check: a socket without a valid token of the expected role never connects; the
 * client gets `connect_error` with message "UNAUTHORIZED". A malformed `resync` flag is refused
 * with "VALIDATION_FAILED" (the flag changes what the client is sent, so it is not guessed), and
 * so is an `auth` object the input guard refuses (`onRefused` is told, for the metric).
 */
export function requireRole(
  server: Server,
  tokens: TokenService,
  role: Principal['role'],
  onRefused?: () => void,
): void {
  server.use((socket, next) => {
    const auth = socket.handshake.auth as { token?: unknown } | undefined;
    const principal = tokens.verify(auth?.token);
    if (principal?.role !== role) {
      next(new Error('UNAUTHORIZED'));
      return;
    }
    try {
      guardInput(auth);
    } catch {
      onRefused?.();
      next(new Error('VALIDATION_FAILED'));
      return;
    }
    const parsed = handshakeAuth.safeParse(auth);
    if (!parsed.success) {
      next(new Error('VALIDATION_FAILED'));
      return;
    }
    const data = socket.data as SocketData;
    data.principal = principal;
    data.resync = parsed.data.resync === true;
    next();
  });
}
