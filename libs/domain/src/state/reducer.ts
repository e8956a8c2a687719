/**
 * The only code that changes the live state. `applyEvent` mutates the state in place and is
 * idempotent and order-tolerant by construction: every field is a register or a set whose merge
 * does not depend on the order of arrival (last writer wins by (clock, eventId), closes keep the
 * earliest, assignments keep the greatest (epoch, clock, eventId), messages are a sorted set).
 */
import { compareStamps, stampWallMs, type HlcStamp } from '../clock/hlc';
import type { DomainEvent, EventEnvelope } from '../events/events';
import type { AssignmentAuditEntry, Message } from '../model/model';
import {
  activeHolder,
  clientKey,
  messageIndex,
  messagePosition,
  trackHolderChange,
  type MessageIndex,
} from './indexes';
import { compareClockId, lowerBound } from './order';
import { chatStatus } from './queries';
import type {
  ApplyResult,
  ChatAssignment,
  ChatRecord,
  ChatState,
  OperatorRecord,
  StateChange,
} from './state';

export function createState(): ChatState {
  return {
    sites: new Map(),
    departments: new Map(),
    operators: new Map(),
    chats: new Map(),
    revision: 0,
  };
}

/** Applies one event in place; `state.revision` grows by one iff something changed. */
export function applyEvent(state: ChatState, event: DomainEvent): ApplyResult {
  const changes = reduce(state, event);
  if (changes.length === 0) {
    return { changed: false, changes: [] };
  }
  state.revision += 1;
  return { changed: true, changes };
}

interface Versioned {
  clock: HlcStamp;
  eventId: string;
}

/** True if the event is strictly newer than the current register value. */
function newer(event: { clock: HlcStamp; id: string }, current: Versioned | null | undefined) {
  return !current || compareClockId(event.clock, event.id, current.clock, current.eventId) > 0;
}

/** True if the event is strictly older than the current register value. */
function older(event: { clock: HlcStamp; id: string }, current: Versioned | null | undefined) {
  return !current || compareClockId(event.clock, event.id, current.clock, current.eventId) < 0;
}

function reduce(state: ChatState, event: DomainEvent): StateChange[] {
  switch (event.type) {
    case 'site.upserted': {
      const { site } = event.data;
      if (!newer(event, state.sites.get(site.id))) {
        return [];
      }
      state.sites.set(site.id, { value: site, clock: event.clock, eventId: event.id });
      return [{ kind: 'site', siteId: site.id }];
    }
    case 'department.upserted': {
      const { department } = event.data;
      if (!newer(event, state.departments.get(department.id))) {
        return [];
      }
      state.departments.set(department.id, {
        value: department,
        clock: event.clock,
        eventId: event.id,
      });
      return [{ kind: 'department', siteId: department.siteId, departmentId: department.id }];
    }
    case 'operator.upserted': {
      const { operator } = event.data;
      const record = operatorRecord(state, operator.id);
      if (!newer(event, record.profile)) {
        return [];
      }
      record.profile = { value: operator, clock: event.clock, eventId: event.id };
      return [{ kind: 'operator', siteId: operator.siteId, operatorId: operator.id }];
    }
    case 'operator.status.set': {
      const { operatorId, siteId, status } = event.data;
      const record = operatorRecord(state, operatorId);
      if (!newer(event, record.status)) {
        return [];
      }
      record.status = { value: status, clock: event.clock, eventId: event.id };
      return [{ kind: 'operator', siteId, operatorId }];
    }
    case 'operator.session.opened': {
      const { operatorId, siteId, sessionId, nodeId } = event.data;
      const record = operatorRecord(state, operatorId);
      if (record.sessionsClosed.has(sessionId)) {
        return []; // closing wins whatever the order
      }
      const current = record.sessionsOpened.get(sessionId);
      if (current && compareClockId(current.clock, current.nodeId, event.clock, nodeId) <= 0) {
        return []; // keep the earliest opening
      }
      record.sessionsOpened.set(sessionId, { nodeId, clock: event.clock });
      return [{ kind: 'operator', siteId, operatorId }];
    }
    case 'operator.session.closed': {
      const { operatorId, siteId, sessionId } = event.data;
      const record = operatorRecord(state, operatorId);
      let changed = record.sessionsOpened.delete(sessionId);
      const current = record.sessionsClosed.get(sessionId);
      if (current === undefined || compareStamps(event.clock, current) < 0) {
        record.sessionsClosed.set(sessionId, event.clock);
        changed = true;
      }
      return changed ? [{ kind: 'operator', siteId, operatorId }] : [];
    }
    case 'chat.started':
      return chatStarted(state, event);
    case 'chat.assigned':
      return chatAssigned(state, event);
    case 'chat.message.added':
      return messageAdded(state, event);
    case 'chat.closed': {
      const { chatId, siteId, by, reason } = event.data;
      const chat = chatRecord(state, chatId, siteId);
      if (!older(event, chat.closed)) {
        return []; // terminal: of two closes the earliest by (clock, id) is kept
      }
      const before = chatBefore(chat);
      const holderBefore = activeHolder(chat);
      chat.closed = { by, reason, clock: event.clock, eventId: event.id };
      trackHolderChange(state, chatId, holderBefore, activeHolder(chat));
      return [chatChange(chat, before)];
    }
    case 'chat.rated': {
      const { chatId, siteId, rating, comment } = event.data;
      const chat = chatRecord(state, chatId, siteId);
      if (!newer(event, chat.rating)) {
        return [];
      }
      const before = chatBefore(chat);
      chat.rating = { rating, comment, clock: event.clock, eventId: event.id };
      return [chatChange(chat, before)];
    }
    case 'offline.message.left':
      return [];
    default: {
      const unknown: never = event;
      throw new TypeError(`unknown event type ${JSON.stringify((unknown as DomainEvent).type)}`);
    }
  }
}

