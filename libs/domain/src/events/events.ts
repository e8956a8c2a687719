/**
 * Every state change is an event: a UUIDv7 id, the node it came from, a hybrid-logical-clock stamp
 * and its data. Events travel over the state fanout exchange and into the journal; the reducer
 * applies them idempotently and in any order.
 */
import type { HlcStamp } from '../clock/hlc';
import type {
  AssignmentAudit,
  Author,
  Department,
  OperatorProfile,
  OperatorStatus,
  Site,
  Visitor,
} from '../model/model';

export interface EventDataMap {
  'site.upserted': { site: Site };
  'department.upserted': { department: Department };
  'operator.upserted': { operator: OperatorProfile };
  /** last writer (by clock) wins */
  'operator.status.set': { operatorId: string; siteId: string; status: OperatorStatus };
  /** a socket of this operator connected on `nodeId` */
  'operator.session.opened': {
    operatorId: string;
    siteId: string;
    sessionId: string;
    nodeId: string;
  };
  /** closing wins over opening for the same session id, whatever the order */
  'operator.session.closed': {
    operatorId: string;
    siteId: string;
    sessionId: string;
    nodeId: string;
  };
  'chat.started': {
    chatId: string;
    siteId: string;
    departmentId: string | null;
    visitor: Visitor;
    /** pre-chat form fields */
    fields: Record<string, string>;
  };
  /**
   * A decision of the acting master: who holds the chat now. `operatorId: null` puts it (back) in
   * the queue, optionally of another department. The latest decision by (epoch, clock, id) wins.
   */
  'chat.assigned': {
    chatId: string;
    siteId: string;
    operatorId: string | null;
    departmentId: string | null;
    epoch: number;
    audit: AssignmentAudit;
  };
  'chat.message.added': {
    chatId: string;
    siteId: string;
    messageId: string;
    clientMessageId: string;
    author: Author;
    text: string;
  };
  /** terminal: a closed chat stays closed; of two closes the earliest by (clock, id) is kept */
  'chat.closed': { chatId: string; siteId: string; by: Author; reason: string };
  'chat.rated': { chatId: string; siteId: string; rating: number; comment: string | null };
  /** left when nobody is online; not part of the live state, only persisted */
  'offline.message.left': {
    id: string;
    siteId: string;
    departmentId: string | null;
    name: string;
    email: string;
    text: string;
  };
}

export type EventType = keyof EventDataMap;

export const EVENT_TYPES = [
  'site.upserted',
  'department.upserted',
  'operator.upserted',
  'operator.status.set',
  'operator.session.opened',
  'operator.session.closed',
  'chat.started',
  'chat.assigned',
  'chat.message.added',
  'chat.closed',
  'chat.rated',
  'offline.message.left',
] as const satisfies readonly EventType[];

export interface EventEnvelope<T extends EventType = EventType> {
  /** UUIDv7, unique across the cluster */
  id: string;
  type: T;
  /** node name of the node that caused the change */
  origin: string;
  clock: HlcStamp;
  data: EventDataMap[T];
}

/** Discriminated union of every event, for `switch (event.type)`. */
export type DomainEvent = { [T in EventType]: EventEnvelope<T> }[EventType];

/** Chat events carry the chat id; used by the journal and the per-chat history. */
export type ChatEvent = Extract<DomainEvent, { data: { chatId: string } }>;

/** Events that describe sessions: replicated, never persisted. */
export const EPHEMERAL_EVENT_TYPES: ReadonlySet<EventType> = new Set([
  'operator.session.opened',
  'operator.session.closed',
]);

/** Short-lived signals that are broadcast but are not state (typing indicators). */
export interface TypingSignal {
  /** unique per signal, so a transport can drop duplicates */
  id: string;
  type: 'typing';
  chatId: string;
  siteId: string;
  author: Author;
  isTyping: boolean;
}
export type Signal = TypingSignal;
