import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { type ChannelModel, type RecoveringChannelModel, connect } from 'amqplib';
import { errorText } from './rabbitmq-support';

/** Where a RabbitMQ driver reports problems it recovers from on its own (it never throws them). */
export type RabbitMqErrorReporter = (error: unknown, context: string) => void;

export interface RabbitMqConnectionOptions {
  /**
   * `amqp://user:password@host:port/vhost` or `amqps://...` (TLS). Query parameters understood by
   * amqplib (`heartbeat`, `frameMax`, ...) are kept; a missing `heartbeat` gets `heartbeatSeconds`.
   */
  readonly url: string;
  /** Shown by the broker's management tools (`connection_name`). Default: "chat". */
  readonly connectionName?: string;
  /** AMQP heartbeat, so a dead peer is noticed without TCP time-outs. Default 10 s. */
  readonly heartbeatSeconds?: number;
  /** First reconnect delay; doubled per failed attempt (with ±20 % jitter). Default 100 ms. */
  readonly reconnectInitialDelayMs?: number;
  /** Cap of the reconnect delay. Default 10 s. */
  readonly reconnectMaxDelayMs?: number;
  /**
   * Failed attempts retried before {@link RabbitMqConnection.start} gives up and rejects (a node
   * that cannot reach its broker at start should fail loudly). Once connected, reconnection
   * retries for ever. Default 3.
   */
  readonly initialConnectRetries?: number;
  /** Extra TLS settings (`ca`, `cert`, `key`, `servername`, ...) for `amqps://` URLs. */
  readonly tls?: TlsConnectionOptions;
  /** Receives connection losses, failed reconnects and failing listeners. Default: console.error. */
  readonly onError?: RabbitMqErrorReporter;
}

/**
 * Something that owns channels on the connection: a bus, a work queue, a consumer. Its `setup`
 * runs on every (re)connect, before the connection reports itself connected, and must (re)declare
 * what it needs and (re)attach its consumers; `disconnected` tells it that its channels are gone.
 */
export interface RabbitMqParticipant {
  setup(model: ChannelModel): Promise<void>;
  disconnected(): void;
}

/** The rejection reason of a publish attempted while the broker connection is down. */
export class RabbitMqNotConnectedError extends Error {
  constructor(what: string) {
    super(`RabbitMQ is not connected; ${what}`);
    this.name = 'RabbitMqNotConnectedError';
  }
}

const defaultOnError: RabbitMqErrorReporter = (error, context) => {
  console.error(`RabbitMQ: ${context}`, error);
};

const noop = (): void => undefined;

/**
 * The one broker connection of a node, shared by its bus and work queue.
 *
 * - Connects with `noDelay: true` (amqplib enables Nagle otherwise: ~11 ms per publish), an AMQP
 *   heartbeat, and TLS for `amqps://` URLs.
 * - Reconnects automatically after any loss with capped exponential backoff and jitter (amqplib's
 *   own connection recovery). After every (re)connect it runs each participant's `setup`, which
 *   re-declares exchanges, queues and bindings and re-attaches consumers; only then does
 *   {@link connected} turn true again and the {@link onReconnected} listeners run.
 * - A node must catch up after {@link onReconnected}: exclusive queues vanished with the old
 *   connection, and whatever was published to them meanwhile is lost.
 * - A participant whose channel dies while the connection lives calls {@link reset}, which drops
 *   the whole connection so that everything is rebuilt the same way.
 */
export class RabbitMqConnection {
  private readonly options: RabbitMqConnectionOptions;
  private readonly onError: RabbitMqErrorReporter;
  private readonly participants: RabbitMqParticipant[] = [];
  private readonly reconnectedListeners = new Set<() => void>();
  private readonly connectionListeners = new Set<(connected: boolean) => void>();
  private recovering: RecoveringChannelModel | undefined;
  private starting: Promise<void> | undefined;
  private model: ChannelModel | undefined;
  /** The connection whose participants are being set up (not yet {@link connected}). */
  private settingUp: ChannelModel | undefined;
  private everConnected = false;
  private closing = false;

  constructor(options: RabbitMqConnectionOptions) {
    this.options = options;
    this.onError = options.onError ?? defaultOnError;
    // Fail on a malformed URL here, not on the first connect attempt.
    withHeartbeat(options.url, options.heartbeatSeconds ?? 10);
  }

  /** The URL without its password, for messages and logs. */
  get displayUrl(): string {
    return redactUrl(this.options.url);
  }

  /** True while a connection is open and every participant's setup has run on it. */
  get connected(): boolean {
    return this.model !== undefined;
  }

  /**
   * Connects (the first connection, with `initialConnectRetries` retries) and keeps reconnecting
   * until {@link close}. Idempotent: concurrent and later calls share the first call's promise.
   */
  start(): Promise<void> {
    if (this.closing) {
      return Promise.reject(new Error(`RabbitMQ connection to ${this.displayUrl} was closed`));
    }
    this.starting ??= this.open().catch((error: unknown) => {
      this.starting = undefined;
      throw error;
    });
    return this.starting;
  }

  /** Closes the connection for good (no reconnect). Idempotent. */
  async close(): Promise<void> {
    this.closing = true;
    const recovering = this.recovering;
    this.recovering = undefined;
    if (recovering) {
      await recovering.close().catch(noop);
    }
    await this.starting?.catch(noop);
    this.lost();
  }

  /**
   * Adds a participant. When the connection is up, its setup runs at once (and a failure is
   * rethrown, the participant removed); otherwise it runs on the next connect.
   */
  async attach(participant: RabbitMqParticipant): Promise<void> {
    if (!this.participants.includes(participant)) {
      this.participants.push(participant);
    }
    const model = this.model;
    if (model) {
      try {
        await participant.setup(model);
      } catch (error) {
        this.detach(participant);
        participant.disconnected();
        throw error;
      }
    }
  }

