import {
  EventJournal,
  applyEvent,
  chatStatus,
  createState,
  type DomainEvent,
  type HlcStamp,
} from '@chat/domain';
import { In, type DataSource, type EntityManager } from 'typeorm';
import { ChatEntity } from './entities/chat.entity';
import { ChatEventEntity } from './entities/chat-event.entity';
import { DepartmentEntity } from './entities/department.entity';
import { MessageEntity } from './entities/message.entity';
import { OfflineMessageEntity } from './entities/offline-message.entity';
import { OperatorEntity } from './entities/operator.entity';
import { SiteEntity } from './entities/site.entity';
import { exclusive } from './exclusive';
import { compareClockThenId, isEmptyBatch, planBatch, type JournalBatch } from './journal-batch';
import { chatEntityFrom, chatEventFrom } from './mappers';
import { insertRecordset, recordset } from './recordset';

/** First key of the two-key advisory locks the journal takes ("CHAT"), apart from other users'. */
const LOCK_NAMESPACE = 0x43484154;

const OPERATOR_PROFILE_COLUMNS = [
  'site_id',
  'name',
  'email',
  'password_hash',
  'department_ids',
  'max_chats',
  'disabled',
  'profile_clock',
  'profile_event_id',
];
const OPERATOR_STATUS_COLUMNS = ['status', 'status_clock', 'status_event_id'];

/**
 * Last writer wins: the stored row is replaced only by a write with a greater (clock, event id).
 * `columns` limits the update to one register of the row (default: every non-key column).
 */
function lastWriterWins(clock: string, eventId: string, columns?: string[]) {
  return (updatable: string[]): string => {
    const set = (columns?.map((c) => `"${c}"`) ?? updatable).map((c) => `${c} = excluded.${c}`);
    return (
      `ON CONFLICT (id) DO UPDATE SET ${set.join(', ')} WHERE t.${clock} IS NULL ` +
      `OR (t.${clock}, t.${eventId}) < (excluded.${clock}, excluded.${eventId})`
    );
  };
}

const ignoreDuplicates = (): string => 'ON CONFLICT (id) DO NOTHING';

/**
 * The event journal on TypeORM. One `append` is one transaction: it writes every table with at
 * most one statement each, every write idempotent (insert-or-ignore, or an upsert guarded by the
 * row's (clock, event id)), then recomputes the `chats` projection of the touched chats from all
 * their stored events with the domain reducer. So re-appending, reordering or re-batching events
 * gives the same tables, whichever node writes them.
 */
export class TypeOrmEventJournal extends EventJournal {
  constructor(private readonly dataSource: DataSource) {
    super();
  }

  override async append(events: readonly DomainEvent[]): Promise<void> {
    const batch = planBatch(events);
    if (isEmptyBatch(batch)) return;
    await exclusive(this.dataSource, () =>
      this.dataSource.transaction((manager) => this.write(manager, batch)),
    );
  }

  override async ping(): Promise<void> {
    await this.dataSource.query('SELECT 1');
  }

  private async write(manager: EntityManager, batch: JournalBatch): Promise<void> {
    // Writers of the same chats or config rows take turns, locking in one global (hash) order: no
    // deadlock, and each projection refresh sees the events of the writer before it.
    await manager.query(
      `SELECT pg_advisory_xact_lock(${LOCK_NAMESPACE}, k.h) FROM (SELECT DISTINCT hashtext(key) AS h ` +
        `FROM jsonb_array_elements_text($1::jsonb) AS key ORDER BY h) AS k`,
      [JSON.stringify(batch.lockKeys)],
    );
    if (batch.sites.length > 0) {
      await insertRecordset(manager, SiteEntity, batch.sites, lastWriterWins('clock', 'event_id'));
    }
    if (batch.departments.length > 0) {
      await insertRecordset(
        manager,
        DepartmentEntity,
        batch.departments,
        lastWriterWins('clock', 'event_id'),
      );
    }
    if (batch.operatorProfiles.length > 0) {
      await insertRecordset(
        manager,
        OperatorEntity,
        batch.operatorProfiles,
        lastWriterWins('profile_clock', 'profile_event_id', OPERATOR_PROFILE_COLUMNS),
      );
    }
    if (batch.operatorStatuses.length > 0) {
      await insertRecordset(
        manager,
        OperatorEntity,
        batch.operatorStatuses,
        lastWriterWins('status_clock', 'status_event_id', OPERATOR_STATUS_COLUMNS),
      );
    }
    if (batch.chatEvents.length > 0) {
      await insertRecordset(manager, ChatEventEntity, batch.chatEvents, ignoreDuplicates);
    }
    if (batch.messages.length > 0) {
      await this.writeMessages(manager, batch.messages);
    }
    if (batch.offlineMessages.length > 0) {
      await insertRecordset(manager, OfflineMessageEntity, batch.offlineMessages, ignoreDuplicates);
    }
    if (batch.chatIds.length > 0) {
      await this.refreshChats(manager, batch.chatIds);
    }
  }

