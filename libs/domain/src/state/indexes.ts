/**
 * Derived indexes kept beside the state (never inside it, so they are not part of the digest and a
 * state copied or rebuilt elsewhere simply gets them rebuilt on first use). The reducer keeps them
 * up to date incrementally; each index remembers the collection it was built from and is rebuilt
 * if that collection was replaced.
 */
import type { Message } from '../model/model';
import { compareClockId, lowerBound } from './order';
import type { ChatRecord, ChatState } from './state';

/** The operator who currently holds a chat for load purposes: started, not closed, assigned. */
export function activeHolder(chat: ChatRecord): string | null {
  return chat.started && chat.closed === null ? (chat.assignment?.operatorId ?? null) : null;
}

interface LoadIndex {
  chats: ChatState['chats'];
  byOperator: Map<string, Set<string>>;
}

const loadIndexes = new WeakMap<ChatState, LoadIndex>();

function buildLoadIndex(state: ChatState): LoadIndex {
  const byOperator = new Map<string, Set<string>>();
  for (const chat of state.chats.values()) {
    const holder = activeHolder(chat);
    if (holder !== null) {
      addTo(byOperator, holder, chat.id);
    }
  }
  return { chats: state.chats, byOperator };
}

function addTo(map: Map<string, Set<string>>, key: string, value: string): void {
  let set = map.get(key);
  if (!set) {
    set = new Set();
    map.set(key, set);
  }
  set.add(value);
}

function removeFrom(map: Map<string, Set<string>>, key: string, value: string): void {
  const set = map.get(key);
  if (set) {
    set.delete(value);
    if (set.size === 0) {
      map.delete(key);
    }
  }
}

/** Chat ids each operator currently holds (see `activeHolder`). */
export function chatsByOperator(state: ChatState): ReadonlyMap<string, ReadonlySet<string>> {
  let index = loadIndexes.get(state);
  if (!index || index.chats !== state.chats) {
    index = buildLoadIndex(state);
    loadIndexes.set(state, index);
  }
  return index.byOperator;
}

/** Called by the reducer when a chat's holder may have changed. */
export function trackHolderChange(
  state: ChatState,
  chatId: string,
  before: string | null,
  after: string | null,
): void {
  if (before === after) {
    return;
  }
  const index = loadIndexes.get(state);
  if (!index || index.chats !== state.chats) {
    return; // built lazily from the current state on next use
  }
  if (before !== null) {
    removeFrom(index.byOperator, before, chatId);
  }
  if (after !== null) {
    addTo(index.byOperator, after, chatId);
  }
}

/** Forgets every derived index of a state (call after changing it other than by the reducer). */
export function resetIndexes(state: ChatState): void {
  loadIndexes.delete(state);
}

export interface MessageIndex {
  messages: Message[];
  byId: Map<string, Message>;
  /** (author kind, author id, client message id) -> the message kept for that key */
  byClientKey: Map<string, Message>;
}

const messageIndexes = new WeakMap<ChatRecord, MessageIndex>();

export function clientKey(message: Pick<Message, 'author' | 'clientMessageId'>): string {
  return `${message.author.kind}\u0000${message.author.id ?? ''}\u0000${message.clientMessageId}`;
}

/** The message index of a chat, rebuilt if the messages array changed behind the reducer's back. */
export function messageIndex(chat: ChatRecord): MessageIndex {
  let index = messageIndexes.get(chat);
  if (!index || index.messages !== chat.messages || index.byId.size !== chat.messages.length) {
    index = { messages: chat.messages, byId: new Map(), byClientKey: new Map() };
    for (const message of chat.messages) {
      index.byId.set(message.id, message);
      const key = clientKey(message);
      if (!index.byClientKey.has(key)) {
        index.byClientKey.set(key, message);
      }
    }
    messageIndexes.set(chat, index);
  }
  return index;
}

/** Position of a message in the chat's sorted array, or -1. */
export function messagePosition(chat: ChatRecord, message: Message): number {
  const at = lowerBound(chat.messages, (m) =>
    compareClockId(m.clock, m.id, message.clock, message.id),
  );
  return chat.messages[at]?.id === message.id ? at : -1;
}
