import {
  messagesForResync,
  messageView,
  type ChatRecord,
  type ChatView,
  type MessageView,
  type ResyncPosition,
} from '@chat/domain';

/** The answer to `chat.sync`, on both channels (an operator's `chat` also carries its audit). */
export interface ChatSync<C extends ChatView = ChatView> {
  /** what the client lacks, in (clock, id) order; the whole chat when `from` is 'start' */
  messages: MessageView[];
  /** 'position': only what follows the client's position; 'start': every message of the chat */
  from: 'position' | 'start';
  /** the node's newest message id (the client re-sends its unacknowledged messages anyway) */
  lastMessageId: string | null;
  /** the chat, with `messages: []` */
  chat: C;
}

/** What a client at `position` lacks in `record` (see `messagesForResync`), with the chat view. */
export function chatSyncAnswer<C extends ChatView>(
  record: ChatRecord,
  chat: C,
  position: ResyncPosition,
): ChatSync<C> {
  const answer = messagesForResync(record, position);
  const last = record.messages[record.messages.length - 1];
  return {
    messages: answer.messages.map((m) => messageView(m)),
    from: answer.from,
    lastMessageId: last?.id ?? null,
    chat: { ...chat, messages: [] },
  };
}
