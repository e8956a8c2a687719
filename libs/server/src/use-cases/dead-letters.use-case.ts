import { Injectable } from '@nestjs/common';
import { EventJournal, type DomainEvent } from '@chat/domain';
import {
  classifyWriteFailure,
  DeadLetterStore,
  type DeadLetter,
  type DeadLetterQuery,
  type DeadLetterStatus,
} from '@chat/persistence';
import { ApiError } from './api-error';

/** A dead letter as the admin API shows it (times in wall-clock ms). */
export interface DeadLetterView {
  id: string;
  queue: string;
  eventId: string | null;
  eventType: string | null;
  error: string;
  sqlState: string | null;
  attempts: number;
  firstFailedAt: number;
  lastFailedAt: number;
  status: DeadLetterStatus;
  replayedAt: number | null;
}

export function deadLetterView(deadLetter: DeadLetter): DeadLetterView {
  return {
    id: deadLetter.id,
    queue: deadLetter.queue,
    eventId: deadLetter.eventId,
    eventType: deadLetter.eventType,
    error: deadLetter.error,
    sqlState: deadLetter.sqlState,
    attempts: deadLetter.attempts,
    firstFailedAt: deadLetter.firstFailedAt.getTime(),
    lastFailedAt: deadLetter.lastFailedAt.getTime(),
    status: deadLetter.status,
    replayedAt: deadLetter.replayedAt?.getTime() ?? null,
  };
}

const unavailable = (): ApiError =>
  new ApiError('UNAVAILABLE', 'the database is unreachable; try again');

/**
 * Events the persistence worker could not write (see `PersistenceWorker`), listed and replayed
 * with the admin key. A replay re-appends the stored event through the journal, which is
 * idempotent: replaying an event that was written meanwhile changes nothing.
 */
@Injectable()
export class DeadLettersUseCase {
  constructor(
    private readonly store: DeadLetterStore,
    private readonly journal: EventJournal,
  ) {}

  async list(
    query: DeadLetterQuery,
  ): Promise<{ items: DeadLetterView[]; nextCursor: string | null }> {
    const page = await this.database(() => this.store.list(query));
    return { items: page.items.map(deadLetterView), nextCursor: page.nextCursor };
  }

  /**
   * Writes the dead letter's event through the journal. Answers the dead letter, now `replayed`
   * (also when it was already). A permanent refusal is recorded as one more attempt and answered
   * `422 REPLAY_FAILED` with the reason; an unreachable database `503 UNAVAILABLE`.
   */
  async retry(id: string): Promise<DeadLetterView> {
    const deadLetter = await this.database(() => this.store.get(id));
    if (!deadLetter) throw new ApiError('DEAD_LETTER_NOT_FOUND', `no dead letter ${id}`);
    if (deadLetter.status === 'replayed') return deadLetterView(deadLetter);
    try {
      const event = JSON.parse(deadLetter.payload) as DomainEvent;
      await this.journal.append([event]);
    } catch (error) {
      const failure = classifyWriteFailure(error);
      if (failure.kind === 'transient') throw unavailable();
      const failed = await this.database(() =>
        this.store.recordFailure(
          id,
          { message: failure.message, sqlState: failure.sqlState },
          new Date(),
        ),
      );
      throw new ApiError(
        'REPLAY_FAILED',
        `the journal still refuses the event: ${failure.message}`,
        {
          sqlState: failure.sqlState,
          attempts: failed?.attempts ?? deadLetter.attempts + 1,
        },
      );
    }
    const replayed = await this.database(() => this.store.markReplayed(id, new Date()));
    if (!replayed) throw new ApiError('DEAD_LETTER_NOT_FOUND', `no dead letter ${id}`);
    return deadLetterView(replayed);
  }

  /** A store call; the database being unreachable answers UNAVAILABLE instead of INTERNAL. */
  private async database<T>(task: () => Promise<T>): Promise<T> {
    try {
      return await task();
    } catch (error) {
      if (classifyWriteFailure(error).kind === 'transient') throw unavailable();
      throw error;
    }
  }
}