function operatorRecord(state: ChatState, operatorId: string): OperatorRecord {
  let record = state.operators.get(operatorId);
  if (!record) {
    record = {
      id: operatorId,
      profile: null,
      status: null,
      sessionsOpened: new Map(),
      sessionsClosed: new Map(),
      lastAssignedAt: null,
    };
    state.operators.set(operatorId, record);
  }
  return record;
}

/** The chat, or a placeholder (`started: false`) when a later event arrives before the start. */
function chatRecord(state: ChatState, chatId: string, siteId: string): ChatRecord {
  let chat = state.chats.get(chatId);
  if (!chat) {
    chat = {
      id: chatId,
      siteId,
      started: false,
      startedClock: null,
      startedEventId: null,
      visitor: null,
      fields: {},
      initialDepartmentId: null,
      assignment: null,
      audit: [],
      closed: null,
      rating: null,
      messages: [],
    };
    state.chats.set(chatId, chat);
  }
  return chat;
}

type ChatBefore = { status: ReturnType<typeof chatStatus>; operatorId: string | null };

function chatBefore(chat: ChatRecord): ChatBefore {
  return { status: chatStatus(chat), operatorId: chat.assignment?.operatorId ?? null };
}

function chatChange(chat: ChatRecord, before: ChatBefore): StateChange {
  return { kind: 'chat', siteId: chat.siteId, chatId: chat.id, before };
}

function chatStarted(state: ChatState, event: EventEnvelope<'chat.started'>): StateChange[] {
  const { chatId, siteId, departmentId, visitor, fields } = event.data;
  const chat = chatRecord(state, chatId, siteId);
  if (
    chat.started &&
    chat.startedClock !== null &&
    compareClockId(event.clock, event.id, chat.startedClock, chat.startedEventId ?? '') >= 0
  ) {
    return []; // a chat starts once; of two starts the earliest is kept
  }
  const before = chatBefore(chat);
  const holderBefore = activeHolder(chat);
  chat.siteId = siteId;
  chat.started = true;
  chat.startedClock = event.clock;
  chat.startedEventId = event.id;
  chat.visitor = visitor;
  chat.fields = fields;
  chat.initialDepartmentId = departmentId;
  trackHolderChange(state, chatId, holderBefore, activeHolder(chat));
  return [chatChange(chat, before)];
}

function compareAssignment(
  a: Pick<ChatAssignment, 'epoch' | 'clock' | 'eventId'>,
  b: Pick<ChatAssignment, 'epoch' | 'clock' | 'eventId'>,
): number {
  if (a.epoch !== b.epoch) {
    return a.epoch < b.epoch ? -1 : 1;
  }
  return compareClockId(a.clock, a.eventId, b.clock, b.eventId);
}

