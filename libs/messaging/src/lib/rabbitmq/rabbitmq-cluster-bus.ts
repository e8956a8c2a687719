import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import {
  type BusErrorReporter,
  type BusEvent,
  type BusHandler,
  type BusMessage,
  type BusSignal,
  ClusterBus,
} from '../cluster-bus';
import {
  RabbitMqConnection,
  type RabbitMqConnectionOptions,
  RabbitMqNotConnectedError,
  type RabbitMqParticipant,
} from './rabbitmq-connection';
import {
  MessageRejections,
  type MessageSigner,
  type RejectReason,
  type RejectionListener,
  claimedSigner,
} from './message-signing';
import {
  AckCoalescer,
  ReturnedMessages,
  confirmedPublish,
  declareWorkQueue,
  parseJsonMessage,
  safely,
  serialise,
  settle,
} from './rabbitmq-support';

export interface RabbitMqClusterBusOptions {
  /** Broker URL; the bus then owns its connection. Give either `url` or `connection`. */
  readonly url?: string;
  /** A node's shared connection (also used by its work queue); the bus does not close it. */
  readonly connection?: RabbitMqConnection;
  /** Settings of the owned connection (with `url`). */
  readonly connectionOptions?: Omit<RabbitMqConnectionOptions, 'url' | 'onError'>;
  /** Prepended to every exchange and queue name (`MQ_NODE_ID_PREFIX`, e.g. "chat."). Default "". */
  readonly prefix?: string;
  readonly clusterName: string;
  /** The node's name from the cluster configuration; names its durable state queue. */
  readonly nodeName: string;
  /** Unique per process start (e.g. a UUID); names its signal queue and consumer tags. */
  readonly instanceId: string;
  /** Unacknowledged events the broker may push ahead of the handlers. Default 100. */
  readonly prefetch?: number;
  /**
   * How long the node's durable state queue outlives its last consumer (`x-expires`), so that a
   * node that never comes back leaves nothing behind. Default 15 minutes.
   */
  readonly stateQueueExpiresMs?: number;
  /**
   * Full broker names of work queues (e.g. the persistence queue) bound to the state exchange:
   * the broker routes a copy of every event into each of them with the same publish, atomically
   * with the nodes' copies, and the publish's confirm covers them too. Declared with the work
   * queues' own arguments (`workQueueOptions("<prefix><cluster>.")`, with the dead-letter
   * exchange `<prefix><cluster>.dead-letters`), so their names must start with
   * `<prefix><cluster>.` (as the names of a `RabbitMqWorkQueue` with that prefix do). Barrier
   * markers and other bus-only messages land there as well; their consumers skip what they do not
   * handle.
   */
  readonly boundWorkQueues?: readonly string[];
  /**
   * Signs every published event and signal, and verifies every received one before it is parsed:
   * an unsigned or wrongly signed message, or an event whose `origin` is not its signer, is acked
   * and dropped (never requeued), counted via `onRejected` and reported at most once a minute per
   * reason and signer. Without a signer nothing is signed or verified (tests, single-purpose tools).
   */
  readonly signer?: MessageSigner;
  /** Counts messages dropped on arrival (see `signer`; also bodies that are not JSON). */
  readonly onRejected?: RejectionListener;
  /**
   * With a `signer`: a signal field that, when present, must name the signer (e.g. a heartbeat's
   * `node`), as `origin` must for events. Default: none.
   */
  readonly signalOriginField?: string;
  /** Receives handler errors and connection problems. Default: console.error. */
  readonly onError?: BusErrorReporter;
}

/** The broker objects a bus uses; the same on every node of a cluster except the queues. */
export interface RabbitMqClusterBusNames {
  readonly stateExchange: string;
  readonly signalExchange: string;
  readonly stateQueue: string;
  readonly signalQueue: string;
}

/** The channels of one connection; replaced on every reconnect. */
interface Channels {
  readonly model: ChannelModel;
  readonly publish: ConfirmChannel;
  readonly consume: Channel;
  readonly signals: Channel;
  readonly returned: ReturnedMessages;
  /** Acks of the event and of the signal consumer, one frame per turn of the event loop. */
  readonly eventAcks: AckCoalescer;
  readonly signalAcks: AckCoalescer;
  /** Set when the channels are closed on purpose or already dead: their 'close' is expected. */
  closing: boolean;
  /** Signal publishes are dropped until the signal channel drains. */
  signalsBlocked: boolean;
}

type Kind = 'event' | 'signal';

const defaultOnError: BusErrorReporter = (error, context) => {
  console.error(`ClusterBus ${context.kind} failure (${context.messageId})`, error);
};

