import { Logger } from '@nestjs/common';
import { type DomainEvent, type EventJournal } from '@chat/domain';
import { type Consumer, type WorkQueue } from '@chat/messaging';
import { PERSISTENCE_QUEUE } from './chat-runtime';

/**
 * Competing consumer of the persistence queue: writes events to the journal in batches. A failed
 * batch (database down) is retried by the queue with back-off; the journal is idempotent, so a
 * batch written twice leaves the same rows.
 */
export class PersistenceWorker {
  private consumer: Consumer | null = null;
  private readonly logger = new Logger(PersistenceWorker.name);

  constructor(
    private readonly queue: WorkQueue,
    private readonly journal: EventJournal,
    private readonly options: { batchSize: number; lingerMs: number },
  ) {}

  start(): void {
    this.consumer = this.queue.consume(PERSISTENCE_QUEUE, this.options, async (batch) => {
      try {
        await this.journal.append(batch.map((item) => item.payload as DomainEvent));
      } catch (error) {
        this.logger.warn(
          { err: error, size: batch.length, attempt: batch[0]?.deliveryCount },
          'journal write failed; will retry',
        );
        throw error;
      }
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.stop();
    this.consumer = null;
  }
}
