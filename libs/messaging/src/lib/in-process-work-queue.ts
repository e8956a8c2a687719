import { cloneThroughJson } from './json-clone';
import {
  type BatchHandler,
  type ConsumeOptions,
  Consumer,
  DEFAULT_RETRY_BACKOFF,
  type QueuedItem,
  type RetryBackoffOptions,
  WorkQueue,
  retryDelayMs,
} from './work-queue';

/** Rejection reason of publishes still pending when an {@link InProcessWorkQueue} stops. */
export class WorkQueueStoppedError extends Error {
  constructor(queue: string, uniqueId: string) {
    super(`Work queue stopped before item ${uniqueId} of queue "${queue}" was consumed`);
    this.name = 'WorkQueueStoppedError';
  }
}

export interface WorkQueueErrorContext {
  readonly queue: string;
  readonly uniqueIds: readonly string[];
  /** The delivery count of the failed attempt. */
  readonly deliveryCount: number;
}

export interface InProcessWorkQueueOptions extends RetryBackoffOptions {
  /** Receives every error thrown by a batch handler (the batch is retried). Default: console.error. */
  readonly onHandlerError?: (error: unknown, context: WorkQueueErrorContext) => void;
}

interface Entry {
  readonly queue: string;
  readonly uniqueId: string;
  readonly payload: unknown;
  deliveryCount: number;
  readonly settle: Array<{ resolve: () => void; reject: (error: Error) => void }>;
}

/** The items of one named queue and the consumers waiting for them. */
class QueueState {
  /** Items ready for delivery, FIFO. */
  readonly ready: Entry[] = [];
  /** Every item not yet acked (ready or in flight), by uniqueId. */
  readonly unacked = new Map<string, Entry>();
  private readonly listeners = new Set<() => void>();

  constructor(readonly name: string) {}

  listen(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  notify(): void {
    for (const listener of [...this.listeners]) {
      listener();
    }
  }
}

const defaultOnHandlerError = (error: unknown, context: WorkQueueErrorContext): void => {
  console.error(
    `WorkQueue handler failed on queue "${context.queue}" (delivery ${context.deliveryCount}); retrying`,
    error,
  );
};

/**
 * The in-memory {@link WorkQueue} for single-process mode and tests.
 *
 * Semantics:
 * - **Confirmed when consumed.** Nothing here is durable, so {@link publish} resolves only once a
 *   consumer's handler has processed (acked) the item. A caller that awaits `publish` therefore
 *   knows the work is done (e.g. the message is in the database). Do not await it while holding
 *   something the consumer needs.
 * - `publish` rejects when the queue is not started or the payload is not JSON-serialisable. The
 *   payload is copied through JSON, as a broker would.
 * - Publishing a `uniqueId` that is still unacked in that queue is a duplicate: it is dropped and its
 *   promise settles together with the original item.
 * - Items published while no consumer exists wait for one. Order within a queue is FIFO.
 * - Batching: a consumer takes up to `batchSize` ready items; when fewer are ready it waits up to
 *   `lingerMs` for the batch to fill (0 = take what is there). Each consumer handles one batch at a
 *   time; several consumers of one queue compete for its items.
 * - When the handler throws, the error goes to `onHandlerError` and the same batch is redelivered to
 *   the same consumer after a capped exponential backoff (`retryBaseDelayMs` 100 ms doubling up to
 *   `retryMaxDelayMs` 5 s), with `deliveryCount` incremented, until it succeeds. If that consumer is
 *   stopped meanwhile, the batch goes back to the head of the queue for another consumer.
 * - {@link stop} stops every consumer (waiting for batches in flight) and rejects every publish not
 *   yet consumed with a {@link WorkQueueStoppedError}. The queue can be started again afterwards.
 */
export class InProcessWorkQueue extends WorkQueue {
  private readonly backoff: Required<RetryBackoffOptions>;
  private readonly onHandlerError: (error: unknown, context: WorkQueueErrorContext) => void;
  private readonly queues = new Map<string, QueueState>();
  private readonly consumers = new Set<InProcessConsumer>();
  private started = false;

  constructor(options: InProcessWorkQueueOptions = {}) {
    super();
    this.backoff = {
      retryBaseDelayMs: options.retryBaseDelayMs ?? DEFAULT_RETRY_BACKOFF.retryBaseDelayMs,
      retryMaxDelayMs: options.retryMaxDelayMs ?? DEFAULT_RETRY_BACKOFF.retryMaxDelayMs,
    };
    this.onHandlerError = options.onHandlerError ?? defaultOnHandlerError;
  }

  /** Whether consumers may take items (between start and stop). */
  get running(): boolean {
    return this.started;
  }

  start(): Promise<void> {
    this.started = true;
    for (const state of this.queues.values()) {
      state.notify();
    }
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    this.started = false;
    await Promise.all([...this.consumers].map((consumer) => consumer.stop()));
    for (const state of this.queues.values()) {
      for (const entry of state.unacked.values()) {
        const error = new WorkQueueStoppedError(entry.queue, entry.uniqueId);
        for (const { reject } of entry.settle) {
          reject(error);
        }
      }
      state.unacked.clear();
      state.ready.length = 0;
    }
  }

