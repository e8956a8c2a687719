/**
 * What clients see, computed from the state. Pure. Never exposes an operator's password hash, and
 * an operator only ever sees their own site (isolation guarantee).
 */
import { stampWallMs, type HlcStamp } from '../clock/hlc';
import type {
  AssignmentAuditEntry,
  Author,
  ChatStatus,
  Department,
  Message,
  OperatorStatus,
  Visitor,
} from '../model/model';
import { messageIndex, messagePosition } from '../state/indexes';
import {
  chatDepartmentId,
  chatStatus,
  isOperatorConnected,
  operatorLoad,
  waitingSinceMs,
} from '../state/queries';
import type { ChatRecord, ChatState, OperatorRecord, StateChange } from '../state/state';

export interface MessageView {
  id: string;
  chatId: string;
  clientMessageId: string;
  author: Author;
  text: string;
  /** wall-clock ms */
  at: number;
  clock: HlcStamp;
}

export interface ChatView {
  id: string;
  siteId: string;
  status: ChatStatus;
  departmentId: string | null;
  operator: { id: string; name: string } | null;
  visitor: Visitor;
  fields: Record<string, string>;
  /** wall-clock ms */
  startedAt: number;
  /** wall-clock ms since when the chat waits in the queue; null unless waiting */
  waitingSince: number | null;
  closed: { by: Author; reason: string; at: number } | null;
  rating: { rating: number; comment: string | null } | null;
  messages: MessageView[];
}

export interface OperatorChatView extends ChatView {
  audit: AssignmentAuditEntry[];
}

export interface OperatorView {
  id: string;
  siteId: string;
  name: string;
  email: string;
  departmentIds: string[];
  maxChats: number;
  status: OperatorStatus;
  connected: boolean;
  load: number;
}

export interface OperatorSnapshot {
  revision: number;
  me: OperatorView;
  /** the departments of the operator's site */
  departments: Department[];
  /** operators of the same site, the operator included */
  colleagues: OperatorView[];
  /** waiting chats of the site, longest waiting first */
  queue: OperatorChatView[];
  /** chats assigned to the operator */
  chats: OperatorChatView[];
}

export type OperatorDeltaItem =
  | { kind: 'chat'; chat: OperatorChatView }
  | { kind: 'message'; message: MessageView }
  | { kind: 'operator'; operator: OperatorView }
  | { kind: 'department'; department: Department };

export function messageView(message: Message): MessageView {
  return {
    id: message.id,
    chatId: message.chatId,
    clientMessageId: message.clientMessageId,
    author: { kind: message.author.kind, id: message.author.id, name: message.author.name },
    text: message.text,
    at: stampWallMs(message.clock),
    clock: message.clock,
  };
}

function operatorName(state: ChatState, operatorId: string): string {
  return state.operators.get(operatorId)?.profile?.value.name ?? '';
}

/** The chat as its visitor sees it (no audit); null for a chat not started. */
export function chatView(state: ChatState, chat: ChatRecord, withMessages = true): ChatView | null {
  if (!chat.started || chat.startedClock === null || chat.visitor === null) {
    return null;
  }
  const status = chatStatus(chat);
  const operatorId = chat.assignment?.operatorId ?? null;
  return {
    id: chat.id,
    siteId: chat.siteId,
    status,
    departmentId: chatDepartmentId(chat),
    operator:
      operatorId === null ? null : { id: operatorId, name: operatorName(state, operatorId) },
    visitor: { ...chat.visitor },
    fields: { ...chat.fields },
    startedAt: stampWallMs(chat.startedClock),
    waitingSince: status === 'waiting' ? waitingSinceMs(chat) : null,
    closed: chat.closed
      ? { by: chat.closed.by, reason: chat.closed.reason, at: stampWallMs(chat.closed.clock) }
      : null,
    rating: chat.rating ? { rating: chat.rating.rating, comment: chat.rating.comment } : null,
    messages: withMessages ? chat.messages.map(messageView) : [],
  };
}

/** The chat as its operator sees it: with the assignment audit. */
export function operatorChatView(
  state: ChatState,
  chat: ChatRecord,
  withMessages: boolean,
): OperatorChatView | null {
  const view = chatView(state, chat, withMessages);
  return view ? { ...view, audit: chat.audit.map((entry) => ({ ...entry })) } : null;
}

/** An operator as colleagues see them: never the password hash. */
export function operatorView(state: ChatState, record: OperatorRecord): OperatorView | null {
  const profile = record.profile?.value;
  if (!profile) {
    return null;
  }
  return {
    id: profile.id,
    siteId: profile.siteId,
    name: profile.name,
    email: profile.email,
    departmentIds: [...profile.departmentIds],
    maxChats: profile.maxChats,
    status: record.status?.value ?? 'offline',
    connected: isOperatorConnected(record),
    load: operatorLoad(state, profile.id),
  };
}

