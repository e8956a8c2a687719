/**
 * Where the persistence worker puts an event the journal refuses for a permanent reason, so that
 * the events behind it carry on, and from where an admin replays it once the cause is fixed.
 */

export type DeadLetterStatus = 'pending' | 'replayed';

export const DEAD_LETTER_STATUSES: readonly DeadLetterStatus[] = ['pending', 'replayed'];

/** Why the write failed, as the worker saw it. */
export interface DeadLetterError {
  readonly message: string;
  /** The PostgreSQL SQLSTATE, when the database answered with one. */
  readonly sqlState: string | null;
}

/** What the worker records for one event it cannot write. */
export interface DeadLetterInput {
  /** The work queue the item came from, e.g. `chat.persistence`. */
  readonly queue: string;
  /** The item's unique id on that queue (the event id); a redelivery updates the same row. */
  readonly uniqueId: string;
  /** The queued payload, whatever its shape: stored as its JSON text. */
  readonly payload: unknown;
  readonly error: DeadLetterError;
  readonly failedAt: Date;
}

/** One stored dead letter, without its payload. */
export interface DeadLetter {
  readonly id: string;
  readonly queue: string;
  readonly uniqueId: string;
  /** The event's `id` and `type`, when the payload has them as strings. */
  readonly eventId: string | null;
  readonly eventType: string | null;
  /** The latest failure. */
  readonly error: string;
  readonly sqlState: string | null;
  /** Failed writes of this event on its own: the first, redeliveries, failed replays. */
  readonly attempts: number;
  readonly firstFailedAt: Date;
  readonly lastFailedAt: Date;
  readonly status: DeadLetterStatus;
  readonly replayedAt: Date | null;
}

/** A dead letter with the JSON text of its payload. */
export interface DeadLetterWithPayload extends DeadLetter {
  readonly payload: string;
}

export interface DeadLetterRecorded {
  readonly deadLetter: DeadLetter;
  /** False when the row existed already (a redelivery of the same item). */
  readonly created: boolean;
}

export interface DeadLetterPage {
  /** Newest first (by id: UUIDv7 made when the event first failed). */
  readonly items: DeadLetter[];
  /** Pass as `before` for the next page; null on the last one. */
  readonly nextCursor: string | null;
}

export interface DeadLetterQuery {
  /** 1-500, default 50. */
  readonly limit?: number;
  /** Only the dead letters older than this one (the previous page's `nextCursor`). */
  readonly before?: string;
  readonly status?: DeadLetterStatus;
}

export abstract class DeadLetterStore {
  /**
   * Stores the failure of one item: a new row, or, for an item already stored (same queue and
   * unique id), one more attempt with the latest error, back to `pending`.
   */
  abstract record(input: DeadLetterInput): Promise<DeadLetterRecorded>;

  abstract list(query?: DeadLetterQuery): Promise<DeadLetterPage>;

  abstract get(id: string): Promise<DeadLetterWithPayload | null>;

  /** One more failed attempt (a replay that failed); null when there is no such row. */
  abstract recordFailure(id: string, error: DeadLetterError, at: Date): Promise<DeadLetter | null>;

  /** The event was written after all; null when there is no such row. */
  abstract markReplayed(id: string, at: Date): Promise<DeadLetter | null>;
}
