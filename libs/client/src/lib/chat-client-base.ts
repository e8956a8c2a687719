import { io, type Socket } from 'socket.io-client';
import { backoffDelay } from './backoff';
import { Emitter, type ListenerMap } from './emitter';
import { ChatClientError } from './errors';
import { Outbox, type PendingMessage } from './outbox';
import { isAck, type MessageView } from './protocol';

/** How to reach a node (or nginx) and how patient to be. */
export interface ClientOptions {
  /** `http(s)://host:port` of the node or of nginx in front of the cluster */
  baseUrl: string;
  /** the operator token from `POST /l/o/login`, or the visitor token from `POST /l/v/chats` */
  token: string;
  /** added to every handshake and polling request, e.g. `{ site }` for nginx's site hashing */
  query?: Record<string, string>;
  /** first delay before reconnecting or retrying; default 500 ms */
  reconnectDelayMs?: number;
  /** the delays double up to this; default 5000 ms */
  reconnectDelayMaxMs?: number;
  /** how long to wait for an acknowledgement before the outcome counts as unknown; default 10 s */
  ackTimeoutMs?: number;
  /** socket.io transports; default socket.io's own (long-polling, then upgrade to WebSocket) */
  transports?: ('websocket' | 'polling')[];
  /** how long one connection attempt may take; default 10 s */
  connectTimeoutMs?: number;
  /** the socket.io path; default `/ws/v/chat` (visitor) or `/ws/o/delta` (operator) */
  path?: string;
}

export interface ConnectedInfo {
  /** false for the first connection, true for every reconnection */
  reconnect: boolean;
}

export interface DisconnectedInfo {
  /** socket.io's reason: `transport close`, `ping timeout`, `io server disconnect`, ... */
  reason: string;
  /** false once the client was closed or refused for good */
  willReconnect: boolean;
}

/** What one resync brought: after every connection, once the server's state is merged. */
export interface ResyncedInfo {
  reconnect: boolean;
  /** chats resynced (1 for a visitor) */
  chats: number;
  /** messages the server sent in its `chat.sync` answers */
  received: number;
  /** of those, messages the client did not hold yet */
  added: number;
  /** chats the server answered with every message (`from: 'start'`) rather than a suffix */
  fromStart: number;
  /** messages still waiting for their acknowledgement; they are re-sent now, in order */
  pending: number;
}

export interface BaseClientEvents extends ListenerMap {
  connected: (info: ConnectedInfo) => void;
  disconnected: (info: DisconnectedInfo) => void;
  resynced: (info: ResyncedInfo) => void;
  /** the client stopped for good: the token was refused, the chat is gone, ... */
  error: (error: ChatClientError) => void;
}

type RequestResult<T> =
  | { kind: 'ok'; data: T }
  | { kind: 'error'; error: ChatClientError }
  | { kind: 'unknown'; error: ChatClientError };

interface Settings {
  reconnectDelayMs: number;
  reconnectDelayMaxMs: number;
  ackTimeoutMs: number;
  connectTimeoutMs: number;
}

const closedError = (): ChatClientError => new ChatClientError('CLOSED', 'the client was closed');

/**
 * What both clients share: one socket.io connection that reconnects by itself, a resync after
 * every connection (the subclass merges the server's state and asks for what it lacks, then calls
 * `markReady`), and an outbox of unacknowledged messages re-sent in order after each resync.
 */
export abstract class ChatClientBase<M extends BaseClientEvents, P extends PendingMessage> {
  protected readonly emitter = new Emitter<M>();
  protected readonly outbox = new Outbox<P, MessageView>();
  protected readonly settings: Settings;
  private socket: Socket | null = null;
  /** connections so far; each one must resync before messages flow */
  private connections = 0;
  private readyConnection = 0;
  private closed = false;
  private failure: ChatClientError | null = null;
  private flushing = false;
  private firstReady: Promise<void> | null = null;
  private readonly waiters = new Set<{ resolve(): void; reject(error: unknown): void }>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private readonly wakeups = new Set<() => void>();

  protected constructor(
    private readonly options: ClientOptions,
    private readonly path: string,
  ) {
    this.settings = {
      reconnectDelayMs: options.reconnectDelayMs ?? 500,
      reconnectDelayMaxMs: options.reconnectDelayMaxMs ?? 5000,
      ackTimeoutMs: options.ackTimeoutMs ?? 10_000,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    };
  }

  /** Adds a listener; returns the function that removes it. */
  on<E extends keyof M>(event: E, listener: M[E]): () => void {
    return this.emitter.on(event, listener);
  }

