import { Injectable } from '@nestjs/common';
import {
  findMessage,
  operatorDelta,
  operatorSnapshot,
  messageView,
  visitorChatView,
  type OperatorDeltaItem,
  type Signal,
  type StateChange,
} from '@chat/domain';
import { ClusterBus } from '@chat/messaging';
import { type Socket } from 'socket.io';
import { ChatRuntime } from '../runtime/chat-runtime';
import { wantsResync } from './socket-auth';

/**
 * Pushes every applied change to the sockets connected to this node that may see it: operators
 * of the chat's site get `state.delta` (with this node's revision), the chat's visitor gets
 * `message.new` / `chat.updated`. Typing signals take the same routes.
 */
@Injectable()
export class LiveBroadcaster {
  /** siteId -> operatorId -> sockets */
  private readonly operators = new Map<string, Map<string, Set<Socket>>>();
  /** chatId -> visitor sockets */
  private readonly visitors = new Map<string, Set<Socket>>();

  constructor(
    private readonly runtime: ChatRuntime,
    bus: ClusterBus,
  ) {
    runtime.onChanges((changes) => this.onChanges(changes));
    runtime.onStateReplaced(() => this.resyncAll());
    bus.subscribeSignals((signal) => {
      // The signal fan-out also carries node heartbeats; only typing concerns clients.
      if ((signal as { type?: unknown }).type === 'typing') this.onSignal(signal as Signal);
    });
  }

  addOperator(siteId: string, operatorId: string, socket: Socket): void {
    const site = getOrCreate(this.operators, siteId, () => new Map<string, Set<Socket>>());
    getOrCreate(site, operatorId, () => new Set<Socket>()).add(socket);
  }

  removeOperator(siteId: string, operatorId: string, socket: Socket): void {
    const site = this.operators.get(siteId);
    const sockets = site?.get(operatorId);
    sockets?.delete(socket);
    if (sockets?.size === 0) site?.delete(operatorId);
    if (site?.size === 0) this.operators.delete(siteId);
  }

  addVisitor(chatId: string, socket: Socket): void {
    getOrCreate(this.visitors, chatId, () => new Set<Socket>()).add(socket);
  }

  removeVisitor(chatId: string, socket: Socket): void {
    const sockets = this.visitors.get(chatId);
    sockets?.delete(socket);
    if (sockets?.size === 0) this.visitors.delete(chatId);
  }

  get operatorSessionCount(): number {
    let n = 0;
    for (const site of this.operators.values()) for (const s of site.values()) n += s.size;
    return n;
  }

  get visitorSessionCount(): number {
    let n = 0;
    for (const s of this.visitors.values()) n += s.size;
    return n;
  }

  /**
   * The whole state was replaced (catch-up after a lost broker connection): deltas cannot describe
   * that, so every operator gets a fresh `state.full` and every visitor a fresh `chat.state`
   * (without messages for the clients that resync them with `chat.sync`).
   */
  resyncAll(): void {
    const state = this.runtime.state;
    for (const site of this.operators.values()) {
      for (const [operatorId, sockets] of site) {
        const full = lazy(() => operatorSnapshot(state, operatorId));
        const bare = lazy(() => operatorSnapshot(state, operatorId, { withMessages: false }));
        for (const socket of sockets) {
          const snapshot = wantsResync(socket) ? bare() : full();
          if (snapshot) socket.emit('state.full', snapshot);
        }
      }
    }
    for (const [chatId, sockets] of this.visitors) {
      const view = visitorChatView(state, chatId);
      if (!view) continue;
      for (const socket of sockets)
        socket.emit('chat.state', wantsResync(socket) ? { ...view, messages: [] } : view);
    }
  }

  private onChanges(changes: readonly StateChange[]): void {
    const state = this.runtime.state;
    const bySite = new Map<string, StateChange[]>();
    for (const change of changes) {
      getOrCreate(bySite, change.siteId, () => []).push(change);
      if (change.kind === 'message') this.toVisitors(change.chatId, 'message', change.messageId);
      else if (change.kind === 'chat') this.toVisitors(change.chatId, 'chat', null);
    }
    for (const [siteId, siteChanges] of bySite) {
      const site = this.operators.get(siteId);
      if (!site) continue;
      for (const [operatorId, sockets] of site) {
        const items: OperatorDeltaItem[] = [];
        for (const change of siteChanges) {
          const item = operatorDelta(state, operatorId, change);
          if (item) items.push(item);
        }
        if (items.length === 0) continue;
        const delta = { revision: state.revision, items };
        for (const socket of sockets) socket.emit('state.delta', delta);
      }
    }
  }

  private toVisitors(chatId: string, kind: 'message' | 'chat', messageId: string | null): void {
    const sockets = this.visitors.get(chatId);
    if (!sockets || sockets.size === 0) return;
    const chat = this.runtime.state.chats.get(chatId);
    if (!chat) return;
    if (kind === 'message') {
      const message = messageId === null ? undefined : findMessage(chat, messageId);
      if (!message) return;
      const view = messageView(message);
      for (const socket of sockets) socket.emit('message.new', view);
      return;
    }
    const view = visitorChatView(this.runtime.state, chatId);
    if (!view) return;
    const withoutMessages = { ...view, messages: [] };
    for (const socket of sockets) socket.emit('chat.updated', withoutMessages);
  }

  private onSignal(signal: Signal): void {
    const payload = { chatId: signal.chatId, author: signal.author, isTyping: signal.isTyping };
    if (signal.author.kind === 'operator') {
      for (const socket of this.visitors.get(signal.chatId) ?? []) socket.emit('typing', payload);
      return;
    }
    const chat = this.runtime.state.chats.get(signal.chatId);
    const site = this.operators.get(signal.siteId);
    if (!chat || !site) return;
    const holder = chat.assignment?.operatorId ?? null;
    for (const [operatorId, sockets] of site) {
      // The chat's operator sees the visitor typing; while it waits, every operator of the site.
      if (holder !== null && holder !== operatorId) continue;
      for (const socket of sockets) socket.emit('typing', payload);
    }
  }
}

function lazy<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => (made ??= { value: make() }).value;
}

function getOrCreate<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}
