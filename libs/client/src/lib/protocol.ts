/**
 * The wire shapes the client speaks (docs/protocol.md). The views are the server's own types,
 * imported for their types only, so nothing of the server's libraries runs in the browser.
 */
import type {
  Author,
  ChatView,
  Department,
  MessageView,
  OperatorChatView,
  OperatorDeltaItem,
  OperatorSnapshot,
  OperatorView,
} from '@chat/domain';

export type {
  Author,
  ChatView,
  Department,
  MessageView,
  OperatorChatView,
  OperatorDeltaItem,
  OperatorSnapshot,
  OperatorView,
};

/** Every acknowledgement the server sends. */
export type Ack<T> =
  | { ok: true; data: T }
  | { ok: false; error: { code: string; message: string; details?: unknown } };

/** The answer to `chat.sync`. */
export interface ChatSyncAnswer<C extends ChatView = ChatView> {
  messages: MessageView[];
  from: 'position' | 'start';
  lastMessageId: string | null;
  chat: C;
}

/** `state.delta` on the operator channel. */
export interface OperatorDelta {
  revision: number;
  items: OperatorDeltaItem[];
}

/** `typing` on either channel: the other side is (not) typing. */
export interface TypingSignal {
  chatId: string;
  author: { kind: 'visitor' | 'operator'; id: string; name: string };
  isTyping: boolean;
}

/** A client's position in one chat, as `chat.sync` takes it. */
export interface ResyncPosition {
  afterMessageId: string | null;
  digest: string;
}

export function isAck(value: unknown): value is Ack<unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const ok = (value as { ok?: unknown }).ok;
  if (ok === true) return 'data' in value;
  const error = (value as { error?: { code?: unknown } }).error;
  return (
    ok === false && typeof error === 'object' && error !== null && typeof error.code === 'string'
  );
}