  /** True while connected and resynced: messages and requests flow. */
  get ready(): boolean {
    return this.isReady();
  }

  /**
   * Opens the connection. Resolves once the server's state is merged and resynced the first time;
   * waits through failed attempts (the client keeps retrying); rejects when the server refuses the
   * client for good (`UNAUTHORIZED`, `CHAT_NOT_FOUND`) or `close()` is called first.
   */
  connect(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(closedError());
    if (!this.firstReady) {
      this.firstReady = this.whenReady();
      this.open();
    }
    return this.firstReady;
  }

  /** Closes the socket and stops reconnecting; unacknowledged messages are rejected (`CLOSED`). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stop(closedError());
  }

  /** The pending messages, oldest first. */
  protected pendingItems(): P[] {
    return this.outbox.items();
  }

  /** Listens to the channel's own server events on a new socket. */
  protected abstract bind(socket: Socket): void;

  /** The `message.send` payload of a pending message. */
  protected abstract sendPayload(item: P): unknown;

  /** The server acknowledged `item` with `message`: merge it into the known messages. */
  protected abstract accept(item: P, message: MessageView): void;

  /** The current connection's number, to tell a stale resync from the current one. */
  protected get connection(): number {
    return this.connections;
  }

  protected isCurrent(connection: number): boolean {
    return (
      connection === this.connections &&
      this.socket?.connected === true &&
      !this.closed &&
      this.failure === null
    );
  }

  protected isReady(): boolean {
    return this.readyConnection === this.connections && this.isCurrent(this.connections);
  }

