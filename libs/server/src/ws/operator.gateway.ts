import { Inject, Logger } from '@nestjs/common';
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
  operatorChatView,
  operatorSnapshot,
  type Author,
  type DomainEvent,
  type ChatView,
  type MessageView,
  type OperatorChatView,
  type OperatorSnapshot,
} from '@chat/domain';
import { randomUUID } from 'node:crypto';
import { type Server, type Socket } from 'socket.io';
import { type OperatorPrincipal } from '../auth/principal';
import { TokenService } from '../auth/token.service';
import { ClientLimits } from '../limits/client-limits';
import { limitSockets } from '../limits/socket-limits';
import { Metrics } from '../metrics/metrics';
import { ChatRuntime } from '../runtime/chat-runtime';
import { operatorEvents, type OperatorEventPayload } from '../schemas/socket.schemas';
import { ApiError } from '../use-cases/api-error';
import { AssignmentRequestsUseCase } from '../use-cases/assignment-requests.use-case';
import { EndChatUseCase } from '../use-cases/end-chat.use-case';
import { LiveSessionUseCase } from '../use-cases/live-session.use-case';
import { PostMessageUseCase } from '../use-cases/post-message.use-case';
import { type ChatSync, chatSyncAnswer } from './chat-sync';
import { LiveBroadcaster } from './live-broadcaster';
import { principalOf, requireRole, wantsResync } from './socket-auth';
import { handleSocketEvent, replyToUnknownEvents, type SocketReply } from './socket-reply';
import { MAX_PAYLOAD_BYTES, SOCKET_SERVER_OPTIONS } from './socket-options';

type Data<E extends keyof typeof operatorEvents> = OperatorEventPayload<E>;

/**
 * The operator's delta socket (`/ws/o/delta`): a full update on connect, then `state.delta`
 * pushes; requests are acknowledged with `{ ok, data | error }`.
 */
@WebSocketGateway({ ...SOCKET_SERVER_OPTIONS, path: '/ws/o/delta' })
export class OperatorGateway implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect {
  private readonly logger = new Logger(OperatorGateway.name);
  /** the operator sockets connected to this node, by their current session id */
  private readonly live = new Map<string, Socket>();

  constructor(
    private readonly runtime: ChatRuntime,
    private readonly tokens: TokenService,
    private readonly broadcaster: LiveBroadcaster,
    private readonly sessions: LiveSessionUseCase,
    private readonly messages: PostMessageUseCase,
    private readonly assignments: AssignmentRequestsUseCase,
    private readonly endChat: EndChatUseCase,
    @Inject(MAX_PAYLOAD_BYTES) private readonly maxBytes: number,
    private readonly metrics: Metrics,
    private readonly limits: ClientLimits,
  ) {}

  afterInit(server: Server): void {
    requireRole(server, this.tokens, 'operator', () =>
      this.metrics.inputRejected.inc({ channel: 'handshake' }),
    );
    limitSockets(server, this.limits);
    // A session closed while its socket is still here (the acting master took this node for dead
    // during a broker outage or a cut-off): closing is final in the state, so the socket gets a
    // new session. The same after a catch-up replaced the state.
    this.runtime.onChanges((_changes, event) => {
      if (event.type === 'operator.session.closed' && event.data.nodeId === this.runtime.nodeName) {
        this.renewSession(event.data.sessionId);
      }
    });
    this.runtime.onStateReplaced(() => {
      for (const [sessionId, socket] of [...this.live]) {
        const me = this.principal(socket);
        const record = this.runtime.state.operators.get(me.operatorId);
        if (!record?.sessionsOpened.has(sessionId)) this.renewSession(sessionId);
      }
    });
  }

  private renewSession(closedId: string): void {
    const socket = this.live.get(closedId);
    if (!socket || socket.disconnected) return;
    const me = this.principal(socket);
    const sessionId = randomUUID();
    this.live.delete(closedId);
    this.live.set(sessionId, socket);
    (socket.data as { sessionId: string }).sessionId = sessionId;
    this.logger.warn({ operatorId: me.operatorId, closedId, sessionId }, 'session renewed');
    const { event, confirmation } = this.runtime.emit('operator.session.opened', {
      operatorId: me.operatorId,
      siteId: me.siteId,
      sessionId,
      nodeId: this.runtime.nodeName,
    });
    this.confirmSession(event, confirmation, sessionId, socket);
  }

  /**
   * A renewal often happens while the broker connection is still coming back (the close arrives
   * with the first deliveries): publish the opening again until the broker confirms it, for as
   * long as that socket still holds that session.
   */
  private confirmSession(
    event: DomainEvent,
    confirmation: Promise<void>,
    sessionId: string,
    socket: Socket,
  ): void {
    confirmation.catch(() => {
      setTimeout(() => {
        if (socket.disconnected || this.live.get(sessionId) !== socket) return;
        this.confirmSession(event, this.runtime.publish(event), sessionId, socket);
      }, 500).unref();
    });
  }

  async handleConnection(socket: Socket): Promise<void> {
    const me = principalOf<OperatorPrincipal>(socket);
    const sessionId = randomUUID();
    (socket.data as { sessionId: string }).sessionId = sessionId;
    this.live.set(sessionId, socket);
    replyToUnknownEvents(socket, operatorEvents);
    try {
      await this.sessions.operatorConnected(me.operatorId, me.siteId, sessionId);
    } catch (error) {
      this.logger.warn({ err: error }, 'could not record operator session');
    }
    if (socket.disconnected) return;
    // Snapshot and registration in the same tick: no change can fall between the two.
    const snapshot = operatorSnapshot(this.runtime.state, me.operatorId, {
      withMessages: !wantsResync(socket),
    });
    if (!snapshot) {
      socket.emit('request.error', { code: 'UNAUTHORIZED', message: 'operator no longer exists' });
      socket.disconnect(true);
      return;
    }
    socket.emit('state.full', snapshot);
    this.broadcaster.addOperator(me.siteId, me.operatorId, socket);
  }

