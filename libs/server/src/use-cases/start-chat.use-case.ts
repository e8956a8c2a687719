import { Injectable } from '@nestjs/common';
import { newId, visitorChatView, type ChatView } from '@chat/domain';
import { TokenService } from '../auth/token.service';
import { ChatRuntime } from '../runtime/chat-runtime';
import { type StartChatBody } from '../schemas/http.schemas';
import { ApiError } from './api-error';
import { requireSiteAndDepartment } from './site-scope';
import { siteAvailability } from './site-availability';

export interface StartedChat {
  chatId: string;
  visitorId: string;
  token: string;
  chat: ChatView;
}

/** A visitor opens a chat; it waits in the queue until the master assigns it. */
@Injectable()
export class StartChatUseCase {
  constructor(
    private readonly runtime: ChatRuntime,
    private readonly tokens: TokenService,
  ) {}

  async execute(body: StartChatBody): Promise<StartedChat> {
    const state = this.runtime.state;
    const departmentId = body.departmentId ?? null;
    requireSiteAndDepartment(state, body.siteId, departmentId);
    if (!siteAvailability(state, body.siteId).online) {
      throw new ApiError(
        'NO_OPERATORS_ONLINE',
        'nobody is online: leave an offline message with POST /l/v/offline-messages',
      );
    }
    const chatId = newId();
    const visitorId = newId();
    await this.runtime.commit('chat.started', {
      chatId,
      siteId: body.siteId,
      departmentId,
      visitor: { id: visitorId, name: body.name, email: body.email ?? null },
      fields: body.fields ?? {},
    });
    const chat = visitorChatView(state, chatId);
    if (!chat) throw new ApiError('INTERNAL', 'chat vanished after start');
    const token = this.tokens.issueVisitor({ visitorId, siteId: body.siteId, chatId });
    return { chatId, visitorId, token, chat };
  }
}