  publish(queue: string, uniqueId: string, payload: unknown): Promise<void> {
    if (!this.started) {
      return Promise.reject(
        new Error(`WorkQueue is not started; cannot publish ${uniqueId} to "${queue}"`),
      );
    }
    if (queue === '' || uniqueId === '') {
      return Promise.reject(new Error('WorkQueue.publish needs a non-empty queue and uniqueId'));
    }
    let copy: unknown;
    try {
      copy = cloneThroughJson(payload, `Payload of ${uniqueId}`);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const state = this.stateOf(queue);
    return new Promise<void>((resolve, reject) => {
      const existing = state.unacked.get(uniqueId);
      if (existing) {
        existing.settle.push({ resolve, reject });
        return;
      }
      const entry: Entry = { queue, uniqueId, payload: copy, deliveryCount: 0, settle: [] };
      entry.settle.push({ resolve, reject });
      state.unacked.set(uniqueId, entry);
      state.ready.push(entry);
      state.notify();
    });
  }

  consume(queue: string, options: ConsumeOptions, handler: BatchHandler): Consumer {
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) {
      throw new RangeError(`batchSize must be a positive integer, got ${options.batchSize}`);
    }
    if (!Number.isFinite(options.lingerMs) || options.lingerMs < 0) {
      throw new RangeError(`lingerMs must be a non-negative number, got ${options.lingerMs}`);
    }
    const consumer = new InProcessConsumer(this, this.stateOf(queue), options, handler, () =>
      this.consumers.delete(consumer),
    );
    this.consumers.add(consumer);
    return consumer;
  }

  /** @internal Called by a consumer once its handler resolved. */
  ack(state: QueueState, batch: readonly Entry[]): void {
    for (const entry of batch) {
      if (state.unacked.get(entry.uniqueId) === entry) {
        state.unacked.delete(entry.uniqueId);
      }
      for (const { resolve } of entry.settle) {
        resolve();
      }
    }
  }

  /** @internal */
  reportHandlerError(error: unknown, context: WorkQueueErrorContext): void {
    try {
      this.onHandlerError(error, context);
    } catch {
      // A failing reporter must not stop the retries.
    }
  }

  /** @internal */
  delayBeforeRetry(failures: number): number {
    return retryDelayMs(failures, this.backoff);
  }

  private stateOf(queue: string): QueueState {
    let state = this.queues.get(queue);
    if (!state) {
      state = new QueueState(queue);
      this.queues.set(queue, state);
    }
    return state;
  }
}

class InProcessConsumer extends Consumer {
  private stopping = false;
  private readonly interrupts = new Set<() => void>();
  private readonly finished: Promise<void>;

  constructor(
    private readonly owner: InProcessWorkQueue,
    private readonly state: QueueState,
    private readonly options: ConsumeOptions,
    private readonly handler: BatchHandler,
    private readonly onStopped: () => void,
  ) {
    super();
    this.finished = this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const interrupt of [...this.interrupts]) {
      interrupt();
    }
    await this.finished;
  }

  private get active(): boolean {
    return !this.stopping && this.owner.running;
  }

  private async run(): Promise<void> {
    try {
      while (!this.stopping) {
        const batch = await this.takeBatch();
        if (batch) {
          await this.handleUntilAcked(batch);
        }
      }
    } finally {
      this.onStopped();
    }
  }

  /** Waits for ready items (and lingers for a fuller batch); undefined when stopping. */
  private async takeBatch(): Promise<Entry[] | undefined> {
    const { batchSize, lingerMs } = this.options;
    while (!this.stopping) {
      if (!this.active || this.state.ready.length === 0) {
        await this.wait(undefined);
        continue;
      }
      if (lingerMs > 0 && this.state.ready.length < batchSize) {
        const deadline = Date.now() + lingerMs;
        while (this.active && this.state.ready.length < batchSize && Date.now() < deadline) {
          await this.wait(deadline - Date.now());
        }
        if (!this.active || this.state.ready.length === 0) {
          continue;
        }
      }
      return this.state.ready.splice(0, batchSize);
    }
    return undefined;
  }

  private async handleUntilAcked(batch: Entry[]): Promise<void> {
    for (let failures = 0; ;) {
      for (const entry of batch) {
        entry.deliveryCount += 1;
      }
      const items: QueuedItem[] = batch.map((entry) => ({
        queue: entry.queue,
        uniqueId: entry.uniqueId,
        payload: entry.payload,
        deliveryCount: entry.deliveryCount,
      }));
      try {
        await this.handler(items);
        this.owner.ack(this.state, batch);
        return;
      } catch (error) {
        failures += 1;
        this.owner.reportHandlerError(error, {
          queue: this.state.name,
          uniqueIds: batch.map((entry) => entry.uniqueId),
          deliveryCount: Math.max(...batch.map((entry) => entry.deliveryCount)),
        });
      }
      if (this.active) {
        await this.wait(this.owner.delayBeforeRetry(failures), false);
      }
      if (!this.active) {
        // Hand the batch back, ahead of newer items, for another consumer (or a restart).
        this.state.ready.unshift(...batch);
        this.state.notify();
        return;
      }
    }
  }

  /**
   * Resolves after `ms` (forever when undefined), on stop, and - when `onQueueChange` - whenever the
   * queue changes (an item arrives or the owner starts).
   */
  private wait(ms: number | undefined, onQueueChange = true): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      let unlisten: (() => void) | undefined;
      const finish = (): void => {
        if (timer !== undefined) {
          clearTimeout(timer);
        }
        unlisten?.();
        this.interrupts.delete(finish);
        resolve();
      };
      this.interrupts.add(finish);
      if (onQueueChange) {
        unlisten = this.state.listen(finish);
      }
      if (ms !== undefined) {
        timer = setTimeout(finish, Math.max(0, ms));
      }
    });
  }
}
