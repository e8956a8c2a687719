import { Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { type Consumer, type DeadLetterItem, type RabbitMqWorkQueue } from '@chat/messaging';
import { type DeadLetterStore } from '@chat/persistence';
import { type Metrics } from '../metrics/metrics';

/** Unsigned dead letters are logged at most this often (with how many were dropped). */
const UNSIGNED_LOG_INTERVAL_MS = 60_000;

/**
 * Cluster mode: a competing consumer of the broker's dead-letter queue (`<prefix><cluster>.dead-letters`),
 * which receives what the broker gave up on in the work queues: items handed out more often than
 * the delivery limit without an ack, and items a consumer rejected on arrival.
 *
 * - A letter signed by a node of the cluster goes to the {@link DeadLetterStore} (the
 *   `dead_letters` table, listed and replayed through the admin API), with the broker's reason; it
 *   is counted in `chat_dead_letters_total{queue,reason="broker_<reason>"}`.
 * - A letter without a valid signature came from outside the cluster (whoever holds the broker
 *   credentials can publish straight into a queue): it is never stored, since a replay would write
 *   it into the journal; it is logged (at most once a minute) and dropped. Its arrival was counted
 *   already (`chat_bus_rejected_total{kind="work"}`).
 * - The store failing (database down) requeues the letter; the dead-letter queue has no delivery
 *   limit, so it waits in the broker until the database is back.
 */
export class BrokerDeadLetters implements OnApplicationBootstrap {
  private readonly logger = new Logger(BrokerDeadLetters.name);
  private consumer: Consumer | null = null;
  private unsignedLoggedAt = -Infinity;
  private unsignedUnlogged = 0;

  constructor(
    private readonly queue: RabbitMqWorkQueue,
    private readonly store: DeadLetterStore,
    private readonly metrics: Metrics | null = null,
  ) {}

  /** Registers the consumer (the work queue's start, in `NodeLifecycle`, attaches it). */
  onApplicationBootstrap(): void {
    this.consumer ??= this.queue.consumeDeadLetters((letter) => this.record(letter));
  }

  async stop(): Promise<void> {
    await this.consumer?.stop();
    this.consumer = null;
  }

  /** Stores one dead letter (signed) or drops it (unsigned); throws when the store fails. */
  async record(letter: DeadLetterItem): Promise<void> {
    if (letter.signer === null) {
      this.dropUnsigned(letter);
      return;
    }
    const { deadLetter, created } = await this.store.record({
      queue: letter.queue,
      uniqueId: letter.uniqueId === '' ? '(none)' : letter.uniqueId,
      payload: parsedOrText(letter.body),
      error: {
        message: `dead-lettered by the broker: ${describeReason(letter)}`,
        sqlState: null,
      },
      failedAt: letter.deadLetteredAt ?? new Date(),
    });
    const reason = `broker_${letter.reason}`;
    const context = {
      queue: letter.queue,
      deadLetterId: deadLetter.id,
      eventId: deadLetter.eventId ?? letter.uniqueId,
      eventType: deadLetter.eventType,
      reason,
      signer: letter.signer,
      deliveries: letter.deliveryCount,
    };
    if (created) {
      this.metrics?.deadLetters.inc({ queue: letter.queue, reason });
      this.logger.warn(context, 'work item moved to the dead letters by the broker');
    } else {
      this.logger.debug(context, 'dead letter already stored; one more attempt recorded');
    }
  }

  private dropUnsigned(letter: DeadLetterItem): void {
    this.unsignedUnlogged += 1;
    const now = Date.now();
    if (now - this.unsignedLoggedAt < UNSIGNED_LOG_INTERVAL_MS) return;
    this.logger.warn(
      {
        queue: letter.queue.slice(0, 200),
        uniqueId: letter.uniqueId.slice(0, 100),
        reason: letter.reason,
        dropped: this.unsignedUnlogged,
      },
      'dropped an unsigned dead letter (not from a cluster node; never stored or replayed)',
    );
    this.unsignedLoggedAt = now;
    this.unsignedUnlogged = 0;
  }
}

function describeReason(letter: DeadLetterItem): string {
  switch (letter.reason) {
    case 'delivery_limit':
      return `handed out ${letter.deliveryCount} times without being handled (delivery limit)`;
    case 'rejected':
      return 'rejected by a consumer on arrival (not JSON)';
    default:
      return letter.reason;
  }
}

function parsedOrText(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return body;
  }
}
