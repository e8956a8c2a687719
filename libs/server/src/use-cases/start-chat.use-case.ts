import { Injectable } from '@nestjs/common';
import {
  chatStartIdsFor,
  newId,
  visitorChatView,
  type ChatView,
  type DomainEvent,
} from '@chat/domain';
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

export interface StartChatCommand {
  body: StartChatBody;
  /** the client's `Idempotency-Key`: a retry with the same key answers the same chat */
  idempotencyKey?: string;
}

/**
 * A visitor opens a chat; it waits in the queue until the master assigns it. With an idempotency
 * key the chat and visitor ids are derived from (site, key) on every node, so a retried start (a
 * lost answer, a 502 from the balancer while a node died) answers the chat the first attempt
 * opened instead of opening a second one.
 */
@Injectable()
export class StartChatUseCase {
  /** starts accepted here whose confirmation is pending or failed, by chat id */
  private readonly unconfirmed = new Map<
    string,
    { event: DomainEvent; confirmation: Promise<void> }
  >();

  constructor(
    private readonly runtime: ChatRuntime,
    private readonly tokens: TokenService,
  ) {}

  async execute({ body, idempotencyKey }: StartChatCommand): Promise<StartedChat> {
    const state = this.runtime.state;
    const ids =
      idempotencyKey === undefined
        ? { chatId: newId(), visitorId: newId() }
        : chatStartIdsFor(body.siteId, idempotencyKey);
    const existing = state.chats.get(ids.chatId);
    if (existing?.started) {
      // A retry. Started here: wait for (or redo) the first attempt's confirmation. Arrived over
      // the state fan-out: durable already (the persistence queue is bound to that exchange).
      await this.confirmExisting(ids.chatId);
      return this.answer(body.siteId, ids.chatId, existing.visitor?.id ?? ids.visitorId);
    }
    requireSiteAndDepartment(state, body.siteId, body.departmentId ?? null);
    if (!siteAvailability(state, body.siteId).online) {
      throw new ApiError(
        'NO_OPERATORS_ONLINE',
        'nobody is online: leave an offline message with POST /l/v/offline-messages',
      );
    }
    const { event, confirmation } = this.runtime.emit('chat.started', {
      chatId: ids.chatId,
      siteId: body.siteId,
      departmentId: body.departmentId ?? null,
      visitor: { id: ids.visitorId, name: body.name, email: body.email ?? null },
      fields: body.fields ?? {},
    });
    await this.track(ids.chatId, event, confirmation);
    return this.answer(body.siteId, ids.chatId, ids.visitorId);
  }

  private async confirmExisting(chatId: string): Promise<void> {
    const pending = this.unconfirmed.get(chatId);
    if (!pending) return;
    const settled = await pending.confirmation.then(
      () => true,
      () => false,
    );
    if (!settled) await this.track(chatId, pending.event, this.runtime.publish(pending.event));
  }

  /** Kept until confirmed: a failed attempt stays here for the retry to publish again. */
  private async track(chatId: string, event: DomainEvent, confirmation: Promise<void>) {
    this.unconfirmed.set(chatId, { event, confirmation });
    await confirmation;
    this.unconfirmed.delete(chatId);
  }

  private answer(siteId: string, chatId: string, visitorId: string): StartedChat {
    const chat = visitorChatView(this.runtime.state, chatId);
    if (!chat) throw new ApiError('INTERNAL', 'chat vanished after start');
    const token = this.tokens.issueVisitor({ visitorId, siteId, chatId });
    return { chatId, visitorId, token, chat };
  }
}
