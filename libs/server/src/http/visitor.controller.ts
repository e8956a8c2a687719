import { Body, Controller, Get, Headers, HttpCode, Param, Post } from '@nestjs/common';
import { RateLimit } from '../limits/rate-limit.guard';
import { ChatRuntime } from '../runtime/chat-runtime';
import { id } from '../schemas/common';
import { idempotencyKey, offlineMessageBody, startChatBody } from '../schemas/http.schemas';
import { ApiError } from '../use-cases/api-error';
import { LeaveOfflineMessageUseCase } from '../use-cases/leave-offline-message.use-case';
import { siteAvailability } from '../use-cases/site-availability';
import { type StartedChat, StartChatUseCase } from '../use-cases/start-chat.use-case';
import { parseInput } from './parse';

@Controller('l/v')
export class VisitorController {
  constructor(
    private readonly runtime: ChatRuntime,
    private readonly startChat: StartChatUseCase,
    private readonly offline: LeaveOfflineMessageUseCase,
  ) {}

  /** The widget asks this before showing the chat form or the offline form. */
  @Get('sites/:siteId/availability')
  availability(@Param('siteId') siteId: string): { online: boolean } {
    const site = parseInput(id, siteId);
    if (!this.runtime.state.sites.has(site)) throw new ApiError('SITE_NOT_FOUND', 'no such site');
    return siteAvailability(this.runtime.state, site);
  }

  @Post('chats')
  @HttpCode(201)
  @RateLimit('chatStarts')
  start(
    @Body() body: unknown,
    @Headers('idempotency-key') key: string | undefined,
  ): Promise<StartedChat> {
    return this.startChat.execute({
      body: parseInput(startChatBody, body),
      idempotencyKey: key === undefined ? undefined : parseInput(idempotencyKey, key),
    });
  }

  @Post('offline-messages')
  @HttpCode(201)
  @RateLimit('offlineMessages')
  leaveMessage(@Body() body: unknown): Promise<{ id: string }> {
    return this.offline.execute(parseInput(offlineMessageBody, body));
  }
}
