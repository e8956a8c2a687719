import { type Socket } from 'socket.io-client';
import { type BaseClientEvents, ChatClientBase, type ClientOptions } from './chat-client-base';
import { newClientMessageId } from './client-message-id';
import { MessageSet } from './message-set';
import { type PendingMessage } from './outbox';
import type {
  ChatSyncAnswer,
  ChatView,
  Department,
  MessageView,
  OperatorChatView,
  OperatorDelta,
  OperatorSnapshot,
  OperatorView,
  TypingSignal,
} from './protocol';

export interface OperatorClientEvents extends BaseClientEvents {
  /** a message the client did not hold: each message exactly once, across reconnects */
  message: (chatId: string, message: MessageView) => void;
  /** a chat of the queue or of the operator changed, or left them; `messages` is every known one */
  chat: (chat: OperatorChatView) => void;
  /** the whole state after each (re)connection's resync */
  state: (snapshot: OperatorSnapshot) => void;
  /** a colleague (or the operator themself) changed status, connection, load, ... */
  operator: (operator: OperatorView) => void;
  /** a visitor is (no longer) typing */
  typing: (signal: TypingSignal) => void;
}

/** The operator's pending messages name their chat. */
export interface OperatorPendingMessage extends PendingMessage {
  readonly chatId: string;
}

/** Target of a transfer: a colleague, or a department's queue. */
export type TransferTarget = { toOperatorId: string } | { toDepartmentId: string };

/**
 * An operator's console connection over `/ws/o/delta`: the site's queue and the operator's chats,
 * kept up to date from `state.full` and `state.delta`, with every chat's messages resynced from the
 * client's own position after each (re)connection and whenever a chat comes (back) into view.
 * Messages are kept until acknowledged and re-sent in order after reconnecting.
 */
export class OperatorClient extends ChatClientBase<OperatorClientEvents, OperatorPendingMessage> {
  private me: OperatorView | null = null;
  private revision = 0;
  /** revision of the last `state.full`: older deltas are already part of it */
  private fullRevision = -1;
  private readonly departments = new Map<string, Department>();
  private readonly colleagues = new Map<string, OperatorView>();
  /** chats in view (waiting, or assigned to the operator), without messages */
  private readonly chats = new Map<string, OperatorChatView>();
  /** every chat's known messages, kept when a chat leaves the view */
  private readonly known = new Map<string, MessageSet>();
  private cached: OperatorSnapshot | null = null;
  /**
   * Counts the server's pushes that describe chats (`state.full`, `chat` delta items), so that a
   * `chat.sync` answer is not applied over a fresher push (see `resyncChat`).
   */
  private pushes = 0;
  private fullPush = 0;
  private readonly chatPushes = new Map<string, number>();

  constructor(options: ClientOptions) {
    super(options, options.path ?? '/ws/o/delta');
  }

  /** Everything the console shows, with every known message; null until the first full state. */
  get snapshot(): OperatorSnapshot | null {
    if (!this.me) return null;
    this.cached ??= this.buildSnapshot(this.me);
    return this.cached;
  }

  /** Messages sent and not acknowledged yet, oldest first. */
  get pending(): readonly { chatId: string; clientMessageId: string; text: string }[] {
    return this.pendingItems().map(({ chatId, clientMessageId, text }) => ({
      chatId,
      clientMessageId,
      text,
    }));
  }

  /** Every known message of a chat, ordered by (clock, id), without duplicates. */
  messages(chatId: string): readonly MessageView[] {
    return this.known.get(chatId)?.all ?? [];
  }

  /**
   * Sends a message to a chat assigned to the operator. Resolves with the server's message once
   * acknowledged, however many reconnections that takes; rejects only when refused for good
   * (`NOT_CHAT_OPERATOR`, `CHAT_CLOSED`, `CHAT_NOT_FOUND`, `VALIDATION_FAILED`, ...) or closed.
   */
  send(
    chatId: string,
    text: string,
    clientMessageId: string = newClientMessageId(),
  ): Promise<MessageView> {
    return this.enqueue({ chatId, clientMessageId, text });
  }

