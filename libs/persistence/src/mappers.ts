/**
 * Domain types are not rows: these functions map events and reducer records to entities and back.
 * Every mapping is pure and deterministic (no `new Date()`), so that every node writes the same rows.
 */
import {
  EVENT_TYPES,
  chatDepartmentId,
  stampWallMs,
  type ChatRecord,
  type ChatStatus,
  type DomainEvent,
  type EventEnvelope,
  type EventType,
  type HlcStamp,
  type Message,
  type OperatorStatus,
} from '@chat/domain';
import { ChatEntity } from './entities/chat.entity';
import { ChatEventEntity } from './entities/chat-event.entity';
import { DepartmentEntity } from './entities/department.entity';
import { MessageEntity } from './entities/message.entity';
import { OfflineMessageEntity } from './entities/offline-message.entity';
import { OperatorEntity } from './entities/operator.entity';
import { SiteEntity } from './entities/site.entity';
import { storableValue } from './text';

/**
 * Origin given to configuration events rebuilt from the config tables, which keep each register's
 * event id and clock (so a rebuilt event is the very event that wrote the row) but not its origin.
 */
export const JOURNAL_ORIGIN = 'journal';

/** A message left through the offline form, as the admin API lists it. */
export interface OfflineMessage {
  id: string;
  siteId: string;
  departmentId: string | null;
  name: string;
  email: string;
  text: string;
  clock: HlcStamp;
  createdAt: Date;
}

/** Chat events that the journal keeps in `chat_events` (messages have their own table). */
export type StoredChatEvent = Extract<
  DomainEvent,
  { type: 'chat.started' | 'chat.assigned' | 'chat.closed' | 'chat.rated' }
>;

const STORED_CHAT_EVENT_TYPES: ReadonlySet<string> = new Set<StoredChatEvent['type']>([
  'chat.started',
  'chat.assigned',
  'chat.closed',
  'chat.rated',
]);

const EVENT_TYPE_SET: ReadonlySet<string> = new Set<string>(EVENT_TYPES);

export function isStoredChatEvent(event: DomainEvent): event is StoredChatEvent {
  return STORED_CHAT_EVENT_TYPES.has(event.type);
}

function wallDate(clock: HlcStamp): Date {
  return new Date(stampWallMs(clock));
}

/**
 * An entity instance (so TypeORM recognises it) holding exactly these values, every string in them
 * (jsonb included) made storable: a NUL or a lone surrogate becomes U+FFFD (see `text.ts` and
 * docs/decisions.md). The live state accepted and acknowledged the event, so the journal writes it
 * rather than drop half of a chat; uuid and clock columns still refuse what is not one.
 */
function build<E extends object>(type: new () => E, values: E): E {
  return Object.assign(new type(), storableValue(values));
}

// ---- configuration ----------------------------------------------------------------------------

export function siteEntityFrom(event: EventEnvelope<'site.upserted'>): SiteEntity {
  const { site } = event.data;
  return build(SiteEntity, { id: site.id, name: site.name, clock: event.clock, eventId: event.id });
}

export function siteEventFrom(row: SiteEntity): EventEnvelope<'site.upserted'> {
  return {
    id: row.eventId,
    type: 'site.upserted',
    origin: JOURNAL_ORIGIN,
    clock: row.clock,
    data: { site: { id: row.id, name: row.name } },
  };
}

export function departmentEntityFrom(
  event: EventEnvelope<'department.upserted'>,
): DepartmentEntity {
  const { department } = event.data;
  return build(DepartmentEntity, {
    id: department.id,
    siteId: department.siteId,
    name: department.name,
    clock: event.clock,
    eventId: event.id,
  });
}

export function departmentEventFrom(row: DepartmentEntity): EventEnvelope<'department.upserted'> {
  return {
    id: row.eventId,
    type: 'department.upserted',
    origin: JOURNAL_ORIGIN,
    clock: row.clock,
    data: { department: { id: row.id, siteId: row.siteId, name: row.name } },
  };
}

/** The profile half of an operator row (status columns null). */
export function operatorProfileEntityFrom(
  event: EventEnvelope<'operator.upserted'>,
): OperatorEntity {
  const { operator } = event.data;
  return build(OperatorEntity, {
    id: operator.id,
    siteId: operator.siteId,
    name: operator.name,
    email: operator.email,
    passwordHash: operator.passwordHash,
    departmentIds: [...operator.departmentIds],
    maxChats: operator.maxChats,
    disabled: operator.disabled,
    profileClock: event.clock,
    profileEventId: event.id,
    status: null,
    statusClock: null,
    statusEventId: null,
  });
}

/** The status half of an operator row (profile columns null). */
export function operatorStatusEntityFrom(
  event: EventEnvelope<'operator.status.set'>,
): OperatorEntity {
  return build(OperatorEntity, {
    id: event.data.operatorId,
    siteId: event.data.siteId,
    name: null,
    email: null,
    passwordHash: null,
    departmentIds: null,
    maxChats: null,
    disabled: null,
    profileClock: null,
    profileEventId: null,
    status: event.data.status,
    statusClock: event.clock,
    statusEventId: event.id,
  });
}