function byNameThenId<T extends { id: string; name: string }>(a: T, b: T): number {
  if (a.name !== b.name) {
    return a.name < b.name ? -1 : 1;
  }
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * Everything an operator's client needs at connect; only the operator's own site. With
 * `withMessages: false` every chat carries `messages: []` (a client that resyncs messages itself).
 */
export function operatorSnapshot(
  state: ChatState,
  operatorId: string,
  options: { withMessages?: boolean } = {},
): OperatorSnapshot | null {
  const withMessages = options.withMessages ?? true;
  const record = state.operators.get(operatorId);
  const me = record ? operatorView(state, record) : null;
  if (!me) {
    return null;
  }
  const siteId = me.siteId;
  const departments = [...state.departments.values()]
    .map((stamped) => stamped.value)
    .filter((department) => department.siteId === siteId)
    .map((department) => ({ ...department }))
    .sort(byNameThenId);
  const colleagues: OperatorView[] = [];
  for (const other of state.operators.values()) {
    if (other.profile?.value.siteId === siteId) {
      const view = operatorView(state, other);
      if (view) {
        colleagues.push(view);
      }
    }
  }
  colleagues.sort(byNameThenId);

  const queue: OperatorChatView[] = [];
  const chats: OperatorChatView[] = [];
  for (const chat of state.chats.values()) {
    if (chat.siteId !== siteId || !chat.started) {
      continue;
    }
    const status = chatStatus(chat);
    if (status === 'waiting') {
      const view = operatorChatView(state, chat, withMessages);
      if (view) {
        queue.push(view);
      }
    } else if (status === 'assigned' && chat.assignment?.operatorId === operatorId) {
      const view = operatorChatView(state, chat, withMessages);
      if (view) {
        chats.push(view);
      }
    }
  }
  queue.sort((a, b) => (a.waitingSince ?? 0) - (b.waitingSince ?? 0) || compareIds(a.id, b.id));
  chats.sort((a, b) => a.startedAt - b.startedAt || compareIds(a.id, b.id));
  return { revision: state.revision, me, departments, colleagues, queue, chats };
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A chat is the operator's business if it waits in their site's queue or is assigned to them. */
function concernsOperator(chat: ChatRecord, operatorId: string): boolean {
  const holder = chat.assignment?.operatorId ?? null;
  return holder === null || holder === operatorId;
}

/**
 * What an operator's client must be told about one change, or null when it is none of their
 * business (another site; a chat neither waiting nor theirs nor just taken from them or from the
 * queue; a site change).
 */
export function operatorDelta(
  state: ChatState,
  operatorId: string,
  change: StateChange,
): OperatorDeltaItem | null {
  const siteId = state.operators.get(operatorId)?.profile?.value.siteId;
  if (siteId === undefined) {
    return null;
  }
  switch (change.kind) {
    case 'site':
      return null;
    case 'department': {
      const department = state.departments.get(change.departmentId)?.value;
      return department && department.siteId === siteId
        ? { kind: 'department', department: { ...department } }
        : null;
    }
    case 'operator': {
      const record = state.operators.get(change.operatorId);
      if (!record || record.profile?.value.siteId !== siteId) {
        return null;
      }
      const operator = operatorView(state, record);
      return operator ? { kind: 'operator', operator } : null;
    }
    case 'chat': {
      const chat = state.chats.get(change.chatId);
      if (!chat || chat.siteId !== siteId || !chat.started) {
        return null;
      }
      const before = change.before;
      const visible =
        concernsOperator(chat, operatorId) ||
        before === undefined ||
        before.status === 'waiting' ||
        before.operatorId === operatorId;
      if (!visible) {
        return null;
      }
      const view = operatorChatView(state, chat, false);
      return view ? { kind: 'chat', chat: view } : null;
    }
    case 'message': {
      const chat = state.chats.get(change.chatId);
      if (!chat || chat.siteId !== siteId || !chat.started || !concernsOperator(chat, operatorId)) {
        return null;
      }
      const message = messageIndex(chat).byId.get(change.messageId);
      return message ? { kind: 'message', message: messageView(message) } : null;
    }
  }
}

/** The chat as its visitor sees it, with its messages; null if unknown or not started. */
export function visitorChatView(state: ChatState, chatId: string): ChatView | null {
  const chat = state.chats.get(chatId);
  return chat ? chatView(state, chat, true) : null;
}

/** Messages strictly after the given one in (clock, id) order; all if the id is unknown. */
export function messagesAfter(chat: ChatRecord, afterMessageId: string | null): Message[] {
  if (afterMessageId === null) {
    return [...chat.messages];
  }
  const after = messageIndex(chat).byId.get(afterMessageId);
  const at = after ? messagePosition(chat, after) : -1;
  return at < 0 ? [...chat.messages] : chat.messages.slice(at + 1);
}
