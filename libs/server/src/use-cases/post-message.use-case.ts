import { Injectable } from '@nestjs/common';
import {
  assertCanPostMessage,
  newId,
  messageView,
  type Author,
  type MessageView,
} from '@chat/domain';
import { ChatRuntime } from '../runtime/chat-runtime';

export interface PostMessageCommand {
  chatId: string;
  author: Author;
  clientMessageId: string;
  text: string;
}

/**
 * Adds a message to a chat. Idempotent by the client's message id: a re-sent message (after a
 * reconnect, or twice in flight) gets the first one's answer, once that one is confirmed.
 */
@Injectable()
export class PostMessageUseCase {
  /** confirmations still outstanding, by server message id */
  private readonly pending = new Map<string, Promise<unknown>>();

  constructor(private readonly runtime: ChatRuntime) {}

  async execute(cmd: PostMessageCommand): Promise<MessageView> {
    const state = this.runtime.state;
    assertCanPostMessage(state, { chatId: cmd.chatId, author: cmd.author });
    const chat = state.chats.get(cmd.chatId);
    const existing = chat?.messages.find(
      (m) =>
        m.clientMessageId === cmd.clientMessageId &&
        m.author.kind === cmd.author.kind &&
        m.author.id === cmd.author.id,
    );
    if (existing) {
      await this.pending.get(existing.id);
      return messageView(existing);
    }
    const messageId = newId();
    const confirmation = this.runtime.commit('chat.message.added', {
      chatId: cmd.chatId,
      siteId: chat?.siteId ?? '',
      messageId,
      clientMessageId: cmd.clientMessageId,
      author: cmd.author,
      text: cmd.text,
    });
    this.pending.set(messageId, confirmation);
    try {
      const event = await confirmation;
      return messageView({
        id: messageId,
        chatId: cmd.chatId,
        clientMessageId: cmd.clientMessageId,
        author: cmd.author,
        text: cmd.text,
        clock: event.clock,
      });
    } finally {
      this.pending.delete(messageId);
    }
  }
}