/** Up to two events: `operator.upserted` if a profile is stored, `operator.status.set` if a status is. */
export function operatorEventsFrom(row: OperatorEntity): DomainEvent[] {
  const events: DomainEvent[] = [];
  if (row.profileClock !== null && row.profileEventId !== null) {
    events.push({
      id: row.profileEventId,
      type: 'operator.upserted',
      origin: JOURNAL_ORIGIN,
      clock: row.profileClock,
      data: {
        operator: {
          id: row.id,
          siteId: row.siteId,
          name: row.name ?? '',
          email: row.email ?? '',
          passwordHash: row.passwordHash ?? '',
          departmentIds: row.departmentIds ?? [],
          maxChats: row.maxChats ?? 0,
          disabled: row.disabled ?? false,
        },
      },
    });
  }
  if (row.status !== null && row.statusClock !== null && row.statusEventId !== null) {
    events.push({
      id: row.statusEventId,
      type: 'operator.status.set',
      origin: JOURNAL_ORIGIN,
      clock: row.statusClock,
      data: { operatorId: row.id, siteId: row.siteId, status: row.status as OperatorStatus },
    });
  }
  return events;
}

// ---- chats ------------------------------------------------------------------------------------

export function chatEventEntityFrom(event: StoredChatEvent): ChatEventEntity {
  return build(ChatEventEntity, {
    id: event.id,
    chatId: event.data.chatId,
    siteId: event.data.siteId,
    type: event.type,
    clock: event.clock,
    origin: event.origin,
    data: { ...event.data },
  });
}

export function chatEventFrom(row: ChatEventEntity): DomainEvent {
  if (!EVENT_TYPE_SET.has(row.type)) {
    throw new TypeError(`chat_events row ${row.id} has an unknown event type ${row.type}`);
  }
  // The row was written from a validated event of this very type by chatEventEntityFrom.
  return {
    id: row.id,
    type: row.type as EventType,
    origin: row.origin,
    clock: row.clock,
    data: row.data,
  } as DomainEvent;
}

export function messageEntityFrom(event: EventEnvelope<'chat.message.added'>): MessageEntity {
  const { data } = event;
  return build(MessageEntity, {
    id: data.messageId,
    eventId: event.id,
    chatId: data.chatId,
    siteId: data.siteId,
    clientMessageId: data.clientMessageId,
    authorKind: data.author.kind,
    authorId: data.author.id ?? '',
    authorName: data.author.name,
    text: data.text,
    clock: event.clock,
    origin: event.origin,
    createdAt: wallDate(event.clock),
  });
}

function authorOf(row: MessageEntity): Message['author'] {
  return {
    kind: row.authorKind as Message['author']['kind'],
    id: row.authorKind === 'system' && row.authorId === '' ? null : row.authorId,
    name: row.authorName,
  };
}

export function messageFrom(row: MessageEntity): Message {
  return {
    id: row.id,
    chatId: row.chatId,
    clientMessageId: row.clientMessageId,
    author: authorOf(row),
    text: row.text,
    clock: row.clock,
  };
}

export function messageEventFrom(row: MessageEntity): EventEnvelope<'chat.message.added'> {
  return {
    id: row.eventId,
    type: 'chat.message.added',
    origin: row.origin,
    clock: row.clock,
    data: {
      chatId: row.chatId,
      siteId: row.siteId,
      messageId: row.id,
      clientMessageId: row.clientMessageId,
      author: authorOf(row),
      text: row.text,
    },
  };
}

/**
 * The projection row of a chat rebuilt by the reducer. `lastClock` is the latest clock among the
 * chat's events and messages.
 */
export function chatEntityFrom(
  record: ChatRecord,
  status: ChatStatus,
  lastClock: HlcStamp,
): ChatEntity {
  return build(ChatEntity, {
    id: record.id,
    siteId: record.siteId,
    departmentId: chatDepartmentId(record),
    visitorId: record.visitor?.id ?? null,
    visitorName: record.visitor?.name ?? null,
    visitorEmail: record.visitor?.email ?? null,
    fields: { ...record.fields },
    status,
    operatorId: record.assignment?.operatorId ?? null,
    startedAt: record.startedClock === null ? null : wallDate(record.startedClock),
    closedAt: record.closed === null ? null : wallDate(record.closed.clock),
    closedBy: record.closed?.by ?? null,
    closeReason: record.closed?.reason ?? null,
    rating: record.rating?.rating ?? null,
    ratingComment: record.rating?.comment ?? null,
    audit: record.audit.map((entry) => ({ ...entry })),
    lastClock,
  });
}

// ---- offline messages -------------------------------------------------------------------------

export function offlineMessageEntityFrom(
  event: EventEnvelope<'offline.message.left'>,
): OfflineMessageEntity {
  const { data } = event;
  return build(OfflineMessageEntity, {
    id: data.id,
    eventId: event.id,
    siteId: data.siteId,
    departmentId: data.departmentId,
    name: data.name,
    email: data.email,
    text: data.text,
    clock: event.clock,
    origin: event.origin,
    createdAt: wallDate(event.clock),
  });
}

export function offlineMessageFrom(row: OfflineMessageEntity): OfflineMessage {
  return {
    id: row.id,
    siteId: row.siteId,
    departmentId: row.departmentId,
    name: row.name,
    email: row.email,
    text: row.text,
    clock: row.clock,
    createdAt: row.createdAt,
  };
}
