/** One unit of durable work as handed to a consumer. */
export interface QueuedItem<TPayload = unknown> {
  readonly queue: string;
  /** Idempotency key chosen by the publisher (e.g. the message's GUID). */
  readonly uniqueId: string;
  /** The JSON-serialisable payload given to {@link WorkQueue.publish}. */
  readonly payload: TPayload;
  /** 1 on the first delivery, incremented on every redelivery. */
  readonly deliveryCount: number;
}

export interface ConsumeOptions {
  /** Most items handed to one handler call (at least 1). */
  readonly batchSize: number;
  /**
   * How long to wait for a batch to fill when fewer than `batchSize` items are ready;
   * 0 hands over whatever is ready at once.
   */
  readonly lingerMs: number;
}

/**
 * Processes one batch. Resolving acknowledges every item of the batch; throwing makes the driver
 * redeliver the whole batch after a backoff. Handlers must therefore be idempotent by `uniqueId`.
 */
export type BatchHandler<TPayload = unknown> = (batch: QueuedItem<TPayload>[]) => Promise<void>;

/** A registered consumer of one queue. */
export abstract class Consumer {
  /**
   * Stops taking new batches and waits for the batch in flight to be handled (acked or handed
   * back to the queue for redelivery). Idempotent.
   */
  abstract stop(): Promise<void>;
}

/** Settings of the capped exponential redelivery backoff. */
export interface RetryBackoffOptions {
  /** Delay before the first redelivery; doubled for every further failure. Default 100 ms. */
  readonly retryBaseDelayMs?: number;
  /** Upper bound of the delay. Default 5000 ms. */
  readonly retryMaxDelayMs?: number;
}

/**
 * Durable business work (e.g. "persist this message") done by competing consumers: each item is
 * handled by one consumer of its queue, at least once.
 *
 * Contract for every driver:
 * - {@link publish} resolves once the item is durably accepted (RabbitMQ: publisher confirm of a
 *   persistent message on a durable queue);
 * - a publish whose `uniqueId` is already queued or in flight (not yet acked) in that queue is
 *   dropped as a duplicate;
 * - a batch is acked when the handler resolves and redelivered, with `deliveryCount` incremented,
 *   after a capped exponential backoff when it throws;
 * - order within a queue is FIFO for first deliveries.
 */
export abstract class WorkQueue {
  /** Connects to the transport; consumers registered earlier begin receiving. */
  abstract start(): Promise<void>;

  /** Stops every consumer (waiting for batches in flight) and disconnects. Idempotent. */
  abstract stop(): Promise<void>;

  /** Enqueues one item; see the driver for exactly when the returned promise resolves. */
  abstract publish(queue: string, uniqueId: string, payload: unknown): Promise<void>;

  /** Registers a competing consumer of `queue`. May be called before or after {@link start}. */
  abstract consume(queue: string, options: ConsumeOptions, handler: BatchHandler): Consumer;
}

/** The delay before redelivery number `failures` (1-based): base * 2^(failures-1), capped. */
export function retryDelayMs(failures: number, options: Required<RetryBackoffOptions>): number {
  const exponent = Math.max(0, failures - 1);
  return Math.min(options.retryMaxDelayMs, options.retryBaseDelayMs * 2 ** Math.min(exponent, 30));
}

export const DEFAULT_RETRY_BACKOFF: Required<RetryBackoffOptions> = {
  retryBaseDelayMs: 100,
  retryMaxDelayMs: 5000,
};