  /** Takes a waiting chat by hand. */
  take(chatId: string): Promise<ChatView> {
    return this.call<ChatView>('chat.take', { chatId });
  }

  /** Gives one of the operator's chats to a colleague or back to a department's queue. */
  transfer(chatId: string, target: TransferTarget): Promise<ChatView> {
    return this.call<ChatView>('chat.transfer', { chatId, ...target });
  }

  /** Closes one of the operator's chats (final). */
  closeChat(chatId: string, reason?: string): Promise<ChatView> {
    return this.call<ChatView>(
      'chat.close',
      reason === undefined ? { chatId } : { chatId, reason },
    );
  }

  /** Tells the chat's visitor the operator is (not) typing; nothing is sent while disconnected. */
  async typing(chatId: string, isTyping: boolean): Promise<void> {
    if (!this.isReady()) return;
    await this.call<{ sent: boolean }>('typing', { chatId, isTyping });
  }

  protected bind(socket: Socket): void {
    socket.on('state.full', (snapshot: OperatorSnapshot) => this.onFull(snapshot));
    socket.on('state.delta', (delta: OperatorDelta) => this.onDelta(delta));
    socket.on('typing', (signal: TypingSignal) => this.emitter.emit('typing', signal));
  }

  protected sendPayload(item: OperatorPendingMessage): unknown {
    return { chatId: item.chatId, clientMessageId: item.clientMessageId, text: item.text };
  }

  protected accept(item: OperatorPendingMessage, message: MessageView): void {
    this.merge(item.chatId, message);
  }

  /** After every connection (and after a node's catch-up): replace the view, resync every chat. */
  private onFull(snapshot: OperatorSnapshot): void {
    const connection = this.connection;
    this.fullPush = ++this.pushes;
    this.chatPushes.clear();
    this.me = snapshot.me;
    this.revision = snapshot.revision;
    this.fullRevision = snapshot.revision;
    this.departments.clear();
    for (const department of snapshot.departments) this.departments.set(department.id, department);
    this.colleagues.clear();
    for (const colleague of snapshot.colleagues) this.colleagues.set(colleague.id, colleague);
    this.chats.clear();
    const inView = [...snapshot.queue, ...snapshot.chats];
    for (const chat of inView) {
      this.chats.set(chat.id, { ...chat, messages: [] });
      for (const message of chat.messages) this.merge(chat.id, message);
    }
    this.cached = null;
    void this.resyncAll(
      connection,
      inView.map((c) => c.id),
    );
  }

  private async resyncAll(connection: number, chatIds: string[]): Promise<void> {
    const results = await Promise.all(chatIds.map((id) => this.resyncChat(connection, id)));
    if (!this.isCurrent(connection)) return;
    const info = { chats: chatIds.length, received: 0, added: 0, fromStart: 0 };
    for (const result of results) {
      if (result === null) return;
      info.received += result.received;
      info.added += result.added;
      info.fromStart += result.fromStart;
    }
    const snapshot = this.snapshot;
    if (snapshot) this.emitter.emit('state', snapshot);
    this.markReady(connection, info);
  }

  /** Asks for what the client lacks in one chat; null when the connection ended meanwhile. */
  private async resyncChat(
    connection: number,
    chatId: string,
  ): Promise<{ received: number; added: number; fromStart: number } | null> {
    const asked = this.pushes;
    const answer = await this.resyncRequest<ChatSyncAnswer<OperatorChatView>>(
      connection,
      'chat.sync',
      () => ({ chatId, ...this.setOf(chatId).position() }),
    );
    if (answer === null) return null;
    // NOT_CHAT_OPERATOR, CHAT_NOT_FOUND: the chat left the operator's view meanwhile; a delta
    // says so too.
    if (!answer.ok) return { received: 0, added: 0, fromStart: 0 };
    let added = 0;
    for (const message of answer.data.messages) if (this.merge(chatId, message)) added += 1;
    // The answer's chat is the chat as the node saw it when it answered. A push about the chat
    // handled since the request is as new or newer: a change after the answer comes as a delta
    // anyway, and in Node the delta that follows an answer is handled before this continuation
    // runs. Applying the answer over it would undo it (e.g. an assigned chat back to "waiting").
    if ((this.chatPushes.get(chatId) ?? 0) <= asked && this.fullPush <= asked) {
      this.upsertChat(answer.data.chat, connection, false);
    }
    return {
      received: answer.data.messages.length,
      added,
      fromStart: answer.data.from === 'start' ? 1 : 0,
    };
  }

