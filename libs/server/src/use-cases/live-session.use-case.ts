import { Injectable } from '@nestjs/common';
import { newId, type Author, type ChatState, type TypingSignal } from '@chat/domain';
import { ClusterBus } from '@chat/messaging';
import { ChatRuntime } from '../runtime/chat-runtime';

/** Connection lifecycle of operator sockets and the typing signal, both replicated to every node. */
@Injectable()
export class LiveSessionUseCase {
  constructor(
    private readonly runtime: ChatRuntime,
    private readonly bus: ClusterBus,
  ) {}

  async operatorConnected(operatorId: string, siteId: string, sessionId: string): Promise<void> {
    await this.runtime.commit('operator.session.opened', {
      operatorId,
      siteId,
      sessionId,
      nodeId: this.runtime.nodeName,
    });
  }

  async operatorDisconnected(operatorId: string, siteId: string, sessionId: string): Promise<void> {
    await this.runtime.commit('operator.session.closed', {
      operatorId,
      siteId,
      sessionId,
      nodeId: this.runtime.nodeName,
    });
  }

  /** Typing is ephemeral: broadcast, never stored; silently ignored where not allowed. */
  typing(chatId: string, author: Author, isTyping: boolean): boolean {
    const chat = this.runtime.state.chats.get(chatId);
    if (!chat || !mayType(this.runtime.state, chatId, author)) return false;
    const signal: TypingSignal = {
      id: newId(),
      type: 'typing',
      chatId,
      siteId: chat.siteId,
      author,
      isTyping,
    };
    this.bus.publishSignal(signal);
    return true;
  }
}

function mayType(state: ChatState, chatId: string, author: Author): boolean {
  const chat = state.chats.get(chatId);
  if (!chat?.started || chat.closed) return false;
  if (author.kind === 'visitor') return chat.visitor?.id === author.id;
  return author.kind === 'operator' && chat.assignment?.operatorId === author.id;
}
