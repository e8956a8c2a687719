import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage, Message } from 'amqplib';
import type { WorkQueueErrorContext } from '../in-process-work-queue';
import {
  type BatchHandler,
  type ConsumeOptions,
  Consumer,
  DEFAULT_RETRY_BACKOFF,
  type QueuedItem,
  type RetryBackoffOptions,
  WorkQueue,
  retryDelayMs,
} from '../work-queue';
import {
  MessageRejections,
  type MessageSigner,
  type RejectReason,
  type RejectionListener,
  claimedSigner,
} from './message-signing';
import {
  RabbitMqConnection,
  type RabbitMqConnectionOptions,
  RabbitMqNotConnectedError,
  type RabbitMqParticipant,
} from './rabbitmq-connection';
import {
  ReturnedMessages,
  settleAllUpTo,
  WORK_QUEUE_DELIVERY_LIMIT,
  confirmedPublish,
  deadLetterName,
  declareDeadLetters,
  declareWorkQueue,
  interruptibleDelay,
  safely,
  serialise,
  settle,
} from './rabbitmq-support';

export interface RabbitMqWorkQueueOptions extends RetryBackoffOptions {
  /** Broker URL; the queue then owns its connection. Give either `url` or `connection`. */
  readonly url?: string;
  /** A node's shared connection (also used by its bus); the work queue does not close it. */
  readonly connection?: RabbitMqConnection;
  /** Settings of the owned connection (with `url`). */
  readonly connectionOptions?: Omit<RabbitMqConnectionOptions, 'url' | 'onError'>;
  /** Prepended to every queue name (`MQ_NODE_ID_PREFIX`, e.g. "chat."). Default "". */
  readonly prefix?: string;
  /** Receives errors thrown by batch handlers (the batch is retried). Default: console.error. */
  readonly onHandlerError?: (error: unknown, context: WorkQueueErrorContext) => void;
  /** Receives connection problems and dropped malformed messages. Default: console.error. */
  readonly onError?: (error: unknown, context: string) => void;
  /**
   * Signs every published item; consumers verify every delivery before parsing it (an attacker
   * may publish straight into a queue). An item that is unsigned, wrongly signed or not JSON is
   * rejected without requeue, i.e. moved to the dead-letter queue at once and never handed to a
   * handler; it is counted via `onRejected` and reported at most once a minute per reason and
   * signer. Without a signer nothing is signed or verified (non-JSON bodies are still
   * dead-lettered).
   */
  readonly signer?: MessageSigner;
  /** Counts items dead-lettered on arrival (see `signer`). */
  readonly onRejected?: RejectionListener;
}

/** A message the broker dead-lettered from a work queue, as {@link RabbitMqWorkQueue.consumeDeadLetters} hands it over. */
export interface DeadLetterItem {
  /** The work queue it came from, without the prefix (e.g. "chat.persistence"); "" when unknown. */
  readonly queue: string;
  /** Its AMQP `messageId` (the item's unique id, an event's id); "" when it had none. */
  readonly uniqueId: string;
  /** The body as UTF-8 text, whatever it is (it may not be JSON). */
  readonly body: string;
  /**
   * Why the broker dead-lettered it (`x-first-death-reason`): "rejected" (a consumer refused it:
   * unsigned, wrongly signed or not JSON), "delivery_limit" (handed out
   * `WORK_QUEUE_DELIVERY_LIMIT + 1` times without an ack), "expired", "maxlen"; "unknown" when the
   * message was published straight to the dead-letter exchange.
   */
  readonly reason: string;
  /** Deliveries before it was dead-lettered: the limit + 1 for "delivery_limit", else 1 (at least). */
  readonly deliveryCount: number;
  /**
   * The node that signed it, verified with the queue's `signer` (the signature survives
   * dead-lettering); null when it is not validly signed, i.e. it came from outside the cluster
   * (never replay such a letter), or when the queue has no signer.
   */
  readonly signer: string | null;
  /** When the broker dead-lettered it (second precision), or null. */
  readonly deadLetteredAt: Date | null;
}

/** Handles one dead letter; resolving acks it, throwing requeues it after a backoff. */
export type DeadLetterHandler = (letter: DeadLetterItem) => Promise<void>;

const defaultOnHandlerError = (error: unknown, context: WorkQueueErrorContext): void => {
  console.error(
    `WorkQueue handler failed on queue "${context.queue}" (delivery ${context.deliveryCount}); retrying`,
    error,
  );
};

