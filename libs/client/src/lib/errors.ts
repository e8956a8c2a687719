/**
 * Error replies that say "try again": the server changed nothing and may succeed later
 * (`RATE_LIMITED`: over a per-client limit, room comes back within the window).
 */
export const TRANSIENT_ERROR_CODES: readonly string[] = ['UNAVAILABLE', 'INTERNAL', 'RATE_LIMITED'];

/**
 * Codes the client itself uses, next to the server's (docs/protocol.md, "Error codes"):
 * - `TIMEOUT`: no acknowledgement within `ackTimeoutMs`; the request may or may not have run;
 * - `DISCONNECTED`: the connection dropped before the acknowledgement; same uncertainty;
 * - `CLOSED`: `close()` was called;
 * - `PROTOCOL`: the server answered something that is not an acknowledgement.
 */
export type ClientErrorCode = 'TIMEOUT' | 'DISCONNECTED' | 'CLOSED' | 'PROTOCOL';

/** A failed request, a refused connection or a closed client. */
export class ChatClientError extends Error {
  constructor(
    /** a server error code (`CHAT_CLOSED`, `UNAUTHORIZED`, ...) or a `ClientErrorCode` */
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ChatClientError';
  }

  /** True for errors after which the same request may succeed (the client retries messages). */
  get transient(): boolean {
    return TRANSIENT_ERROR_CODES.includes(this.code);
  }
}
