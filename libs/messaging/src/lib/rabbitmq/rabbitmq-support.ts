import type { Channel, ConfirmChannel, ConsumeMessage, Message, Options } from 'amqplib';

/**
 * Deliveries of one work item before the broker dead-letters it: 1 + this many redeliveries. Set
 * explicitly on every work queue (RabbitMQ 3.x has no limit by default, RabbitMQ 4 drops after 20).
 */
export const WORK_QUEUE_DELIVERY_LIMIT = 10;

/**
 * The dead-letter exchange and queue of the work queues whose names start with `queuePrefix`
 * (in a node: `<MQ_NODE_ID_PREFIX><cluster>.`, so `chat.default.dead-letters`).
 */
export function deadLetterName(queuePrefix: string): string {
  return `${queuePrefix}dead-letters`;
}

/**
 * The arguments of every work queue whose name starts with `queuePrefix`. Every work queue is a
 * durable quorum queue: quorum queues count deliveries themselves and hand the count over as the
 * `x-delivery-count` header, which becomes `QueuedItem.deliveryCount` (a classic queue only
 * says `redelivered: true|false`), and enforce `x-delivery-limit`. A message the broker gives up on
 * (the limit, or a consumer's reject without requeue) goes to the dead-letter exchange
 * {@link deadLetterName}, at least once (`x-dead-letter-strategy: at-least-once`: the queue keeps
 * the message until the dead-letter queue confirmed it; this strategy needs
 * `x-overflow: reject-publish`, which changes nothing without a length limit).
 *
 * Every node declares the work queues with exactly these arguments: the broker refuses
 * (PRECONDITION_FAILED) a declaration whose arguments differ from the existing queue's. The state
 * bus declares the queues it routes copies into (`boundWorkQueues`) with this same function.
 */
export function workQueueOptions(queuePrefix: string): Options.AssertQueue {
  return {
    durable: true,
    arguments: {
      'x-queue-type': 'quorum',
      'x-delivery-limit': WORK_QUEUE_DELIVERY_LIMIT,
      'x-dead-letter-exchange': deadLetterName(queuePrefix),
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
    },
  };
}

/** The broker's reply code for a declaration that contradicts the existing object. */
const PRECONDITION_FAILED = 406;

/**
 * Declares the dead-letter exchange {@link deadLetterName} (durable fanout) and the queue of the
 * same name bound to it (durable, classic: no delivery limit in any RabbitMQ version, so a dead
 * letter is never dropped for being retried). Returns the name.
 */
export async function declareDeadLetters(channel: Channel, queuePrefix: string): Promise<string> {
  const deadLetters = deadLetterName(queuePrefix);
  await channel.assertExchange(deadLetters, 'fanout', { durable: true });
  await channel.assertQueue(deadLetters, { durable: true });
  await channel.bindQueue(deadLetters, deadLetters, '');
  return deadLetters;
}

/**
 * Declares the dead letters ({@link declareDeadLetters}), then the work queue `queue` with
 * {@link workQueueOptions}. A PRECONDITION_FAILED (the queue exists with other
 * arguments, e.g. declared by an older version) is rethrown with what to do about it.
 */
export async function declareWorkQueue(
  channel: Channel,
  queue: string,
  queuePrefix: string,
): Promise<void> {
  const deadLetters = await declareDeadLetters(channel, queuePrefix);
  try {
    await channel.assertQueue(queue, workQueueOptions(queuePrefix));
  } catch (error) {
    if ((error as { code?: unknown }).code === PRECONDITION_FAILED) {
      throw new Error(
        `Work queue "${queue}" exists with other arguments than this version declares ` +
          `(x-queue-type quorum, x-delivery-limit ${WORK_QUEUE_DELIVERY_LIMIT}, ` +
          `x-dead-letter-exchange "${deadLetters}"): drain and delete it, or see docs/operations.md ` +
          '"Work queues: delivery limit and dead letters"',
        { cause: error },
      );
    }
    throw error;
  }
}

/** JSON-encodes a message body; throws when the value has no JSON form. */
export function serialise(value: unknown, what: string): Buffer {
  const text = JSON.stringify(value) as string | undefined;
  if (text === undefined) {
    throw new TypeError(`${what} is not JSON-serialisable`);
  }
  return Buffer.from(text, 'utf8');
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: Error };

/** Decodes a JSON object body and checks it with `valid`. */
export function parseJsonMessage<T extends object>(
  message: Message,
  valid: (value: Record<string, unknown>) => boolean,
): Parsed<T> {
  try {
    const value = JSON.parse(message.content.toString('utf8')) as unknown;
    if (typeof value === 'object' && value !== null && valid(value as Record<string, unknown>)) {
      return { ok: true, value: value as T };
    }
    return { ok: false, error: new Error('Malformed message body; dropped') };
  } catch (error) {
    return { ok: false, error: new Error('Message body is not JSON; dropped', { cause: error }) };
  }
}

