import { Logger } from '@nestjs/common';
import { type DomainEvent, type EventJournal } from '@chat/domain';
import {
  type Consumer,
  DEFAULT_RETRY_BACKOFF,
  type QueuedItem,
  type RetryBackoffOptions,
  type WorkQueue,
  retryDelayMs,
} from '@chat/messaging';
import { classifyWriteFailure, type DeadLetterStore, type WriteFailure } from '@chat/persistence';
import { type Metrics } from '../metrics/metrics';
import { PERSISTENCE_QUEUE } from './chat-runtime';

export interface PersistenceWorkerOptions extends RetryBackoffOptions {
  /** Most events written in one journal transaction. */
  readonly batchSize: number;
  /** How long the queue waits for a batch to fill. */
  readonly lingerMs: number;
  /** The queue consumed; default `chat.persistence`. */
  readonly queue?: string;
  /** Clock of the progress figures (tests). */
  readonly now?: () => number;
}

/** How the worker is doing, for `/readyz` and the `chat_persistence_stalled_seconds` gauge. */
export interface PersistenceProgress {
  /** How long events have been waiting without a successful write; 0 when nothing waits. */
  readonly stalledForMs: number;
  /** Events handed to this worker and not yet written (or dead-lettered). */
  readonly backlog: number;
}

/** Thrown out of a batch handler when the worker stops while the journal is unreachable. */
export class PersistenceWorkerStoppedError extends Error {
  constructor() {
    super('persistence worker stopped before the batch could be written; handed back');
    this.name = 'PersistenceWorkerStoppedError';
  }
}

const MAX_LOGGED_ERROR = 300;

/**
 * Competing consumer of the persistence queue: writes events to the journal in batches.
 *
 * - **Transient failures** (the database is unreachable or restarting, see
 *   `classifyWriteFailure`) are waited out here, retrying the same write with a capped exponential
 *   backoff until it succeeds; the batch is never handed back for that (so it counts towards no
 *   broker delivery limit), except when the worker stops meanwhile. One warning when an outage
 *   starts, one info line when the journal is back.
 * - **Permanent failures** isolate the culprit: the batch is split in halves, every half that can
 *   be written is, and an event that cannot be written on its own goes to the dead-letter store
 *   (counted in `chat_dead_letters_total`, logged once with its id and the reason, never its
 *   payload). Then the batch is acked and the queue carries on.
 *
 * The journal is idempotent, so a batch or half written twice (after a redelivery) leaves the same
 * rows, and the dead-letter store keeps one row per queue item.
 */
export class PersistenceWorker {
  private consumer: Consumer | null = null;
  private readonly logger = new Logger(PersistenceWorker.name);
  private readonly queueName: string;
  private readonly backoff: Required<RetryBackoffOptions>;
  private readonly now: () => number;
  private stopping = false;
  private readonly sleepers = new Set<() => void>();
  private gaugeTimer: NodeJS.Timeout | null = null;
  /** Events handed over and not settled; when that began; when the last write succeeded. */
  private backlog = 0;
  private busySince = 0;
  private lastProgressAt = 0;
  /** Set while the journal keeps failing transiently. */
  private outage: { since: number; attempts: number } | null = null;

  constructor(
    private readonly queue: WorkQueue,
    private readonly journal: EventJournal,
    private readonly deadLetters: DeadLetterStore,
    private readonly options: PersistenceWorkerOptions,
    private readonly metrics: Metrics | null = null,
  ) {
    this.queueName = options.queue ?? PERSISTENCE_QUEUE;
    this.backoff = {
      retryBaseDelayMs: options.retryBaseDelayMs ?? DEFAULT_RETRY_BACKOFF.retryBaseDelayMs,
      retryMaxDelayMs: options.retryMaxDelayMs ?? DEFAULT_RETRY_BACKOFF.retryMaxDelayMs,
    };
    this.now = options.now ?? Date.now;
  }

  start(): void {
    this.stopping = false;
    const { batchSize, lingerMs } = this.options;
    this.consumer = this.queue.consume(this.queueName, { batchSize, lingerMs }, (batch) =>
      this.handle(batch),
    );
    if (this.metrics && this.gaugeTimer === null) {
      this.gaugeTimer = setInterval(() => this.updateGauge(), 1000);
      this.gaugeTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const wake of [...this.sleepers]) wake();
    await this.consumer?.stop();
    this.consumer = null;
    if (this.gaugeTimer) clearInterval(this.gaugeTimer);
    this.gaugeTimer = null;
    this.metrics?.persistenceBacklogAge.set(0);
  }

  progress(): PersistenceProgress {
    if (this.backlog === 0) return { stalledForMs: 0, backlog: 0 };
    const since = Math.max(this.busySince, this.lastProgressAt);
    return { stalledForMs: Math.max(0, this.now() - since), backlog: this.backlog };
  }

  private async handle(batch: QueuedItem[]): Promise<void> {
    if (this.backlog === 0) this.busySince = this.now();
    this.backlog += batch.length;
    let settled = 0;
    try {
      await this.write(batch, (count) => {
        settled += count;
        this.backlog -= count;
        this.lastProgressAt = this.now();
        this.updateGauge();
      });
    } finally {
      // What was not settled goes back to the queue with the error.
      this.backlog -= batch.length - settled;
      this.updateGauge();
    }
  }