  /**
   * The reducer's rules for messages, whatever the order of arrival: a message id keeps its
   * earliest clock; of two messages with the same client key (a client re-sent it and two nodes
   * accepted it) the smaller (clock, id) is kept.
   */
  private async writeMessages(manager: EntityManager, messages: MessageEntity[]): Promise<void> {
    const rows = recordset(manager.connection, MessageEntity, messages);
    await manager.query(
      `UPDATE ${rows.table} AS t SET clock = x."clock", event_id = x."eventId", origin = x."origin", ` +
        `created_at = x."createdAt", author_name = x."authorName", text = x."text" FROM ${rows.source} ` +
        `WHERE t.id = x."id" AND t.chat_id = x."chatId" AND t.author_kind = x."authorKind" ` +
        `AND t.author_id = x."authorId" AND t.client_message_id = x."clientMessageId" ` +
        `AND x."clock" < t.clock`,
      rows.parameters,
    );
    await insertRecordset(
      manager,
      MessageEntity,
      messages,
      (updatable) =>
        `ON CONFLICT ON CONSTRAINT messages_client_key DO UPDATE SET ` +
        ['"id"', ...updatable].map((c) => `${c} = excluded.${c}`).join(', ') +
        ` WHERE (t.clock, t.id) > (excluded.clock, excluded.id)`,
      `WHERE NOT EXISTS (SELECT 1 FROM ${rows.table} AS m WHERE m.id = x."id")`,
    );
  }

  /** Rebuilds the projection rows of these chats from all their stored events. */
  private async refreshChats(manager: EntityManager, chatIds: string[]): Promise<void> {
    const rows = await manager.find(ChatEventEntity, { where: { chatId: In(chatIds) } });
    const lastMessageClocks = await manager
      .getRepository(MessageEntity)
      .createQueryBuilder('m')
      .select('m.chatId', 'chatId')
      .addSelect('MAX(m.clock)', 'lastClock')
      .where('m.chatId IN (:...chatIds)', { chatIds })
      .groupBy('m.chatId')
      .getRawMany<{ chatId: string; lastClock: HlcStamp }>();

    const lastClock = new Map<string, HlcStamp>();
    const bump = (chatId: string, clock: HlcStamp): void => {
      const current = lastClock.get(chatId);
      if (current === undefined || clock > current) lastClock.set(chatId, clock);
    };
    for (const row of lastMessageClocks) bump(row.chatId, row.lastClock);

    const state = createState();
    for (const row of [...rows].sort(compareClockThenId)) {
      applyEvent(state, chatEventFrom(row));
      bump(row.chatId, row.clock);
    }

    const projections: ChatEntity[] = [];
    for (const chatId of chatIds) {
      const record = state.chats.get(chatId);
      const clock = lastClock.get(chatId);
      // A chat with only messages so far gets its row when its first chat event is stored.
      if (record === undefined || clock === undefined) continue;
      projections.push(chatEntityFrom(record, chatStatus(record), clock));
    }
    if (projections.length === 0) return;
    await insertRecordset(
      manager,
      ChatEntity,
      projections,
      (updatable) =>
        `ON CONFLICT (id) DO UPDATE SET ${updatable.map((c) => `${c} = excluded.${c}`).join(', ')}`,
    );
  }
}