/**
 * The `messageId`s of mandatory publishes the broker returned (`basic.return`) on one channel.
 * RabbitMQ sends the return before the confirm of the same message, so the confirm callback can
 * tell a routed message from an unroutable one.
 */
export class ReturnedMessages {
  private readonly counts = new Map<string, number>();

  add(message: Message): void {
    const id = message.properties.messageId as unknown;
    if (typeof id === 'string') {
      this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
    }
  }

  /** True (once per return) when a message with this id was returned. */
  take(id: string): boolean {
    const count = this.counts.get(id);
    if (count === undefined) {
      return false;
    }
    if (count <= 1) {
      this.counts.delete(id);
    } else {
      this.counts.set(id, count - 1);
    }
    return true;
  }
}

export interface ConfirmedPublish {
  readonly exchange: string;
  readonly routingKey: string;
  readonly body: Buffer;
  readonly messageId: string;
  readonly appId?: string;
  /** AMQP headers, e.g. the signature (`MessageSigner.headers`). */
  readonly headers?: Record<string, string>;
  /** For error messages, e.g. "Event 0190…". */
  readonly what: string;
}

/**
 * A persistent, mandatory publish on a confirm channel. Resolves on the broker's ack; rejects on a
 * nack, on a return (routed to no queue), or when the channel closes first.
 */
export function confirmedPublish(
  channel: ConfirmChannel,
  returned: ReturnedMessages,
  publish: ConfirmedPublish,
): Promise<void> {
  const destination =
    publish.exchange === '' ? `queue "${publish.routingKey}"` : `exchange "${publish.exchange}"`;
  return new Promise<void>((resolve, reject) => {
    try {
      channel.publish(
        publish.exchange,
        publish.routingKey,
        publish.body,
        {
          persistent: true,
          mandatory: true,
          messageId: publish.messageId,
          contentType: 'application/json',
          ...(publish.appId === undefined ? {} : { appId: publish.appId }),
          ...(publish.headers === undefined ? {} : { headers: publish.headers }),
          timestamp: Math.floor(Date.now() / 1000),
        },
        (error: unknown) => {
          if (returned.take(publish.messageId)) {
            reject(new RabbitMqUnroutableError(publish.what, destination));
          } else if (error) {
            reject(
              new Error(`${publish.what} was not confirmed by the broker: ${errorText(error)}`, {
                cause: error,
              }),
            );
          } else {
            resolve();
          }
        },
      );
    } catch (error) {
      reject(
        new Error(`${publish.what} could not be published: ${errorText(error)}`, { cause: error }),
      );
    }
  });
}

/** The rejection reason of a message the broker could route to no queue (nobody received it). */
export class RabbitMqUnroutableError extends Error {
  constructor(what: string, destination: string) {
    super(`${what} was returned unroutable by ${destination}: no queue received it`);
    this.name = 'RabbitMqUnroutableError';
  }
}

/** Runs `action`, ignoring any failure (for closing or cancelling what may already be gone). */
export async function safely(action: () => Promise<unknown>): Promise<void> {
  try {
    await action();
  } catch {
    // Already closed or cancelled.
  }
}

/** Resolves after `ms`, or as soon as `interrupt` is called. */
export function interruptibleDelay(ms: number): { done: Promise<void>; interrupt: () => void } {
  let interrupt: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    interrupt = () => {
      clearTimeout(timer);
      resolve();
    };
  });
  return { done, interrupt };
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The acks of one channel whose messages are settled in delivery order (the bus handles one
 * event at a time), coalesced per turn of the event loop: the last message handled is acked with
 * `multiple` once the turn's work is done, one frame (one socket write) for every message the
 * turn handled instead of one each. A nack must {@link flush} first. A channel that closes with
 * acks pending only makes the broker redeliver those messages, which handlers take idempotently.
 */
export class AckCoalescer {
  private last: ConsumeMessage | null = null;
  private scheduled = false;

  constructor(private readonly channel: Channel) {}

  ack(message: ConsumeMessage): void {
    this.last = message;
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  flush(): void {
    this.scheduled = false;
    const last = this.last;
    this.last = null;
    if (last === null) return;
    try {
      this.channel.ack(last, true);
    } catch {
      // Channel closed meanwhile: the messages are redelivered on the next connection.
    }
  }
}

/** Acks `message` and every earlier message of its channel not settled yet (`multiple`). */
export function settleAllUpTo(channel: Channel, message: ConsumeMessage): void {
  try {
    channel.ack(message, true);
  } catch {
    // Channel closed meanwhile: the messages are redelivered on the next connection.
  }
}

/**
 * Acks, requeues or rejects (no requeue: to the queue's dead-letter exchange, if it has one); a
 * closed channel is ignored (the broker then redelivers the message).
 */
export function settle(
  channel: Channel,
  message: ConsumeMessage,
  how: 'ack' | 'requeue' | 'reject',
): void {
  try {
    if (how === 'ack') {
      channel.ack(message);
    } else {
      channel.nack(message, false, how === 'requeue');
    }
  } catch {
    // Channel closed meanwhile: the message is redelivered on the next connection.
  }
}