/**
 * The RabbitMQ {@link ClusterBus}.
 *
 * **State events** go to the durable fanout exchange `<prefix><cluster>.state` as persistent,
 * mandatory messages on a confirm channel: {@link publish} resolves on the broker's confirm and
 * rejects on a nack, on a `basic.return` (no queue was bound: no node got the event, a
 * `RabbitMqUnroutableError`), on a closed channel, and at once while disconnected (a
 * {@link RabbitMqNotConnectedError}; nothing is buffered). Each node consumes its own queue with a
 * prefetch limit and acks an event only after every handler settled, one event at a time, so an
 * event being handled when the node dies is redelivered. An event whose handler throws is reported
 * and requeued once; if a handler throws again on that redelivery (or on a redelivery after a
 * crash) the event is reported and dropped, so a poison event cannot loop for ever. Handlers must
 * be idempotent: redeliveries happen.
 *
 * **Signals** (typing) go to the fanout exchange `<prefix><cluster>.signals`, non-persistent,
 * without confirms, into an exclusive auto-delete queue per instance. {@link publishSignal} drops
 * silently while disconnected or while the channel's write buffer is full.
 *
 * After a reconnect everything is declared and consumed again, and `onReconnected` listeners run:
 * the node must catch up, since the signal queue was recreated and the state queue may have
 * expired.
 */
export class RabbitMqClusterBus<
  TEvent extends BusEvent = BusEvent,
  TSignal extends BusSignal = BusSignal,
