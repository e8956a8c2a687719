import type { Channel, ConfirmChannel, ConsumeMessage, Message, Options } from 'amqplib';

/**
 * Every work queue is a durable quorum queue. Quorum queues count deliveries themselves and hand
 * the count over as the `x-delivery-count` header, which becomes {@link QueuedItem.deliveryCount};
 * a classic queue only says `redelivered: true|false`. Every node declares them with exactly these
 * arguments (the broker refuses a declaration whose arguments differ from the existing queue's).
 * The state bus declares the queues it routes copies into (`boundWorkQueues`) with the same
 * arguments. No `x-delivery-limit` is set: RabbitMQ 3.x then redelivers without limit, as the contract asks
 * (RabbitMQ 4 applies a default limit of 20; see the README).
 */
export const WORK_QUEUE_OPTIONS: Options.AssertQueue = {
  durable: true,
  arguments: { 'x-queue-type': 'quorum' },
};

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

/** Acks or requeues; a closed channel is ignored (the broker then redelivers the message). */
export function settle(channel: Channel, message: ConsumeMessage, how: 'ack' | 'requeue'): void {
  try {
    if (how === 'ack') {
      channel.ack(message);
    } else {
      channel.nack(message, false, true);
    }
  } catch {
    // Channel closed meanwhile: the message is redelivered on the next connection.
  }
}
