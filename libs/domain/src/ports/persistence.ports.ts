/**
 * What the domain needs from storage. Implementations name their technology
 * (`TypeOrmEventJournal` in libs/persistence).
 */
import type { DomainEvent } from '../events/events';
import type { Message } from '../model/model';

/** Durable record of every persisted event; `append` is idempotent by event id. */
export abstract class EventJournal {
  /** Writes a batch in one transaction; re-appending an already stored event changes nothing. */
  abstract append(events: readonly DomainEvent[]): Promise<void>;

  /**
   * Resolves when the store answers a trivial query, rejects otherwise: the persistence worker
   * trusts a failure as the data's fault only while the store answers.
   */
  ping(): Promise<void> {
    return Promise.resolve();
  }
}

/** Rebuilds the live state at start: the stored events that replayed give the active state. */
export abstract class StateSource {
  /**
   * Events describing the configuration (sites, departments, operators and their statuses) and
   * every chat that is open, or closed less than `closedWithinMs` ago, with its messages.
   */
  abstract loadEvents(options: { closedWithinMs: number; nowMs: number }): Promise<DomainEvent[]>;
}

/** Reads a chat's history from storage, for chats no longer held in memory. */
export abstract class ChatHistory {
  abstract messages(chatId: string): Promise<Message[]>;
}
