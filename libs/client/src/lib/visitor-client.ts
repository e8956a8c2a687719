import { type Socket } from 'socket.io-client';
import { type BaseClientEvents, ChatClientBase, type ClientOptions } from './chat-client-base';
import { newClientMessageId } from './client-message-id';
import { MessageSet } from './message-set';
import { type PendingMessage } from './outbox';
import type { ChatSyncAnswer, ChatView, MessageView, TypingSignal } from './protocol';

export interface VisitorClientEvents extends BaseClientEvents {
  /** a message the client did not hold: each message exactly once, across reconnects */
  message: (message: MessageView) => void;
  /** the chat changed (status, operator, closing, rating); `messages` is every known message */
  chat: (chat: ChatView) => void;
  /** the operator is (no longer) typing */
  typing: (signal: TypingSignal) => void;
}

/**
 * A visitor's side of one chat over `/ws/v/chat` (the token names the chat). Keeps every message
 * it sent until the server acknowledged it, and after every (re)connection resyncs: merges the
 * chat, asks for the messages it lacks from its own position, then re-sends what is unacknowledged,
 * in order. The server drops re-sent duplicates by the client message id.
 */
export class VisitorClient extends ChatClientBase<VisitorClientEvents, PendingMessage> {
  private readonly known = new MessageSet();
  private meta: ChatView | null = null;
  private view: ChatView | null = null;
  /** counts `chat.state` and `chat.updated` pushes (see `resync`) */
  private pushes = 0;

  constructor(options: ClientOptions) {
    super(options, options.path ?? '/ws/v/chat');
  }

  /** Every message known, ordered by (clock, id), without duplicates. */
  get messages(): readonly MessageView[] {
    return this.known.all;
  }

  /** The chat with every known message; null until the first `chat.state`. */
  get chat(): ChatView | null {
    if (!this.meta) return null;
    this.view ??= { ...this.meta, messages: [...this.known.all] };
    return this.view;
  }

  /** Messages sent and not acknowledged yet, oldest first. */
  get pending(): readonly { clientMessageId: string; text: string }[] {
    return this.pendingItems().map(({ clientMessageId, text }) => ({ clientMessageId, text }));
  }

  /**
   * Sends a message. Resolves with the server's message once the server acknowledged it (stored
   * durably), however many reconnections that takes; rejects only when the server refuses it for
   * good (`VALIDATION_FAILED`, `PAYLOAD_TOO_LARGE`, `CHAT_CLOSED`, `CHAT_NOT_FOUND`, ...) or the
   * client is closed. Re-sending with the same `clientMessageId` never duplicates the message.
   */
  send(text: string, clientMessageId: string = newClientMessageId()): Promise<MessageView> {
    return this.enqueue({ clientMessageId, text });
  }

  /** Tells the operator the visitor is (not) typing; nothing is sent while disconnected. */
  async typing(isTyping: boolean): Promise<void> {
    if (!this.isReady()) return;
    await this.call<{ sent: boolean }>('typing', { isTyping });
  }

  /** Closes the chat (final). */
  closeChat(reason?: string): Promise<ChatView> {
    return this.call<ChatView>('chat.close', reason === undefined ? {} : { reason });
  }

  /** Rates the closed chat, once. */
  rate(rating: number, comment?: string): Promise<ChatView> {
    return this.call<ChatView>(
      'chat.rate',
      comment === undefined ? { rating } : { rating, comment },
    );
  }

  protected bind(socket: Socket): void {
    socket.on('chat.state', (chat: ChatView) => this.onChatState(chat));
    socket.on('message.new', (message: MessageView) => this.merge(message));
    socket.on('chat.updated', (chat: ChatView) => {
      this.pushes += 1;
      this.setChat(chat);
    });
    socket.on('typing', (signal: TypingSignal) => this.emitter.emit('typing', signal));
  }

  protected sendPayload(item: PendingMessage): unknown {
    return { clientMessageId: item.clientMessageId, text: item.text };
  }

  protected accept(_item: PendingMessage, message: MessageView): void {
    this.merge(message);
  }

  /** The chat as the node holds it, after every connection: merge, then ask for what is missing. */
  private onChatState(chat: ChatView): void {
    const connection = this.connection;
    this.pushes += 1;
    this.setChat(chat);
    for (const message of chat.messages) this.merge(message);
    void this.resync(connection);
  }

  private async resync(connection: number): Promise<void> {
    const asked = this.pushes;
    const answer = await this.resyncRequest<ChatSyncAnswer>(connection, 'chat.sync', () =>
      this.known.position(),
    );
    if (answer === null) return;
    if (!answer.ok) {
      this.fail(answer.error);
      return;
    }
    let added = 0;
    for (const message of answer.data.messages) if (this.merge(message)) added += 1;
    // The answer's chat is the chat as the node saw it when it answered; a push handled since
    // the request is as new or newer (in Node, a `chat.updated` that follows the answer is handled
    // before this continuation runs). Applying the answer over it would undo it.
    if (this.pushes === asked) this.setChat(answer.data.chat);
    this.markReady(connection, {
      chats: 1,
      received: answer.data.messages.length,
      added,
      fromStart: answer.data.from === 'start' ? 1 : 0,
    });
  }

  private merge(message: MessageView): boolean {
    const added = this.known.add(message);
    this.view = null;
    if (added) this.emitter.emit('message', message);
    return added;
  }

  /** Keeps the chat without its messages (they live in `known`); announces it if it changed. */
  private setChat(chat: ChatView): void {
    const next = { ...chat, messages: [] };
    if (JSON.stringify(next) === JSON.stringify(this.meta)) return;
    this.meta = next;
    this.view = null;
    const view = this.chat;
    if (view) this.emitter.emit('chat', view);
  }
}