  /** Writes the items, or the halves that can be written and dead-letters the rest. */
  private async write(items: QueuedItem[], settled: (count: number) => void): Promise<void> {
    const failure = await this.untilAnswered(() =>
      this.journal.append(items.map((item) => item.payload as DomainEvent)),
    );
    if (failure === null) {
      settled(items.length);
      return;
    }
    const [only] = items;
    if (items.length === 1 && only) {
      const confirmed = await this.confirmPermanent(only, failure);
      if (confirmed !== null) await this.deadLetter(only, confirmed);
      settled(1);
      return;
    }
    const middle = Math.ceil(items.length / 2);
    await this.write(items.slice(0, middle), settled);
    await this.write(items.slice(middle), settled);
  }

  /**
   * Runs a write until it succeeds (null) or fails permanently (that failure), waiting out
   * transient failures. Throws {@link PersistenceWorkerStoppedError} once the worker stops.
   */
  private async untilAnswered(task: () => Promise<unknown>): Promise<WriteFailure | null> {
    for (let failures = 0; ;) {
      if (this.stopping) throw new PersistenceWorkerStoppedError();
      try {
        await task();
        this.endOutage();
        return null;
      } catch (error) {
        const failure = classifyWriteFailure(error);
        if (failure.kind === 'permanent') return failure;
        failures += 1;
        this.noteOutage(failure);
        this.updateGauge();
        await this.sleep(retryDelayMs(failures, this.backoff));
      }
    }
  }

  /**
   * A failure is the event's fault only if it fails again while the database answers: a write
   * cut short by an outage can surface as an error that looks like anything (TypeORM's "query
   * runner already released" while PostgreSQL stopped, seen in the chaos suite). So: wait until
   * the database answers, write the event alone once more, and if that fails too, ask the
   * database again. Returns the confirmed failure, or null when the event got written.
   */
  private async confirmPermanent(
    item: QueuedItem,
    failure: WriteFailure,
  ): Promise<WriteFailure | null> {
    let last = failure;
    for (;;) {
      await this.untilReachable(last);
      const again = await this.untilAnswered(() =>
        this.journal.append([item.payload as DomainEvent]),
      );
      if (again === null) return null;
      if (await this.reachable()) return again;
      last = again;
    }
  }

  private async reachable(): Promise<boolean> {
    try {
      await this.journal.ping();
      return true;
    } catch {
      return false;
    }
  }

  /** Waits (an outage, logged once) until the database answers; throws once the worker stops. */
  private async untilReachable(failure: WriteFailure): Promise<void> {
    for (let failures = 0; ;) {
      if (this.stopping) throw new PersistenceWorkerStoppedError();
      if (await this.reachable()) {
        if (failures > 0) this.endOutage();
        return;
      }
      failures += 1;
      this.noteOutage(failure);
      this.updateGauge();
      await this.sleep(retryDelayMs(failures, this.backoff));
    }
  }

  private async deadLetter(item: QueuedItem, failure: WriteFailure): Promise<void> {
    let recorded: Awaited<ReturnType<DeadLetterStore['record']>> | undefined;
    const storeFailure = await this.untilAnswered(async () => {
      recorded = await this.deadLetters.record({
        queue: this.queueName,
        uniqueId: item.uniqueId,
        payload: item.payload,
        error: { message: failure.message, sqlState: failure.sqlState },
        failedAt: new Date(this.now()),
      });
    });
    if (storeFailure !== null || recorded === undefined) {
      this.logger.error(
        { queue: this.queueName, uniqueId: item.uniqueId, error: storeFailure?.message },
        'the dead-letter store refused an event; the batch goes back to the queue',
      );
      throw new Error(`dead-letter store failed: ${storeFailure?.message ?? 'no row'}`);
    }
    const { deadLetter, created } = recorded;
    const reason = failure.sqlState ?? failure.name;
    const context = {
      queue: this.queueName,
      deadLetterId: deadLetter.id,
      eventId: deadLetter.eventId ?? item.uniqueId,
      eventType: deadLetter.eventType,
      reason,
      sqlState: failure.sqlState,
      error: failure.message.slice(0, MAX_LOGGED_ERROR),
      attempts: deadLetter.attempts,
    };
    if (created) {
      this.metrics?.deadLetters.inc({ queue: this.queueName, reason });
      this.logger.warn(context, 'event moved to the dead letters: the journal cannot write it');
    } else {
      this.logger.debug(context, 'dead-lettered event failed again (redelivery)');
    }
  }

  private noteOutage(failure: WriteFailure): void {
    if (this.outage) {
      this.outage.attempts += 1;
      return;
    }
    this.outage = { since: this.now(), attempts: 1 };
    this.logger.warn(
      { queue: this.queueName, sqlState: failure.sqlState, error: failure.message },
      'journal unreachable; writes wait and are retried until it is back',
    );
  }

  private endOutage(): void {
    if (!this.outage) return;
    const { since, attempts } = this.outage;
    this.outage = null;
    this.logger.log(
      { queue: this.queueName, downForMs: this.now() - since, attempts },
      'journal reachable again; writes resumed',
    );
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }

  private updateGauge(): void {
    this.metrics?.persistenceBacklogAge.set(this.progress().stalledForMs / 1000);
  }
}