>
  extends ClusterBus<TEvent, TSignal>
  implements RabbitMqParticipant
{
  /** The exchange and queue names this bus declares. */
  readonly names: RabbitMqClusterBusNames;
  private readonly options: RabbitMqClusterBusOptions;
  private readonly onError: BusErrorReporter;
  private readonly rejections: MessageRejections;
  private readonly eventHandlers: BusHandler<TEvent>[] = [];
  private readonly signalHandlers: BusHandler<TSignal>[] = [];
  private readonly ownsConnection: boolean;
  private connection: RabbitMqConnection;
  private channels: Channels | undefined;
  private started = false;
  private eventTail: Promise<void> = Promise.resolve();
  /** `<prefix><cluster>`: every name of the cluster starts with it. */
  private readonly base: string;
  private signalTail: Promise<void> = Promise.resolve();

  constructor(options: RabbitMqClusterBusOptions) {
    super();
    if ((options.url === undefined) === (options.connection === undefined)) {
      throw new Error('RabbitMqClusterBus needs exactly one of `url` and `connection`');
    }
    for (const key of ['clusterName', 'nodeName', 'instanceId'] as const) {
      if (!options[key]) {
        throw new Error(`RabbitMqClusterBus needs a non-empty ${key}`);
      }
    }
    this.options = options;
    this.onError = options.onError ?? defaultOnError;
    this.rejections = new MessageRejections(options.onRejected, (error) =>
      this.report(error, 'event', 'rejected message'),
    );
    this.ownsConnection = options.connection === undefined;
    this.connection = options.connection ?? this.createConnection();
    const base = `${options.prefix ?? ''}${options.clusterName}`;
    this.base = base;
    this.names = {
      stateExchange: `${base}.state`,
      signalExchange: `${base}.signals`,
      stateQueue: `${base}.state.${options.nodeName}`,
      signalQueue: `${base}.signals.${options.nodeName}.${options.instanceId}`,
    };
  }

  get connected(): boolean {
    return this.started && this.channels !== undefined && this.connection.connected;
  }

  /** See {@link RabbitMqConnection.onReconnected}: the node should catch up when it fires. */
  onReconnected(listener: () => void): () => void {
    return this.connection.onReconnected(listener);
  }

  /** See {@link RabbitMqConnection.onConnectionChange}. */
  onConnectionChange(listener: (connected: boolean) => void): () => void {
    return this.connection.onConnectionChange(listener);
  }

  async start(): Promise<void> {
    if (this.started) {
      return;
    }
    this.started = true;
    try {
      await this.connection.attach(this);
      await this.connection.start();
    } catch (error) {
      this.started = false;
      this.connection.detach(this);
      if (this.ownsConnection) {
        await this.connection.close();
        this.connection = this.createConnection();
      }
      throw error;
    }
  }

  async stop(): Promise<void> {
    if (!this.started) {
      return;
    }
    this.started = false;
    this.connection.detach(this);
    const channels = this.channels;
    this.channels = undefined;
    if (channels) {
      channels.closing = true;
      // Stop the broker pushing more; deliveries already received are skipped (they are redelivered).
      await Promise.all([
        safely(() => channels.consume.cancel(this.consumerTag('state'))),
        safely(() => channels.signals.cancel(this.consumerTag('signals'))),
      ]);
    }
    await Promise.all([this.eventTail, this.signalTail]);
    channels?.eventAcks.flush();
    channels?.signalAcks.flush();
    if (channels) {
      await Promise.all([
        safely(() => channels.publish.close()),
        safely(() => channels.consume.close()),
        safely(() => channels.signals.close()),
      ]);
    }
    if (this.ownsConnection) {
      await this.connection.close();
      this.connection = this.createConnection();
    }
  }

  publish(event: TEvent): Promise<void> {
    const channels = this.channels;
    if (!this.started || !channels || !this.connection.connected) {
      return Promise.reject(new RabbitMqNotConnectedError(`cannot publish event ${event.id}`));
    }
    let body: Buffer;
    try {
      body = serialise(event, `Event ${event.id}`);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return confirmedPublish(channels.publish, channels.returned, {
      exchange: this.names.stateExchange,
      routingKey: '',
      body,
      messageId: event.id,
      appId: this.options.nodeName,
      ...(this.options.signer ? { headers: this.options.signer.headers(event.id, body) } : {}),
      what: `Event ${event.id}`,
    });
  }

  subscribe(handler: BusHandler<TEvent>): void {
    this.eventHandlers.push(handler);
  }

  publishSignal(signal: TSignal): void {
    const channels = this.channels;
    if (!this.connected || !channels || channels.signalsBlocked) {
      return;
    }
    try {
      const body = serialise(signal, `Signal ${signal.id}`);
      const accepted = channels.signals.publish(this.names.signalExchange, '', body, {
        persistent: false,
        messageId: signal.id,
        contentType: 'application/json',
        appId: this.options.nodeName,
        ...(this.options.signer ? { headers: this.options.signer.headers(signal.id, body) } : {}),
      });
      if (!accepted) {
        channels.signalsBlocked = true;
        channels.signals.once('drain', () => {
          channels.signalsBlocked = false;
        });
      }
    } catch (error) {
      this.report(error, 'signal', signal.id);
    }
  }

  subscribeSignals(handler: BusHandler<TSignal>): void {
    this.signalHandlers.push(handler);
  }

  /** @internal Declares everything and starts consuming; runs on every (re)connect. */
  async setup(model: ChannelModel): Promise<void> {
    const { names } = this;
    const publish = await model.createConfirmChannel();
    const consume = await model.createChannel();
    const signals = await model.createChannel();
    const channels: Channels = {
      model,
      publish,
      consume,
      signals,
      returned: new ReturnedMessages(),
      eventAcks: new AckCoalescer(consume),
      signalAcks: new AckCoalescer(signals),
      closing: false,
      signalsBlocked: false,
    };
    for (const channel of [publish, consume, signals]) {
      channel.on('error', (error: unknown) => {
        if (!channels.closing) {
          this.report(error, 'event', 'channel error');
        }
      });
      channel.on('close', () => {
        if (!channels.closing) {
          channels.closing = true;
          this.connection.reset(model, new Error('a ClusterBus channel closed unexpectedly'));
        }
      });
    }
    publish.on('return', (message: ConsumeMessage) => channels.returned.add(message));
    try {
      await publish.assertExchange(names.stateExchange, 'fanout', { durable: true });
      await publish.assertExchange(names.signalExchange, 'fanout', { durable: true });
      // One durable queue per node NAME (not per process), expiring `stateQueueExpiresMs` after
      // its last consumer left (`x-expires`):
      // - a node that restarts, or whose connection drops, finds the events published while it was
      //   away still queued (a classic exclusive queue would have vanished with the connection);
      //   it catches up with a snapshot anyway, so these events are a bonus, never relied upon;
      // - a node that never comes back leaves no queue behind for longer than the expiry;
      // - names are unique among running nodes, and the consumer is `exclusive`, so a second
      //   process started with the same node name is refused by the broker (ACCESS_REFUSED)
      //   instead of silently taking half of the events.
      await consume.assertQueue(names.stateQueue, {
        durable: true,
        arguments: { 'x-expires': this.options.stateQueueExpiresMs ?? 15 * 60_000 },
      });
      await consume.bindQueue(names.stateQueue, names.stateExchange, '');
      for (const queue of this.options.boundWorkQueues ?? []) {
        await declareWorkQueue(consume, queue, `${this.base}.`);
        await consume.bindQueue(queue, names.stateExchange, '');
      }
      // Signals are ephemeral: an exclusive, auto-delete queue per process instance.
      await signals.assertQueue(names.signalQueue, {
        durable: false,
        exclusive: true,
        autoDelete: true,
      });
      await signals.bindQueue(names.signalQueue, names.signalExchange, '');
      await consume.prefetch(this.options.prefetch ?? 100);
      await signals.prefetch(this.options.prefetch ?? 100);
      this.channels = channels;
      await consume.consume(
        names.stateQueue,
        (message) => this.onDelivery(channels, 'event', message),
        { exclusive: true, consumerTag: this.consumerTag('state') },
      );
      await signals.consume(
        names.signalQueue,
        (message) => this.onDelivery(channels, 'signal', message),
        { exclusive: true, consumerTag: this.consumerTag('signals') },
      );
    } catch (error) {
      channels.closing = true;
      if (this.channels === channels) {
        this.channels = undefined;
      }
      throw error;
    }
  }

  /** @internal The connection is gone, and with it the channels. */
  disconnected(): void {
    if (this.channels) {
      this.channels.closing = true;
      this.channels = undefined;
    }
  }

  private onDelivery(channels: Channels, kind: Kind, message: ConsumeMessage | null): void {
    if (message === null) {
      // The broker cancelled the consumer (e.g. the queue was deleted): rebuild everything.
      if (!channels.closing) {
        channels.closing = true;
        this.connection.reset(
          channels.model,
          new Error(`the broker cancelled the ${kind} consumer`),
        );
      }
      return;
    }
    if (kind === 'event') {
      this.eventTail = this.eventTail.then(() => this.handle(channels, kind, message));
    } else {
      this.signalTail = this.signalTail.then(() => this.handle(channels, kind, message));
    }
  }

  /** Runs the handlers for one delivery, then acks (or requeues) it. Never throws. */
  private async handle(channels: Channels, kind: Kind, message: ConsumeMessage): Promise<void> {
    if (this.channels !== channels) {
      // Received on a channel that is gone (or a bus that stopped): unacked, so the broker
      // redelivers it on the next channel; handling it now would only duplicate work.
      return;
    }
    const channel = kind === 'event' ? channels.consume : channels.signals;
    const acks = kind === 'event' ? channels.eventAcks : channels.signalAcks;
    const parsed = this.accept(kind, message);
    if (!parsed) {
      acks.ack(message);
      return;
    }
    const handlers = (
      kind === 'event' ? this.eventHandlers : this.signalHandlers
    ) as BusHandler<BusMessage>[];
    const results = await Promise.allSettled(
      handlers.map((handler) => Promise.resolve().then(() => handler(parsed))),
    );
    let failed = false;
    for (const result of results) {
      if (result.status === 'rejected') {
        failed = true;
        this.report(result.reason, kind, parsed.id);
      }
    }
    if (!failed || kind === 'signal') {
      acks.ack(message);
    } else if (!message.fields.redelivered) {
      acks.flush(); // an ack `multiple` sent later must not cover what is requeued now
      settle(channel, message, 'requeue');
    } else {
      this.report(
        new Error(`Event ${parsed.id} failed again on redelivery; dropped`),
        kind,
        parsed.id,
      );
      acks.ack(message);
    }
  }

  /**
   * Verifies (with a signer) and parses one delivery. Returns the message for the handlers, or
   * undefined when it was dropped (counted and reported).
   */
  private accept(kind: Kind, message: ConsumeMessage): BusMessage | undefined {
    const messageId = message.properties.messageId as unknown;
    const id = typeof messageId === 'string' ? messageId : '';
    const what = `${kind} ${id === '' ? '(no message id)' : JSON.stringify(id)}`;
    const signer = this.options.signer;
    let verifiedSigner: string | undefined;
    if (signer) {
      const verified = signer.verify(message, id);
      if (!verified.ok) {
        this.rejections.reject(kind, verified.reason, claimedSigner(message), what);
        return undefined;
      }
      verifiedSigner = verified.signer;
    }
    const reject = (reason: RejectReason): undefined => {
      this.rejections.reject(kind, reason, verifiedSigner ?? claimedSigner(message), what);
      return undefined;
    };
    const parsed = parseJsonMessage<BusMessage>(message, (value) => typeof value.id === 'string');
    if (!parsed.ok || (signer && parsed.value.id !== id)) {
      return reject('malformed');
    }
    if (verifiedSigner !== undefined) {
      const body = parsed.value as unknown as Record<string, unknown>;
      const field = kind === 'event' ? 'origin' : this.options.signalOriginField;
      // An event must name its signer as its origin; a signal only when it has the field.
      if (
        field !== undefined &&
        (kind === 'event' || body[field] !== undefined) &&
        body[field] !== verifiedSigner
      ) {
        return reject('origin');
      }
    }
    return parsed.value;
  }

  private consumerTag(what: 'state' | 'signals'): string {
    return `${this.options.nodeName}.${this.options.instanceId}.${what}`;
  }

  private createConnection(): RabbitMqConnection {
    return new RabbitMqConnection({
      connectionName: `${this.options.clusterName}/${this.options.nodeName}/${this.options.instanceId}`,
      ...this.options.connectionOptions,
      url: this.options.url ?? '',
      onError: (error, context) => this.report(error, 'event', context),
    });
  }

  private report(error: unknown, kind: Kind, messageId: string): void {
    try {
      this.onError(error, { kind, messageId });
    } catch {
      // A failing reporter must not break delivery.
    }
  }
}