  async handleDisconnect(socket: Socket): Promise<void> {
    const me = principalOf<OperatorPrincipal>(socket) as OperatorPrincipal | undefined;
    const sessionId = (socket.data as { sessionId?: string }).sessionId;
    if (!me || !sessionId) return;
    this.live.delete(sessionId);
    this.broadcaster.removeOperator(me.siteId, me.operatorId, socket);
    try {
      await this.sessions.operatorDisconnected(me.operatorId, me.siteId, sessionId);
    } catch (error) {
      this.logger.warn({ err: error }, 'could not record operator session end');
    }
  }

  @SubscribeMessage('message.send')
  send(
    @ConnectedSocket() socket: Socket,
    @MessageBody() body: unknown,
  ): Promise<SocketReply<MessageView>> {
    return this.handle('message.send', body, async (input: Data<'message.send'>) => {
      const me = this.principal(socket);
      this.assertSiteChat(me, input.chatId);
      // Counted on the chat, after the site check: nobody can spend another tenant's budget.
      await this.limits.admit('chatMessages', input.chatId);
      return this.messages.execute({
        chatId: input.chatId,
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
      const me = this.principal(socket);
      this.assertSiteChat(me, input.chatId);
      return { sent: this.sessions.typing(input.chatId, this.author(me), input.isTyping) };
    });
  }

  @SubscribeMessage('chat.take')
  take(
    @ConnectedSocket() socket: Socket,
    @MessageBody() body: unknown,
  ): Promise<SocketReply<ChatView>> {
    return this.handle('chat.take', body, (input: Data<'chat.take'>) =>
      this.assignments.take(this.principal(socket), input.chatId),
    );
  }

  @SubscribeMessage('chat.transfer')
  transfer(
    @ConnectedSocket() socket: Socket,
    @MessageBody() body: unknown,
  ): Promise<SocketReply<ChatView>> {
    return this.handle('chat.transfer', body, (input: Data<'chat.transfer'>) =>
      this.assignments.transfer(this.principal(socket), input),
    );
  }

  @SubscribeMessage('chat.close')
  close(
    @ConnectedSocket() socket: Socket,
    @MessageBody() body: unknown,
  ): Promise<SocketReply<ChatView>> {
    return this.handle('chat.close', body, (input: Data<'chat.close'>) => {
      const me = this.principal(socket);
      this.assertSiteChat(me, input.chatId);
      return this.endChat.close(
        input.chatId,
        this.author(me),
        me.siteId,
        input.reason ?? 'closed by operator',
      );
    });
  }

  /** The client asks for a fresh full update, e.g. after it noticed a gap in revisions. */
  @SubscribeMessage('state.sync')
  sync(
    @ConnectedSocket() socket: Socket,
    @MessageBody() body: unknown,
  ): Promise<SocketReply<OperatorSnapshot>> {
    return this.handle('state.sync', body, () => {
      const snapshot = operatorSnapshot(this.runtime.state, this.principal(socket).operatorId);
      if (!snapshot) throw new ApiError('UNAUTHORIZED', 'operator no longer exists');
      return snapshot;
    });
  }

  /**
   * Resync of one chat after a (re)connect, or when a chat comes (back) into view: the client
   * sends its position in the chat and gets what it lacks (see the visitor's `chat.sync`). Any chat
   * of the site whose messages the operator is shown: waiting (or closed while waiting), or
   * assigned to them (closed included).
   */
  @SubscribeMessage('chat.sync')
  chatSync(
    @ConnectedSocket() socket: Socket,
    @MessageBody() body: unknown,
  ): Promise<SocketReply<ChatSync<OperatorChatView>>> {
    return this.handle('chat.sync', body, (input: Data<'chat.sync'>) => {
      const me = this.principal(socket);
      this.assertSiteChat(me, input.chatId);
      const state = this.runtime.state;
      const record = state.chats.get(input.chatId);
      const chat = record && operatorChatView(state, record, false);
      if (!record || !chat) throw new ApiError('CHAT_NOT_FOUND', 'no such chat');
      const holder = record.assignment?.operatorId ?? null;
      if (holder !== null && holder !== me.operatorId)
        throw new ApiError('NOT_CHAT_OPERATOR', 'the chat is assigned to another operator');
      return chatSyncAnswer(record, chat, input);
    });
  }

  private handle<E extends keyof typeof operatorEvents, T>(
    event: E,
    body: unknown,
    run: (input: Data<E>) => T | Promise<T>,
  ): Promise<SocketReply<T>> {
    return handleSocketEvent(
      operatorEvents[event],
      body,
      this.maxBytes,
      run as (input: unknown) => T,
      () => this.metrics.inputRejected.inc({ channel: 'socket' }),
    );
  }

  private principal(socket: Socket): OperatorPrincipal {
    return principalOf<OperatorPrincipal>(socket);
  }

  private author(me: OperatorPrincipal): Author {
    const name = this.runtime.state.operators.get(me.operatorId)?.profile?.value.name ?? 'Operator';
    return { kind: 'operator', id: me.operatorId, name };
  }

  /** Another site's chat is answered exactly like a missing one (isolation without probing). */
  private assertSiteChat(me: OperatorPrincipal, chatId: string): void {
    const chat = this.runtime.state.chats.get(chatId);
    if (!chat?.started || chat.siteId !== me.siteId)
      throw new ApiError('CHAT_NOT_FOUND', 'no such chat');
  }
}
