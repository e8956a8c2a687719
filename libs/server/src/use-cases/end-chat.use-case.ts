import { Injectable } from '@nestjs/common';
import {
  assertCanClose,
  assertCanRate,
  visitorChatView,
  type Author,
  type ChatView,
} from '@chat/domain';
import { ChatRuntime } from '../runtime/chat-runtime';
import { ApiError } from './api-error';

/** Closing a chat (by the visitor or its operator) and the visitor's rating afterwards. */
@Injectable()
export class EndChatUseCase {
  constructor(private readonly runtime: ChatRuntime) {}

  async close(chatId: string, by: Author, siteId: string, reason: string): Promise<ChatView> {
    assertCanClose(this.runtime.state, { chatId, by, siteId });
    await this.runtime.commit('chat.closed', { chatId, siteId, by, reason });
    return this.view(chatId);
  }

  async rate(
    chatId: string,
    visitorId: string,
    siteId: string,
    rating: number,
    comment: string | null,
  ): Promise<ChatView> {
    assertCanRate(this.runtime.state, { chatId, visitorId });
    await this.runtime.commit('chat.rated', { chatId, siteId, rating, comment });
    return this.view(chatId);
  }

  private view(chatId: string): ChatView {
    const chat = visitorChatView(this.runtime.state, chatId);
    if (!chat) throw new ApiError('CHAT_NOT_FOUND', 'no such chat');
    return { ...chat, messages: [] };
  }
}
