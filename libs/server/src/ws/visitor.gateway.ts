import { Inject } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
  type OnGatewayInit,
  SubscribeMessage,
  WebSocketGateway,
} from '@nestjs/websockets';
import {
  chatView,
  visitorChatView,
  type Author,
  type ChatView,
  type MessageView,
} from '@chat/domain';
import { type Server, type Socket } from 'socket.io';
import { type VisitorPrincipal } from '../auth/principal';
import { TokenService } from '../auth/token.service';
import { ClientLimits } from '../limits/client-limits';
import { limitSockets } from '../limits/socket-limits';
import { Metrics } from '../metrics/metrics';
import { ChatRuntime } from '../runtime/chat-runtime';
import { visitorEvents, type VisitorEventPayload } from '../schemas/socket.schemas';
import { ApiError } from '../use-cases/api-error';
import { EndChatUseCase } from '../use-cases/end-chat.use-case';
import { LiveSessionUseCase } from '../use-cases/live-session.use-case';
import { PostMessageUseCase } from '../use-cases/post-message.use-case';
import { type ChatSync, chatSyncAnswer } from './chat-sync';
import { LiveBroadcaster } from './live-broadcaster';
import { principalOf, requireRole, wantsResync } from './socket-auth';
import { MAX_PAYLOAD_BYTES, SOCKET_SERVER_OPTIONS } from './socket-options';
import { handleSocketEvent, replyToUnknownEvents, type SocketReply } from './socket-reply';

type Data<E extends keyof typeof visitorEvents> = VisitorEventPayload<E>;

/**
 * The visitor's socket (`/ws/v/chat`): bound to the one chat of its token. On connect the whole
 * chat (`chat.state`); then `message.new`, `chat.updated`, `typing`.
 */
@WebSocketGateway({ ...SOCKET_SERVER_OPTIONS, path: '/ws/v/chat' })
export class VisitorGateway implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect {
  constructor(
    private readonly runtime: ChatRuntime,
    private readonly tokens: TokenService,
    private readonly broadcaster: LiveBroadcaster,
    private readonly sessions: LiveSessionUseCase,
    private readonly messages: PostMessageUseCase,
    private readonly endChat: EndChatUseCase,
    @Inject(MAX_PAYLOAD_BYTES) private readonly maxBytes: number,
    private readonly metrics: Metrics,
    private readonly limits: ClientLimits,
  ) {}

  afterInit(server: Server): void {
    requireRole(server, this.tokens, 'visitor', () =>
      this.metrics.inputRejected.inc({ channel: 'handshake' }),
    );
    limitSockets(server, this.limits);
  }

  handleConnection(socket: Socket): void {
    const me = principalOf<VisitorPrincipal>(socket);
    replyToUnknownEvents(socket, visitorEvents);
    const chat = visitorChatView(this.runtime.state, me.chatId);
    if (!chat) {
      socket.emit('request.error', {
        code: 'CHAT_NOT_FOUND',
        message: 'this chat is no longer available',
      });
      socket.disconnect(true);
      return;
    }
    // A resyncing client fetches the messages itself with chat.sync from its own position.
    socket.emit('chat.state', wantsResync(socket) ? { ...chat, messages: [] } : chat);
    this.broadcaster.addVisitor(me.chatId, socket);
  }

  handleDisconnect(socket: Socket): void {
    const me = principalOf<VisitorPrincipal>(socket) as VisitorPrincipal | undefined;
    if (me) this.broadcaster.removeVisitor(me.chatId, socket);
  }

  @SubscribeMessage('message.send')
  send(
    @ConnectedSocket() socket: Socket,
    @MessageBody() body: unknown,
  ): Promise<SocketReply<MessageView>> {
    return this.handle('message.send', body, async (input: Data<'message.send'>) => {
      const me = principalOf<VisitorPrincipal>(socket);
      await this.limits.admit('chatMessages', me.chatId);
      return this.messages.execute({
        chatId: me.chatId,
        author: this.author(me),
        clientMessageId: input.clientMessageId,
        text: input.text,
      });
    });
  }

  @SubscribeMessage('typing')
  typing(
    @ConnectedSocket() socket: Socket,
    @MessageBody() body: unknown,
  ): Promise<SocketReply<{ sent: boolean }>> {
    return this.handle('typing', body, (input: Data<'typing'>) => {
      const me = principalOf<VisitorPrincipal>(socket);
      return { sent: this.sessions.typing(me.chatId, this.author(me), input.isTyping) };
    });
  }

  @SubscribeMessage('chat.close')
  close(
    @ConnectedSocket() socket: Socket,
    @MessageBody() body: unknown,
  ): Promise<SocketReply<ChatView>> {
    return this.handle('chat.close', body, (input: Data<'chat.close'>) => {
      const me = principalOf<VisitorPrincipal>(socket);
      return this.endChat.close(
        me.chatId,
        this.author(me),
        me.siteId,
        input?.reason ?? 'closed by visitor',
      );
    });
  }

  @SubscribeMessage('chat.rate')
  rate(
    @ConnectedSocket() socket: Socket,
    @MessageBody() body: unknown,
  ): Promise<SocketReply<ChatView>> {
    return this.handle('chat.rate', body, (input: Data<'chat.rate'>) => {
      const me = principalOf<VisitorPrincipal>(socket);
      return this.endChat.rate(
        me.chatId,
        me.visitorId,
        me.siteId,
        input.rating,
        input.comment ?? null,
      );
    });
  }

  /**
   * Resync after a (re)connect: the client sends its position (its newest message id and the
   * digest of every id it holds) and gets what it lacks; see `messagesForResync`.
   */
  @SubscribeMessage('chat.sync')
  sync(
    @ConnectedSocket() socket: Socket,
    @MessageBody() body: unknown,
  ): Promise<SocketReply<ChatSync>> {
    return this.handle('chat.sync', body, (input: Data<'chat.sync'>) => {
      const me = principalOf<VisitorPrincipal>(socket);
      const record = this.runtime.state.chats.get(me.chatId);
      const chat = record && chatView(this.runtime.state, record, false);
      if (!record || !chat)
        throw new ApiError('CHAT_NOT_FOUND', 'this chat is no longer available');
      return chatSyncAnswer(record, chat, input);
    });
  }

  private handle<E extends keyof typeof visitorEvents, T>(
    event: E,
    body: unknown,
    run: (input: Data<E>) => T | Promise<T>,
  ): Promise<SocketReply<T>> {
    return handleSocketEvent(
      visitorEvents[event],
      body,
      this.maxBytes,
      run as (input: unknown) => T,
      () => this.metrics.inputRejected.inc({ channel: 'socket' }),
    );
  }

  private author(me: VisitorPrincipal): Author {
    const name = this.runtime.state.chats.get(me.chatId)?.visitor?.name ?? 'Visitor';
    return { kind: 'visitor', id: me.visitorId, name };
  }
}