const defaultOnError = (error: unknown, context: string): void => {
  console.error(`WorkQueue: ${context}`, error);
};

interface PublishChannel {
  readonly channel: ConfirmChannel;
  readonly returned: ReturnedMessages;
  /** Queues declared on this connection. */
  readonly declared: Map<string, Promise<void>>;
  /** Set when the channel is closed on purpose or already dead: its 'close' is expected. */
  closing: boolean;
}

/**
 * The RabbitMQ {@link WorkQueue}: durable quorum queues `<prefix><queue>` consumed by competing
 * consumers on every node.
 *
 * - {@link publish} declares the queue (once per connection), then publishes a persistent,
 *   mandatory message whose AMQP `messageId` is the `uniqueId`, and resolves on the broker's
 *   publisher confirm, i.e. once the item is durably queued (not, as in the in-process driver,
 *   once it was consumed). It rejects at once while disconnected (nothing is buffered), on a nack,
 *   on a return, or when the channel closes before the confirm.
 * - **At least once, with cheap dedup only.** Publishing a `uniqueId` whose publish to the same
 *   queue is still awaiting its confirm in this process returns that publish's promise. Anything
 *   else (the same id from another node, or after the first confirm, and every redelivery after a
 *   crash or reconnect) may reach a consumer twice: handlers must be idempotent by `uniqueId` (the
 *   persistence journal is).
 * - A consumer has its own channel with prefetch = `batchSize`; it hands the handler up to
 *   `batchSize` messages, waiting up to `lingerMs` after the first for the batch to fill. One batch
 *   at a time per consumer; several consumers (on any nodes) share a queue's items.
 * - Resolving acks the batch. Throwing reports the error, waits a capped exponential backoff by the
 *   batch's highest delivery count, then nacks the batch with requeue; the broker redelivers it
 *   (to any consumer) with `x-delivery-count` incremented. After `WORK_QUEUE_DELIVERY_LIMIT` (10)
 *   redeliveries the broker moves an item to the dead-letter exchange `<prefix>dead-letters`
 *   instead (see {@link consumeDeadLetters}). A handler that can tell a passing failure (the
 *   database is down) should wait it out itself rather than throw, so that an outage of any
 *   length uses up no deliveries (the persistence worker does).
 * - With a `signer`, every item published is signed, and every delivery is verified before it is
 *   parsed; an item that fails (or is not JSON) is rejected without requeue, straight to the dead
 *   letters, and never reaches a handler.
 * - After a reconnect every consumer is attached again; batches being handled on the lost channel
 *   cannot be acked any more and are redelivered.
 */
export class RabbitMqWorkQueue extends WorkQueue implements RabbitMqParticipant {
  private readonly options: RabbitMqWorkQueueOptions;
  private readonly rejections: MessageRejections;
  private readonly backoff: Required<RetryBackoffOptions>;
  private readonly ownsConnection: boolean;
  private readonly consumers = new Set<RabbitMqConsumer>();
  private readonly pending = new Map<string, Promise<void>>();
  private connection: RabbitMqConnection;
  private publishing: PublishChannel | undefined;
  private started = false;

  constructor(options: RabbitMqWorkQueueOptions) {
    super();
    if ((options.url === undefined) === (options.connection === undefined)) {
      throw new Error('RabbitMqWorkQueue needs exactly one of `url` and `connection`');
    }
    this.options = options;
    this.rejections = new MessageRejections(options.onRejected, (error) =>
      this.report(error, 'item rejected to the dead-letter queue'),
    );
    this.backoff = {
      retryBaseDelayMs: options.retryBaseDelayMs ?? DEFAULT_RETRY_BACKOFF.retryBaseDelayMs,
      retryMaxDelayMs: options.retryMaxDelayMs ?? DEFAULT_RETRY_BACKOFF.retryMaxDelayMs,
    };
    this.ownsConnection = options.connection === undefined;
    this.connection = options.connection ?? this.createConnection();
  }

  /** True while started and able to publish. */
  get connected(): boolean {
    return this.started && this.publishing !== undefined && this.connection.connected;
  }

  /** The broker queue behind a work queue name. */
  queueName(queue: string): string {
    return `${this.options.prefix ?? ''}${queue}`;
  }

