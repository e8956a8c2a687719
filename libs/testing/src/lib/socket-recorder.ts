import { io, type Socket } from 'socket.io-client';
import { waitFor } from './wait-for';

export interface RecordedEvent {
  readonly event: string;
  readonly payload: unknown;
}

/**
 * A socket.io client that records every event it receives, for tests: `next(event, predicate)`
 * waits for a matching event (already received or still to come), `count` tells how many arrived.
 */
export class SocketRecorder {
  readonly events: RecordedEvent[] = [];

  private constructor(readonly socket: Socket) {
    socket.onAny((event: string, payload: unknown) => {
      this.events.push({ event, payload });
    });
  }

  /** Connects and resolves once connected; rejects with the server's `connect_error` message. */
  static async connect(
    url: string,
    path: string,
    token: string | undefined,
    options: {
      timeoutMs?: number;
      query?: Record<string, string>;
      /** handshake headers (Node's websocket transport), e.g. `x-forwarded-for` */
      headers?: Record<string, string>;
    } = {},
  ): Promise<SocketRecorder> {
    const socket = io(url, {
      path,
      ...(options.query ? { query: options.query } : {}),
      ...(options.headers ? { extraHeaders: options.headers } : {}),
      auth: token === undefined ? {} : { token },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      timeout: options.timeoutMs ?? 5000,
    });
    const recorder = new SocketRecorder(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', (error: Error) => {
        socket.close();
        reject(error);
      });
    });
    return recorder;
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  /** Payloads received so far for `event`. */
  all<T = unknown>(event: string): T[] {
    return this.events.filter((e) => e.event === event).map((e) => e.payload as T);
  }

  count(event: string, predicate: (payload: unknown) => boolean = () => true): number {
    return this.events.filter((e) => e.event === event && predicate(e.payload)).length;
  }

  /** The first received `event` payload matching `predicate`, waiting up to `timeoutMs`. */
  next<T = unknown>(
    event: string,
    predicate: (payload: T) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<T> {
    return waitFor(
      () => {
        const found = this.events.find((e) => e.event === event && predicate(e.payload as T));
        return found ? { value: found.payload as T } : undefined;
      },
      { timeoutMs, intervalMs: 10, description: `socket event "${event}"` },
    ).then((box) => (box as { value: T }).value);
  }

  /** Emits with an acknowledgement and returns the server's reply. */
  request<T = unknown>(event: string, payload?: unknown, timeoutMs = 10_000): Promise<T> {
    const socket = this.socket.timeout(timeoutMs);
    return (
      payload === undefined ? socket.emitWithAck(event) : socket.emitWithAck(event, payload)
    ) as Promise<T>;
  }

  /**
   * Emits `event` with a payload given as JSON text, straight onto the engine.io socket, and
   * resolves with the ack. socket.io-client itself cannot send, say, a 10 000-deep payload: it
   * walks and stringifies it recursively, and overflows the sender's own stack first.
   */
  requestRaw<T = unknown>(event: string, payloadJson: string, timeoutMs = 10_000): Promise<T> {
    const engine = this.socket.io.engine;
    const id = (rawAckId += 1);
    const prefix = `3${id}[`;
    return new Promise<T>((resolve, reject) => {
      const onPacket = (packet: { type: string; data?: unknown }): void => {
        if (packet.type !== 'message' || typeof packet.data !== 'string') return;
        if (!packet.data.startsWith(prefix)) return;
        clearTimeout(timer);
        engine.off('packet', onPacket);
        resolve((JSON.parse(packet.data.slice(prefix.length - 1)) as T[])[0] as T);
      };
      const timer = setTimeout(() => {
        engine.off('packet', onPacket);
        reject(new Error(`no ack for "${event}" within ${timeoutMs} ms`));
      }, timeoutMs);
      engine.on('packet', onPacket);
      engine.write(`2${id}[${JSON.stringify(event)},${payloadJson}]`);
    });
  }

  close(): void {
    this.socket.close();
  }
}

/** Ack ids of raw requests, far above the ones socket.io-client hands out itself. */
let rawAckId = 900_000;
