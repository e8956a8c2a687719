import { type Server, type Socket } from 'socket.io';
import { type Principal } from '../auth/principal';
import { type TokenService } from '../auth/token.service';

export function principalOf<P extends Principal>(socket: Socket): P {
  return (socket.data as { principal: P }).principal;
}

/**
 * Handshake check: a socket without a valid token of the expected role never connects; the
 * client gets `connect_error` with message "UNAUTHORIZED".
 */
export function requireRole(server: Server, tokens: TokenService, role: Principal['role']): void {
  server.use((socket, next) => {
    const auth = socket.handshake.auth as { token?: unknown } | undefined;
    const principal = tokens.verify(auth?.token);
    if (principal?.role !== role) {
      next(new Error('UNAUTHORIZED'));
      return;
    }
    (socket.data as { principal: Principal }).principal = principal;
    next();
  });
}
