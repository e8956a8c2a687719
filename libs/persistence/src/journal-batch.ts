import { EPHEMERAL_EVENT_TYPES, compareClockId, type DomainEvent } from '@chat/domain';
import type { ChatEventEntity } from './entities/chat-event.entity';
import type { DepartmentEntity } from './entities/department.entity';
import type { MessageEntity } from './entities/message.entity';
import type { OfflineMessageEntity } from './entities/offline-message.entity';
import type { OperatorEntity } from './entities/operator.entity';
import type { SiteEntity } from './entities/site.entity';
import {
  chatEventEntityFrom,
  departmentEntityFrom,
  isStoredChatEvent,
  messageEntityFrom,
  offlineMessageEntityFrom,
  operatorProfileEntityFrom,
  operatorStatusEntityFrom,
  siteEntityFrom,
} from './mappers';

/**
 * The rows one `append` writes, one list per statement. Within a list no two rows share a key:
 * PostgreSQL refuses an `ON CONFLICT DO UPDATE` that touches a row twice in one statement, so the
 * batch is reduced here with the same rule the guards in SQL apply across batches. Lists are
 * sorted by key so that concurrent writers take row locks in the same order.
 */
export interface JournalBatch {
  sites: SiteEntity[];
  departments: DepartmentEntity[];
  operatorProfiles: OperatorEntity[];
  operatorStatuses: OperatorEntity[];
  chatEvents: ChatEventEntity[];
  messages: MessageEntity[];
  offlineMessages: OfflineMessageEntity[];
  /** chats whose projection must be refreshed */
  chatIds: string[];
  /** every key the batch writes: serialised with advisory locks across writers */
  lockKeys: string[];
}

/** Orders two (clock, id) pairs the way the reducer and the SQL guards do: by clock, then by id. */
export function compareClockThenId(
  a: { clock: string; id: string },
  b: { clock: string; id: string },
): number {
  return compareClockId(a.clock, a.id, b.clock, b.id);
}

/** Keeps, per key, the row `keep` prefers; returns rows sorted by key. */
function reduceByKey<T>(rows: T[], key: (row: T) => string, keep: (a: T, b: T) => T): T[] {
  const byKey = new Map<string, T>();
  for (const row of rows) {
    const k = key(row);
    const existing = byKey.get(k);
    byKey.set(k, existing === undefined ? row : keep(existing, row));
  }
  return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
}

const latest =
  <T>(stamp: (row: T) => { clock: string; id: string }) =>
  (a: T, b: T): T =>
    compareClockThenId(stamp(a), stamp(b)) >= 0 ? a : b;

const earliest =
  <T>(stamp: (row: T) => { clock: string; id: string }) =>
  (a: T, b: T): T =>
    compareClockThenId(stamp(a), stamp(b)) <= 0 ? a : b;

/** Unique key of a message besides its id: the client's idempotency key. */
export function messageClientKey(row: MessageEntity): string {
  return JSON.stringify([row.chatId, row.authorKind, row.authorId, row.clientMessageId]);
}

export function planBatch(events: readonly DomainEvent[]): JournalBatch {
  const seen = new Set<string>();
  const sites: SiteEntity[] = [];
  const departments: DepartmentEntity[] = [];
  const operatorProfiles: OperatorEntity[] = [];
  const operatorStatuses: OperatorEntity[] = [];
  const chatEvents: ChatEventEntity[] = [];
  const messages: MessageEntity[] = [];
  const offlineMessages: OfflineMessageEntity[] = [];

  for (const event of events) {
    if (EPHEMERAL_EVENT_TYPES.has(event.type) || seen.has(event.id)) continue;
    seen.add(event.id);
    switch (event.type) {
      case 'site.upserted':
        sites.push(siteEntityFrom(event));
        break;
      case 'department.upserted':
        departments.push(departmentEntityFrom(event));
        break;
      case 'operator.upserted':
        operatorProfiles.push(operatorProfileEntityFrom(event));
        break;
      case 'operator.status.set':
        operatorStatuses.push(operatorStatusEntityFrom(event));
        break;
      case 'chat.message.added':
        messages.push(messageEntityFrom(event));
        break;
      case 'offline.message.left':
        offlineMessages.push(offlineMessageEntityFrom(event));
        break;
      default:
        if (isStoredChatEvent(event)) chatEvents.push(chatEventEntityFrom(event));
    }
  }

  // The reducer's rules: a message id keeps its earliest stamp; of two messages with one client
  // key the smaller (clock, id) stays.
  const reducedMessages = reduceByKey(
    reduceByKey(
      messages,
      (m) => m.id,
      earliest((m) => ({ clock: m.clock, id: m.eventId })),
    ),
    messageClientKey,
    earliest((m) => ({ clock: m.clock, id: m.id })),
  ).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

  const batch: JournalBatch = {
    sites: reduceByKey(
      sites,
      (s) => s.id,
      latest((s) => ({ clock: s.clock, id: s.eventId })),
    ),
    departments: reduceByKey(
      departments,
      (d) => d.id,
      latest((d) => ({ clock: d.clock, id: d.eventId })),
    ),
    operatorProfiles: reduceByKey(
      operatorProfiles,
      (o) => o.id,
      latest((o) => ({ clock: o.profileClock ?? '', id: o.profileEventId ?? '' })),
    ),
    operatorStatuses: reduceByKey(
      operatorStatuses,
      (o) => o.id,
      latest((o) => ({ clock: o.statusClock ?? '', id: o.statusEventId ?? '' })),
    ),
    chatEvents: reduceByKey(
      chatEvents,
      (e) => e.id,
      earliest((e) => e),
    ),
    messages: reducedMessages,
    offlineMessages: reduceByKey(
      offlineMessages,
      (o) => o.id,
      earliest((o) => o),
    ),
    chatIds: [],
    lockKeys: [],
  };
  batch.chatIds = [
    ...new Set([...batch.chatEvents.map((e) => e.chatId), ...batch.messages.map((m) => m.chatId)]),
  ].sort();
  batch.lockKeys = [
    ...new Set([
      ...batch.chatIds,
      ...batch.sites.map((s) => s.id),
      ...batch.departments.map((d) => d.id),
      ...batch.operatorProfiles.map((o) => o.id),
      ...batch.operatorStatuses.map((o) => o.id),
      ...batch.offlineMessages.map((o) => o.id),
    ]),
  ].sort();
  return batch;
}

export function isEmptyBatch(batch: JournalBatch): boolean {
  return batch.lockKeys.length === 0;
}