  /** See {@link RabbitMqConnection.onReconnected}. */
  onReconnected(listener: () => void): () => void {
    return this.connection.onReconnected(listener);
  }

  async start(): Promise<void> {
    if (this.started) {
      return;
    }
    this.started = true;
    try {
      await this.connection.attach(this);
      for (const consumer of this.consumers) {
        await this.connection.attach(consumer);
      }
      await this.connection.start();
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  async stop(): Promise<void> {
    if (!this.started) {
      return;
    }
    this.started = false;
    this.connection.detach(this);
    await Promise.all([...this.consumers].map((consumer) => consumer.stop()));
    const publishing = this.publishing;
    this.publishing = undefined;
    if (publishing) {
      publishing.closing = true;
      await safely(() => publishing.channel.close());
    }
    if (this.ownsConnection) {
      await this.connection.close();
      this.connection = this.createConnection();
    }
  }

  publish(queue: string, uniqueId: string, payload: unknown): Promise<void> {
    if (queue === '' || uniqueId === '') {
      return Promise.reject(new Error('WorkQueue.publish needs a non-empty queue and uniqueId'));
    }
    const publishing = this.publishing;
    if (!this.started || !publishing || !this.connection.connected) {
      return Promise.reject(
        new RabbitMqNotConnectedError(`cannot publish ${uniqueId} to work queue "${queue}"`),
      );
    }
    const key = `${queue}\u0000${uniqueId}`;
    const inFlight = this.pending.get(key);
    if (inFlight) {
      return inFlight;
    }
    let body: Buffer;
    try {
      body = serialise(payload, `Payload of ${uniqueId}`);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const name = this.queueName(queue);
    const result = this.declare(publishing, name)
      .then(() =>
        confirmedPublish(publishing.channel, publishing.returned, {
          exchange: '',
          routingKey: name,
          body,
          messageId: uniqueId,
          ...(this.options.signer ? { headers: this.options.signer.headers(uniqueId, body) } : {}),
          what: `Item ${uniqueId}`,
        }),
      )
      .finally(() => this.pending.delete(key));
    this.pending.set(key, result);
    return result;
  }

  consume(queue: string, options: ConsumeOptions, handler: BatchHandler): Consumer {
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) {
      throw new RangeError(`batchSize must be a positive integer, got ${options.batchSize}`);
    }
    if (!Number.isFinite(options.lingerMs) || options.lingerMs < 0) {
      throw new RangeError(`lingerMs must be a non-negative number, got ${options.lingerMs}`);
    }
    const brokerQueue = this.queueName(queue);
    return this.addConsumer({
      queue,
      brokerQueue,
      declare: (channel) => declareWorkQueue(channel, brokerQueue, this.options.prefix ?? ''),
      decode: (message) => this.decode(queue, brokerQueue, message),
      options,
      handler,
    });
  }

  /** The broker queue (and exchange) that receives this work queue's dead letters. */
  get deadLetterQueueName(): string {
    return deadLetterName(this.options.prefix ?? '');
  }

  /**
   * Registers a competing consumer of the dead-letter queue ({@link deadLetterQueueName}), which
   * holds what the broker gave up on in every work queue of this prefix: items rejected on arrival
   * (unsigned, wrongly signed, not JSON) and items handed out `WORK_QUEUE_DELIVERY_LIMIT + 1` times
   * without an ack. One letter at a time; resolving acks it (it leaves the broker), throwing
   * requeues it after the backoff, for ever (the dead-letter queue has no delivery limit). Every
   * letter is handed over, signed or not; {@link DeadLetterItem.signer} says whether it is.
   */
  consumeDeadLetters(handler: DeadLetterHandler): Consumer {
    const prefix = this.options.prefix ?? '';
    const brokerQueue = deadLetterName(prefix);
    return this.addConsumer({
      queue: brokerQueue,
      brokerQueue,
      declare: (channel) => declareDeadLetters(channel, prefix).then(() => undefined),
      decode: (message) => ({
        queue: brokerQueue,
        uniqueId: stringProperty(message.properties.messageId) ?? '',
        payload: deadLetterOf(message, prefix, this.options.signer),
        deliveryCount: message.fields.redelivered ? 2 : 1,
      }),
      options: { batchSize: 1, lingerMs: 0 },
      handler: async (batch) => {
        for (const item of batch) {
          await handler(item.payload as DeadLetterItem);
        }
      },
    });
  }

  private addConsumer(
    settings: Pick<
      ConsumerSettings,
      'queue' | 'brokerQueue' | 'declare' | 'decode' | 'options' | 'handler'
    >,
  ): Consumer {
    const consumer = new RabbitMqConsumer(
      {
        ...settings,
        delayBeforeRetry: (deliveryCount) => retryDelayMs(deliveryCount, this.backoff),
        reportHandlerError: (error, context) => this.reportHandlerError(error, context),
        report: (error, context) => this.report(error, context),
        connection: () => this.connection,
      },
      () => this.consumers.delete(consumer),
    );
    this.consumers.add(consumer);
    if (this.started) {
      this.connection.attach(consumer).catch((error: unknown) => {
        this.report(
          error,
          `attaching a consumer of "${settings.queue}" failed; resetting the connection`,
        );
      });
    }
    return consumer;
  }

  /**
   * Turns a delivery into an item, after verifying it (with a signer); or says it must be
   * dead-lettered (counted and reported here).
   */
  private decode(queue: string, brokerQueue: string, message: ConsumeMessage): Decoded {
    const uniqueId = stringProperty(message.properties.messageId) ?? '';
    const reject = (reason: RejectReason, signer: string | undefined): Decoded => {
      this.rejections.reject(
        'work',
        reason,
        signer,
        `item ${JSON.stringify(uniqueId)} of "${brokerQueue}" (moved to the dead letters)`,
      );
      return { rejected: reason };
    };
    let signer: string | undefined;
    if (this.options.signer) {
      const verified = this.options.signer.verify(message, uniqueId);
      if (!verified.ok) {
        return reject(verified.reason, claimedSigner(message));
      }
      signer = verified.signer;
    }
    let payload: unknown;
    try {
      payload = JSON.parse(message.content.toString('utf8')) as unknown;
    } catch {
      // A body that is not JSON can never be handled: dead-letter it rather than loop on it.
      return reject('malformed', signer ?? claimedSigner(message));
    }
    return { queue, uniqueId, payload, deliveryCount: deliveryCountOf(message) };
  }

  /** @internal Opens the publish channel; runs on every (re)connect. */
  async setup(model: ChannelModel): Promise<void> {
    const channel = await model.createConfirmChannel();
    const publishing: PublishChannel = {
      channel,
      returned: new ReturnedMessages(),
      declared: new Map(),
      closing: false,
    };
    channel.on('error', (error: unknown) => {
      if (!publishing.closing) {
        this.report(error, 'publish channel error');
      }
    });
    channel.on('close', () => {
      if (this.publishing === publishing) {
        this.publishing = undefined;
      }
      if (!publishing.closing) {
        publishing.closing = true;
        this.connection.reset(model, new Error('the WorkQueue publish channel closed'));
      }
    });
    channel.on('return', (message: ConsumeMessage) => publishing.returned.add(message));
    this.publishing = publishing;
  }

  /** @internal */
  disconnected(): void {
    if (this.publishing) {
      this.publishing.closing = true;
      this.publishing = undefined;
    }
  }

  private declare(publishing: PublishChannel, name: string): Promise<void> {
    let declared = publishing.declared.get(name);
    if (!declared) {
      declared = declareWorkQueue(publishing.channel, name, this.options.prefix ?? '');
      declared.catch(() => publishing.declared.delete(name));
      publishing.declared.set(name, declared);
    }
    return declared;
  }

  private reportHandlerError(error: unknown, context: WorkQueueErrorContext): void {
    try {
      (this.options.onHandlerError ?? defaultOnHandlerError)(error, context);
    } catch {
      // A failing reporter must not stop the retries.
    }
  }

  private report(error: unknown, context: string): void {
    try {
      (this.options.onError ?? defaultOnError)(error, context);
    } catch {
      // A failing reporter must not break anything.
    }
  }

  private createConnection(): RabbitMqConnection {
    return new RabbitMqConnection({
      connectionName: 'chat work queue',
      ...this.options.connectionOptions,
      url: this.options.url ?? '',
      onError: (error, context) => this.report(error, context),
    });
  }
}

/** A delivery as an item for the handler, or the reason it is dead-lettered instead. */
type Decoded = QueuedItem | { readonly rejected: RejectReason };

interface ConsumerSettings {
  readonly queue: string;
  readonly brokerQueue: string;
  /** Declares the queue consumed (and what it needs) on the consumer's channel. */
  readonly declare: (channel: Channel) => Promise<void>;
  readonly decode: (message: ConsumeMessage) => Decoded;
  readonly options: ConsumeOptions;
  readonly handler: BatchHandler;
  readonly delayBeforeRetry: (deliveryCount: number) => number;
  readonly reportHandlerError: (error: unknown, context: WorkQueueErrorContext) => void;
  readonly report: (error: unknown, context: string) => void;
  readonly connection: () => RabbitMqConnection;
}

/** One consumer's channel on one connection; replaced on every reconnect. */
interface ConsumerChannel {
  readonly model: ChannelModel;
  readonly channel: Channel;
  consumerTag: string | undefined;
  /** Received and not yet handed to the handler, in delivery order. */
  readonly buffer: ConsumeMessage[];
  lingerTimer: NodeJS.Timeout | undefined;
  closing: boolean;
}

class RabbitMqConsumer extends Consumer implements RabbitMqParticipant {
  private current: ConsumerChannel | undefined;
  private inFlight: Promise<void> | undefined;
  private interruptBackoff: (() => void) | undefined;
  private stopped = false;

  constructor(
    private readonly settings: ConsumerSettings,
    private readonly onStopped: () => void,
  ) {
    super();
  }

  async stop(): Promise<void> {
    if (this.stopped) {
      return;
    }
    this.stopped = true;
    this.settings.connection().detach(this);
    const current = this.current;
    if (current) {
      current.closing = true;
      clearTimeout(current.lingerTimer);
      const tag = current.consumerTag;
      if (tag !== undefined) {
        await safely(() => current.channel.cancel(tag));
      }
    }
    this.interruptBackoff?.();
    await this.inFlight;
    this.current = undefined;
    if (current) {
      // Closing the channel hands every unacked message (the buffer) back to the queue.
      await safely(() => current.channel.close());
    }
    this.onStopped();
  }

  /** @internal Opens the channel, declares the queue and starts consuming; runs on every connect. */
  async setup(model: ChannelModel): Promise<void> {
    if (this.stopped) {
      return;
    }
    const { brokerQueue, options } = this.settings;
    const channel = await model.createChannel();
    const current: ConsumerChannel = {
      model,
      channel,
      consumerTag: undefined,
      buffer: [],
      lingerTimer: undefined,
      closing: false,
    };
    channel.on('error', (error: unknown) => {
      if (!current.closing) {
        this.settings.report(error, `consumer channel of "${brokerQueue}" failed`);
      }
    });
    channel.on('close', () => {
      if (!current.closing) {
        current.closing = true;
        this.settings
          .connection()
          .reset(model, new Error(`the consumer channel of "${brokerQueue}" closed`));
      }
    });
    try {
      await this.settings.declare(channel);
      await channel.prefetch(options.batchSize);
      this.current = current;
      const { consumerTag } = await channel.consume(brokerQueue, (message) =>
        this.received(current, message),
      );
      current.consumerTag = consumerTag;
    } catch (error) {
      current.closing = true;
      if (this.current === current) {
        this.current = undefined;
      }
      throw error;
    }
  }

  /** @internal */
  disconnected(): void {
    const current = this.current;
    if (current) {
      current.closing = true;
      clearTimeout(current.lingerTimer);
      current.buffer.length = 0;
      this.current = undefined;
    }
  }

  private received(current: ConsumerChannel, message: ConsumeMessage | null): void {
    if (message === null) {
      if (!current.closing) {
        current.closing = true;
        this.settings
          .connection()
          .reset(
            current.model,
            new Error(`the broker cancelled the consumer of "${this.settings.brokerQueue}"`),
          );
      }
      return;
    }
    if (current !== this.current || current.closing) {
      return;
    }
    current.buffer.push(message);
    this.schedule(current);
  }

  /** Starts a batch when it is full, or arms the linger timer at the first buffered message. */
  private schedule(current: ConsumerChannel): void {
    if (this.inFlight || current.buffer.length === 0) {
      return;
    }
    if (current.buffer.length >= this.settings.options.batchSize) {
      this.flush(current);
    } else if (current.lingerTimer === undefined) {
      current.lingerTimer = setTimeout(() => this.flush(current), this.settings.options.lingerMs);
    }
  }

  private flush(current: ConsumerChannel): void {
    clearTimeout(current.lingerTimer);
    current.lingerTimer = undefined;
    if (this.inFlight || current !== this.current || current.closing) {
      return;
    }
    const batch = current.buffer.splice(0, this.settings.options.batchSize);
    if (batch.length === 0) {
      return;
    }
    this.inFlight = this.handle(current, batch).finally(() => {
      this.inFlight = undefined;
      if (current === this.current && !current.closing) {
        this.schedule(current);
      }
    });
  }

  private async handle(current: ConsumerChannel, messages: ConsumeMessage[]): Promise<void> {
    const { channel } = current;
    const items: QueuedItem[] = [];
    const handed: ConsumeMessage[] = [];
    for (const message of messages) {
      const decoded = this.settings.decode(message);
      if ('rejected' in decoded) {
        // To the dead-letter exchange at once (no requeue): it can never be handled.
        settle(channel, message, 'reject');
        continue;
      }
      items.push(decoded);
      handed.push(message);
    }
    if (items.length === 0) {
      return;
    }
    try {
      await this.settings.handler(items);
      // One frame for the whole batch: it is a prefix of what this channel delivered, and what
      // came before it was settled already (one batch at a time; rejected items nacked above).
      const last = handed[handed.length - 1];
      if (last) settleAllUpTo(channel, last);
      return;
    } catch (error) {
      const deliveryCount = Math.max(...items.map((item) => item.deliveryCount));
      this.settings.reportHandlerError(error, {
        queue: this.settings.queue,
        uniqueIds: items.map((item) => item.uniqueId),
        deliveryCount,
      });
      if (!current.closing) {
        const delay = interruptibleDelay(this.settings.delayBeforeRetry(deliveryCount));
        this.interruptBackoff = delay.interrupt;
        await delay.done;
        this.interruptBackoff = undefined;
      }
    }
    // Back to the queue: redelivered (to any consumer) with the delivery count incremented, until
    // the broker's delivery limit dead-letters it.
    for (const message of handed) {
      settle(channel, message, 'requeue');
    }
  }
}

/**
 * Reads what the broker wrote into a dead-lettered message (`x-first-death-*`, `x-death`); the
 * queue loses `queuePrefix`.
 */
function deadLetterOf(
  message: Message,
  queuePrefix: string,
  signer: MessageSigner | undefined,
): DeadLetterItem {
  const headers = message.properties.headers ?? {};
  const deaths = headers['x-death'] as unknown;
  const latest = Array.isArray(deaths)
    ? (deaths[0] as Record<string, unknown> | undefined)
    : undefined;
  const reason =
    stringProperty(headers['x-first-death-reason']) ??
    stringProperty(latest?.['reason']) ??
    'unknown';
  const brokerQueue =
    stringProperty(headers['x-first-death-queue']) ?? stringProperty(latest?.['queue']) ?? '';
  const queue =
    queuePrefix !== '' && brokerQueue.startsWith(queuePrefix)
      ? brokerQueue.slice(queuePrefix.length)
      : brokerQueue;
  const uniqueId = stringProperty(message.properties.messageId) ?? '';
  const verified = signer?.verify(message, uniqueId);
  return {
    queue,
    uniqueId,
    body: message.content.toString('utf8'),
    reason,
    deliveryCount: reason === 'delivery_limit' ? WORK_QUEUE_DELIVERY_LIMIT + 1 : 1,
    signer: verified?.ok ? verified.signer : null,
    deadLetteredAt: timestampOf(latest?.['time']),
  };
}

function stringProperty(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** An AMQP timestamp (seconds) as amqplib decodes it in a header table: `{ '!': 'timestamp', value }` or a number. */
function timestampOf(value: unknown): Date | null {
  const seconds =
    typeof value === 'number'
      ? value
      : typeof value === 'object' && value !== null
        ? (value as { value?: unknown }).value
        : undefined;
  return typeof seconds === 'number' && Number.isFinite(seconds) ? new Date(seconds * 1000) : null;
}

/** 1 on the first delivery; quorum queues count earlier deliveries in `x-delivery-count`. */
export function deliveryCountOf(message: ConsumeMessage): number {
  const headers = message.properties.headers;
  const count = Number(headers?.['x-delivery-count'] ?? 0);
  if (Number.isFinite(count) && count > 0) {
    return count + 1;
  }
  return message.fields.redelivered ? 2 : 1;
}