  /** Queues a message; it is sent (and re-sent) in order until acknowledged or refused. */
  protected enqueue(item: P): Promise<MessageView> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(closedError());
    const promise = this.outbox.add(item);
    void this.flush();
    return promise;
  }

  /** The subclass merged the server's state for `connection`: let requests and messages flow. */
  protected markReady(connection: number, info: Omit<ResyncedInfo, 'reconnect' | 'pending'>): void {
    if (!this.isCurrent(connection)) return;
    this.readyConnection = connection;
    this.emitter.emit(
      'resynced',
      ...([{ ...info, reconnect: connection > 1, pending: this.outbox.size }] as Parameters<
        M['resynced']
      >),
    );
    for (const waiter of [...this.waiters]) waiter.resolve();
    this.waiters.clear();
    void this.flush();
  }

  /** Stops the client for good after a refusal from the server. */
  protected fail(error: ChatClientError): void {
    if (this.closed || this.failure) return;
    this.failure = error;
    this.emitter.emit('error', ...([error] as Parameters<M['error']>));
    this.stop(error);
  }

  /** One request with an acknowledgement time-out; never throws. */
  protected async request<T>(event: string, payload: unknown): Promise<RequestResult<T>> {
    const socket = this.socket;
    if (!socket?.connected) {
      return { kind: 'unknown', error: new ChatClientError('DISCONNECTED', 'not connected') };
    }
    let reply: unknown;
    try {
      reply = await socket.timeout(this.settings.ackTimeoutMs).emitWithAck(event, payload);
    } catch {
      return socket.connected
        ? {
            kind: 'unknown',
            error: new ChatClientError('TIMEOUT', `no answer to ${event} in time`),
          }
        : {
            kind: 'unknown',
            error: new ChatClientError('DISCONNECTED', `disconnected before ${event} was answered`),
          };
    }
    if (!isAck(reply)) {
      return { kind: 'error', error: new ChatClientError('PROTOCOL', `bad answer to ${event}`) };
    }
    if (reply.ok) return { kind: 'ok', data: reply.data as T };
    const { code, message, details } = reply.error;
    return { kind: 'error', error: new ChatClientError(code, message, details) };
  }

  /**
   * A request on behalf of a resync of `connection`: retried after time-outs and transient errors
   * while that connection lasts. Null when the connection ended (the next one resyncs again).
   */
  protected async resyncRequest<T>(
    connection: number,
    event: string,
    payload: () => unknown,
  ): Promise<{ ok: true; data: T } | { ok: false; error: ChatClientError } | null> {
    for (let attempt = 1; ; attempt += 1) {
      if (!this.isCurrent(connection)) return null;
      const result = await this.request<T>(event, payload());
      if (result.kind === 'ok') return { ok: true, data: result.data };
      if (result.kind === 'error' && !result.error.transient)
        return { ok: false, error: result.error };
      await this.pause(this.retryDelay(attempt));
    }
  }

  /**
   * A one-off request (typing, take, close, ...): waits until the client is ready, retries
   * transient error replies a few times, and rejects with the error otherwise. An unknown outcome
   * (`TIMEOUT`, `DISCONNECTED`) is not retried: unlike messages, these requests carry no key the
   * server could deduplicate by.
   */
  protected async call<T>(event: string, payload: unknown, attempts = 3): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      await this.whenReady();
      const result = await this.request<T>(event, payload);
      if (result.kind === 'ok') return result.data;
      if (result.kind === 'error' && result.error.transient && attempt < attempts) {
        await this.pause(this.retryDelay(attempt));
        continue;
      }
      throw result.error;
    }
  }

  /** Resolves when the client is ready; rejects if it is closed or refused first. */
  protected whenReady(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(closedError());
    if (this.isReady()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => this.waiters.add({ resolve, reject }));
  }

  private retryDelay(attempt: number): number {
    return backoffDelay(attempt, this.settings.reconnectDelayMs, this.settings.reconnectDelayMaxMs);
  }

  private open(): void {
    const socket = io(this.options.baseUrl, {
      path: this.path,
      ...(this.options.query ? { query: this.options.query } : {}),
      ...(this.options.transports ? { transports: this.options.transports } : {}),
      // resync: chats come without messages; the client asks for what it lacks with chat.sync.
      auth: { token: this.options.token, resync: true },
      forceNew: true,
      autoConnect: false,
      reconnection: true,
      reconnectionDelay: this.settings.reconnectDelayMs,
      reconnectionDelayMax: this.settings.reconnectDelayMaxMs,
      timeout: this.settings.connectTimeoutMs,
    });
    this.socket = socket;
    socket.on('connect', () => {
      this.connections += 1;
      this.emitter.emit(
        'connected',
        ...([{ reconnect: this.connections > 1 }] as Parameters<M['connected']>),
      );
    });
    socket.on('disconnect', (reason: string) => this.onDisconnect(socket, reason));
    socket.on('connect_error', (error: Error) => {
      // A refusal by the server's handshake check ends the socket (`active` false); a network
      // error leaves it active and socket.io tries again.
      if (!socket.active) this.fail(new ChatClientError(error.message, 'connection refused'));
    });
    socket.on('request.error', (body: unknown) => {
      const { code, message } = (body ?? {}) as { code?: unknown; message?: unknown };
      this.fail(
        new ChatClientError(
          typeof code === 'string' ? code : 'UNAUTHORIZED',
          typeof message === 'string' ? message : 'refused by the server',
        ),
      );
    });
    this.bind(socket);
    socket.connect();
  }

  private onDisconnect(socket: Socket, reason: string): void {
    const willReconnect = !this.closed && this.failure === null;
    this.emitter.emit(
      'disconnected',
      ...([{ reason, willReconnect }] as Parameters<M['disconnected']>),
    );
    // socket.io reconnects by itself after a network loss, not after the server closed the socket
    // (a node shutting down, a kicked session): that one is ours to retry.
    if (willReconnect && reason === 'io server disconnect') {
      this.later(() => {
        if (!this.closed && this.failure === null && !socket.connected) socket.connect();
      }, this.retryDelay(1));
    }
  }

  /** Sends the outbox, oldest first, one at a time, while the client is ready. */
  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      let failures = 0;
      for (;;) {
        const item = this.outbox.head();
        if (!item || !this.isReady()) return;
        const result = await this.request<MessageView>('message.send', this.sendPayload(item));
        if (result.kind === 'ok') {
          failures = 0;
          this.accept(item, result.data);
          this.outbox.confirm(item, result.data);
          continue;
        }
        if (result.kind === 'error' && !result.error.transient) {
          failures = 0;
          this.outbox.refuse(item, result.error);
          continue;
        }
        // The connection dropped: the next resync flushes again (this loop stops at its head).
        if (result.error.code === 'DISCONNECTED') continue;
        // A time-out or a transient error: keep it, and send it again (the server deduplicates).
        failures += 1;
        await this.pause(this.retryDelay(failures));
      }
    } finally {
      this.flushing = false;
    }
  }

  private stop(error: ChatClientError): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const wake of [...this.wakeups]) wake();
    this.wakeups.clear();
    for (const waiter of [...this.waiters]) waiter.reject(error);
    this.waiters.clear();
    this.outbox.refuseAll(error);
    this.socket?.disconnect();
  }

  private later(run: () => void, ms: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    this.timers.add(timer);
  }

  /** Waits `ms`, or less if the client stops meanwhile. */
  private pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = (): void => {
        this.wakeups.delete(wake);
        resolve();
      };
      this.wakeups.add(wake);
      this.later(wake, ms);
    });
  }
}
