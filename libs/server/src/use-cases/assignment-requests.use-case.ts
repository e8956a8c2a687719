import { Injectable } from '@nestjs/common';
import { visitorChatView, type ChatView } from '@chat/domain';
import { type OperatorPrincipal } from '../auth/principal';
import { DecisionRequester } from '../runtime/decisions';
import { ChatRuntime } from '../runtime/chat-runtime';
import { ApiError } from './api-error';

/** An operator takes a waiting chat by hand, or hands one over; the decider rules on both. */
@Injectable()
export class AssignmentRequestsUseCase {
  constructor(
    private readonly runtime: ChatRuntime,
    private readonly decisions: DecisionRequester,
  ) {}

  async take(principal: OperatorPrincipal, chatId: string): Promise<ChatView> {
    this.assertSameSite(principal, chatId);
    await this.decisions.take({ operatorId: principal.operatorId, chatId });
    return this.view(chatId);
  }

  async transfer(
    principal: OperatorPrincipal,
    request: { chatId: string; toOperatorId?: string; toDepartmentId?: string },
  ): Promise<ChatView> {
    this.assertSameSite(principal, request.chatId);
    await this.decisions.transfer({ requestedBy: principal.operatorId, ...request });
    return this.view(request.chatId);
  }

  private assertSameSite(principal: OperatorPrincipal, chatId: string): void {
    const chat = this.runtime.state.chats.get(chatId);
    // Another site's chat is reported exactly like a missing one: no probing across tenants.
    if (!chat?.started || chat.siteId !== principal.siteId) {
      throw new ApiError('CHAT_NOT_FOUND', 'no such chat');
    }
  }

  private view(chatId: string): ChatView {
    const chat = visitorChatView(this.runtime.state, chatId);
    if (!chat) throw new ApiError('CHAT_NOT_FOUND', 'no such chat');
    return { ...chat, messages: [] };
  }
}