  private onDelta(delta: OperatorDelta): void {
    // Already part of the last full state (docs/protocol.md, revisions).
    if (delta.revision <= this.fullRevision) return;
    this.revision = Math.max(this.revision, delta.revision);
    for (const item of delta.items) {
      switch (item.kind) {
        case 'message':
          this.merge(item.message.chatId, item.message);
          break;
        case 'chat':
          this.chatPushes.set(item.chat.id, ++this.pushes);
          this.upsertChat(item.chat, this.connection);
          break;
        case 'operator':
          this.colleagues.set(item.operator.id, item.operator);
          if (item.operator.id === this.me?.id) this.me = item.operator;
          this.cached = null;
          this.emitter.emit('operator', item.operator);
          break;
        case 'department':
          this.departments.set(item.department.id, item.department);
          this.cached = null;
          break;
      }
    }
  }

  /**
   * Keeps a chat in view while it waits or is the operator's, drops it otherwise. A chat that
   * comes (back) into view is resynced: deltas carry only new messages, not its history. A delta
   * is always announced; a resync answer only when it changed the chat.
   */
  private upsertChat(chat: OperatorChatView, connection: number, fromDelta = true): void {
    const before = this.chats.get(chat.id);
    const next = { ...chat, messages: [] };
    const visible =
      chat.status === 'waiting' ||
      (chat.status === 'assigned' && chat.operator?.id === this.me?.id);
    if (visible) this.chats.set(chat.id, next);
    else this.chats.delete(chat.id);
    this.cached = null;
    if (fromDelta || JSON.stringify(before) !== JSON.stringify(visible ? next : undefined)) {
      this.emitter.emit('chat', { ...chat, messages: [...this.messages(chat.id)] });
    }
    if (visible && !before) void this.resyncChat(connection, chat.id);
  }

  private merge(chatId: string, message: MessageView): boolean {
    const added = this.setOf(chatId).add(message);
    this.cached = null;
    if (added) this.emitter.emit('message', chatId, message);
    return added;
  }

  private setOf(chatId: string): MessageSet {
    let set = this.known.get(chatId);
    if (!set) {
      set = new MessageSet();
      this.known.set(chatId, set);
    }
    return set;
  }

  private buildSnapshot(me: OperatorView): OperatorSnapshot {
    const withMessages = (chat: OperatorChatView): OperatorChatView => ({
      ...chat,
      messages: [...this.messages(chat.id)],
    });
    const inView = [...this.chats.values()];
    const byName = <T extends { id: string; name: string }>(a: T, b: T): number =>
      a.name === b.name ? (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) : a.name < b.name ? -1 : 1;
    return {
      revision: this.revision,
      me,
      departments: [...this.departments.values()].sort(byName),
      colleagues: [...this.colleagues.values()].sort(byName),
      queue: inView
        .filter((c) => c.status === 'waiting')
        .sort((a, b) => (a.waitingSince ?? 0) - (b.waitingSince ?? 0) || (a.id < b.id ? -1 : 1))
        .map(withMessages),
      chats: inView
        .filter((c) => c.status === 'assigned')
        .sort((a, b) => a.startedAt - b.startedAt || (a.id < b.id ? -1 : 1))
        .map(withMessages),
    };
  }
}
