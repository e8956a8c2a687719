/** Derived facts about the state, computed from the registers the reducer keeps. */
import { compareStamps, stampWallMs } from '../clock/hlc';
import type { Author, ChatStatus, Message } from '../model/model';
import { chatsByOperator, clientKey, messageIndex } from './indexes';
import type { ChatRecord, ChatState, OperatorRecord } from './state';

/** A chat's message by server id, in O(1) through the reducer's index. */
export function findMessage(chat: ChatRecord, messageId: string): Message | undefined {
  return messageIndex(chat).byId.get(messageId);
}

/** The message an author sent with this client id (the idempotency key), if the chat has it. */
export function findMessageByClientId(
  chat: ChatRecord,
  author: Pick<Author, 'kind' | 'id'>,
  clientMessageId: string,
): Message | undefined {
  return messageIndex(chat).byClientKey.get(
    clientKey({ author: { ...author, name: '' }, clientMessageId }),
  );
}

export function chatStatus(chat: ChatRecord): ChatStatus {
  if (chat.closed !== null) {
    return 'closed';
  }
  return chat.assignment?.operatorId ? 'assigned' : 'waiting';
}

/** The department the chat is queued for: the latest assignment's, else the one it started for. */
export function chatDepartmentId(chat: ChatRecord): string | null {
  return chat.assignment ? chat.assignment.departmentId : chat.initialDepartmentId;
}

/**
 * Wall ms since when the chat waits: its start, or the latest assignment if that assignment put it
 * back in the queue (whichever is later). Null for a chat not started yet.
 */
export function waitingSinceMs(chat: ChatRecord): number | null {
  if (!chat.started || chat.startedClock === null) {
    return null;
  }
  const started = stampWallMs(chat.startedClock);
  if (chat.assignment && chat.assignment.operatorId === null) {
    return Math.max(started, stampWallMs(chat.assignment.clock));
  }
  return started;
}

/** Number of started, non-closed chats assigned to the operator. */
export function operatorLoad(state: ChatState, operatorId: string): number {
  return chatsByOperator(state).get(operatorId)?.size ?? 0;
}

/** Ids of the started, non-closed chats assigned to the operator. */
export function operatorChatIds(state: ChatState, operatorId: string): string[] {
  return [...(chatsByOperator(state).get(operatorId) ?? [])];
}

export function openSessionCount(op: OperatorRecord): number {
  let count = 0;
  for (const sessionId of op.sessionsOpened.keys()) {
    if (!op.sessionsClosed.has(sessionId)) {
      count += 1;
    }
  }
  return count;
}

export function isOperatorConnected(op: OperatorRecord): boolean {
  return openSessionCount(op) > 0;
}

/**
 * Null if connected; else wall ms of the latest session close, else of the status clock, else
 * null (nothing known).
 */
export function operatorAbsentSinceMs(op: OperatorRecord): number | null {
  if (isOperatorConnected(op)) {
    return null;
  }
  let latest: string | null = null;
  for (const clock of op.sessionsClosed.values()) {
    if (latest === null || compareStamps(clock, latest) > 0) {
      latest = clock;
    }
  }
  if (latest !== null) {
    return stampWallMs(latest);
  }
  return op.status ? stampWallMs(op.status.clock) : null;
}

/** Profile present, not disabled, online, connected and below their chat limit. */
export function isOperatorAvailable(state: ChatState, operatorId: string): boolean {
  const op = state.operators.get(operatorId);
  const profile = op?.profile?.value;
  if (!op || !profile || profile.disabled) {
    return false;
  }
  return (
    op.status?.value === 'online' &&
    isOperatorConnected(op) &&
    operatorLoad(state, operatorId) < profile.maxChats
  );
}