  /** Removes a participant: its setup no longer runs on reconnects. */
  detach(participant: RabbitMqParticipant): void {
    const index = this.participants.indexOf(participant);
    if (index >= 0) {
      this.participants.splice(index, 1);
    }
  }

  /**
   * Drops `model` (if it is still open) so that the connection is rebuilt from scratch: used when
   * a channel or consumer died while the connection lived on.
   */
  reset(model: ChannelModel, reason: unknown): void {
    if (this.closing || (model !== this.model && model !== this.settingUp)) {
      return; // closing, or that connection is already gone and being replaced
    }
    this.report(reason, 'resetting the connection');
    model.close().catch(noop);
  }

  /**
   * Registers a listener called after every successful reconnect (not the first connect), once
   * every participant is set up again. The node should catch up then: events may have been lost.
   * Returns a function that unregisters it.
   */
  onReconnected(listener: () => void): () => void {
    this.reconnectedListeners.add(listener);
    return () => this.reconnectedListeners.delete(listener);
  }

  /** Registers a listener of every change of {@link connected}. Returns an unregister function. */
  onConnectionChange(listener: (connected: boolean) => void): () => void {
    this.connectionListeners.add(listener);
    return () => this.connectionListeners.delete(listener);
  }

  private async open(): Promise<void> {
    const { options } = this;
    const recovering = await connect(withHeartbeat(options.url, options.heartbeatSeconds ?? 10), {
      ...options.tls,
      noDelay: true,
      clientProperties: { connection_name: options.connectionName ?? 'chat' },
      recovery: {
        initialDelay: options.reconnectInitialDelayMs ?? 100,
        maxDelay: options.reconnectMaxDelayMs ?? 10_000,
        factor: 2,
        jitter: 0.2,
        maxRetries: Infinity,
        initialMaxRetries: options.initialConnectRetries ?? 3,
        waitForConnect: false,
        setup: (model: ChannelModel) => this.setUp(model),
      },
    });
    if (this.closing) {
      await recovering.close().catch(noop);
      throw new Error(`RabbitMQ connection to ${this.displayUrl} was closed while connecting`);
    }
    this.recovering = recovering;
    recovering.on('connect', (model: ChannelModel) => this.established(model));
    recovering.on('disconnect', (error: Error) => {
      if (!this.closing) {
        this.report(error, `connection to ${this.displayUrl} lost; reconnecting`);
      }
      this.lost();
    });
    recovering.on('connect-failed', (error: Error) => {
      this.report(error, `connecting to ${this.displayUrl} failed`);
    });
    recovering.on('error', (error: Error) => {
      if (!this.closing) {
        this.report(error, 'connection error');
      }
    });
    recovering.on('blocked', (reason: string) => {
      this.report(new Error(`blocked by the broker: ${reason}`), 'connection blocked');
    });
    try {
      await recovering.waitForConnect();
    } catch (error) {
      this.recovering = undefined;
      await recovering.close().catch(noop);
      throw new Error(`Connecting to RabbitMQ at ${this.displayUrl} failed: ${errorText(error)}`, {
        cause: error,
      });
    }
    if (this.closing) {
      await recovering.close().catch(noop);
    }
  }

  /** Runs every participant's setup on a fresh connection (the recovery `setup` hook). */
  private async setUp(model: ChannelModel): Promise<void> {
    // Until amqplib's recovery binds its own listener, an 'error' would otherwise be thrown.
    model.on('error', noop);
    this.settingUp = model;
    try {
      // Indexed loop: a participant attached while this runs is set up too.
      for (let i = 0; i < this.participants.length; i += 1) {
        await this.participants[i]?.setup(model);
      }
    } catch (error) {
      for (const participant of this.participants) {
        participant.disconnected();
      }
      throw error;
    } finally {
      this.settingUp = undefined;
    }
  }

  private established(model: ChannelModel): void {
    if (this.closing) {
      return;
    }
    this.model = model;
    const reconnected = this.everConnected;
    this.everConnected = true;
    this.notify(true);
    if (reconnected) {
      for (const listener of [...this.reconnectedListeners]) {
        try {
          listener();
        } catch (error) {
          this.report(error, 'an onReconnected listener failed');
        }
      }
    }
  }

  private lost(): void {
    if (this.model === undefined) {
      return;
    }
    this.model = undefined;
    for (const participant of this.participants) {
      participant.disconnected();
    }
    this.notify(false);
  }

  private notify(connected: boolean): void {
    for (const listener of [...this.connectionListeners]) {
      try {
        listener(connected);
      } catch (error) {
        this.report(error, 'a connection listener failed');
      }
    }
  }

  private report(error: unknown, context: string): void {
    try {
      this.onError(error, context);
    } catch {
      // A failing reporter must not break recovery.
    }
  }
}

/** Adds `heartbeat=<seconds>` to an AMQP URL unless it already has one. */
export function withHeartbeat(url: string, seconds: number): string {
  const parsed = parseAmqpUrl(url);
  if (!parsed.searchParams.has('heartbeat')) {
    parsed.searchParams.set('heartbeat', String(seconds));
  }
  return parsed.toString();
}

/** The URL with its password replaced by `***`. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') {
      parsed.password = '***';
    }
    return parsed.toString();
  } catch {
    return '<malformed url>';
  }
}

function parseAmqpUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`Malformed RabbitMQ URL: ${redactUrl(url)}`);
  }
  if (parsed.protocol !== 'amqp:' && parsed.protocol !== 'amqps:') {
    throw new Error(`RabbitMQ URL must start with amqp:// or amqps://, got ${redactUrl(url)}`);
  }
  return parsed;
}