function chatAssigned(state: ChatState, event: EventEnvelope<'chat.assigned'>): StateChange[] {
  const { chatId, siteId, operatorId, departmentId, epoch, audit } = event.data;
  const chat = chatRecord(state, chatId, siteId);
  const before = chatBefore(chat);
  const changes: StateChange[] = [];
  const changedOperators = new Set<string>();

  // Audit: a set of every decision, sorted by (clock, eventId).
  const at = lowerBound(chat.audit, (entry) =>
    compareClockId(entry.clock, entry.eventId, event.clock, event.id),
  );
  let chatChanged = false;
  if (chat.audit[at]?.eventId !== event.id) {
    const entry: AssignmentAuditEntry = {
      ...audit,
      eventId: event.id,
      clock: event.clock,
      operatorId,
      departmentId,
    };
    chat.audit.splice(at, 0, entry);
    chatChanged = true;
  }

  // Assignment register: greatest (epoch, clock, eventId) wins.
  const candidate: ChatAssignment = {
    operatorId,
    departmentId,
    epoch,
    clock: event.clock,
    eventId: event.id,
  };
  const previous = chat.assignment;
  if (!previous || compareAssignment(candidate, previous) > 0) {
    const holderBefore = activeHolder(chat);
    chat.assignment = candidate;
    trackHolderChange(state, chatId, holderBefore, activeHolder(chat));
    chatChanged = true;
    for (const id of [previous?.operatorId ?? null, operatorId]) {
      if (id !== null) {
        changedOperators.add(id);
      }
    }
  }

  // A fence re-asserts who holds the chat; it is not a new assignment for "longest idle" ties.
  if (operatorId !== null && audit.reason !== 'fence') {
    const record = operatorRecord(state, operatorId);
    const wall = stampWallMs(event.clock);
    if (record.lastAssignedAt === null || wall > record.lastAssignedAt) {
      record.lastAssignedAt = wall;
      changedOperators.add(operatorId);
    }
  }

  if (chatChanged) {
    changes.push(chatChange(chat, before));
  }
  for (const id of changedOperators) {
    changes.push({ kind: 'operator', siteId: chat.siteId, operatorId: id });
  }
  return changes;
}

function removeMessage(chat: ChatRecord, index: MessageIndex, message: Message): void {
  const at = messagePosition(chat, message);
  if (at >= 0) {
    chat.messages.splice(at, 1);
  }
  index.byId.delete(message.id);
  const key = clientKey(message);
  if (index.byClientKey.get(key) === message) {
    index.byClientKey.delete(key);
  }
}

function messageAdded(state: ChatState, event: EventEnvelope<'chat.message.added'>): StateChange[] {
  const { chatId, siteId, messageId, clientMessageId, author, text } = event.data;
  const chat = chatRecord(state, chatId, siteId);
  const index = messageIndex(chat);
  const message: Message = {
    id: messageId,
    chatId,
    clientMessageId,
    author,
    text,
    clock: event.clock,
  };
  let changed = false;

  const sameId = index.byId.get(messageId);
  if (sameId) {
    if (compareStamps(message.clock, sameId.clock) >= 0) {
      return []; // already there (a message keeps its earliest stamp)
    }
    removeMessage(chat, index, sameId);
    changed = true;
  }

  // Idempotency by the client's id: of two server ids for one client message keep the smaller.
  const key = clientKey(message);
  const rival = index.byClientKey.get(key);
  if (rival) {
    if (compareClockId(rival.clock, rival.id, message.clock, message.id) < 0) {
      return changed
        ? [{ kind: 'chat', siteId: chat.siteId, chatId, before: chatBefore(chat) }]
        : [];
    }
    removeMessage(chat, index, rival);
  }

  const at = lowerBound(chat.messages, (m) =>
    compareClockId(m.clock, m.id, message.clock, message.id),
  );
  chat.messages.splice(at, 0, message);
  index.byId.set(message.id, message);
  index.byClientKey.set(key, message);
  return [{ kind: 'message', siteId: chat.siteId, chatId, messageId }];
}
