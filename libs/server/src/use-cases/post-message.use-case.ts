import { Injectable } from '@nestjs/common';
import {
  assertCanPostMessage,
  findMessageByClientId,
  messageIdFor,
  messageView,
  type Author,
  type DomainEvent,
  type Message,
  type MessageView,
} from '@chat/domain';
import { ChatRuntime } from '../runtime/chat-runtime';

export interface PostMessageCommand {
  chatId: string;
  author: Author;
  clientMessageId: string;
  text: string;
}

/**
 * Adds a message to a chat. Idempotent by the client's message id: a re-sent message gets the
 * first one's answer once that one is confirmed, even if the chat has moved on (closed,
 * transferred) since; one whose confirmation failed is published again.
 */
@Injectable()
export class PostMessageUseCase {
  /** messages accepted but not yet confirmed, or whose confirmation failed: by server id */
  private readonly unconfirmed = new Map<
    string,
    { event: DomainEvent; confirmation: Promise<void> }
  >();

  constructor(private readonly runtime: ChatRuntime) {}

  async execute(cmd: PostMessageCommand): Promise<MessageView> {
    const existing = this.findOwn(cmd);
    if (existing) return this.confirmExisting(existing);
    assertCanPostMessage(this.runtime.state, { chatId: cmd.chatId, author: cmd.author });
    const chat = this.runtime.state.chats.get(cmd.chatId);
    // The same id on every node for the same (chat, author, client id): a re-send accepted by
    // another node after a failover is the same message to everyone who saw the first attempt.
    const messageId = messageIdFor(cmd.chatId, cmd.author, cmd.clientMessageId);
    const { event, confirmation } = this.runtime.emit('chat.message.added', {
      chatId: cmd.chatId,
      siteId: chat?.siteId ?? '',
      messageId,
      clientMessageId: cmd.clientMessageId,
      author: cmd.author,
      text: cmd.text,
    });
    await this.track(messageId, event, confirmation);
    return messageView({
      id: messageId,
      chatId: cmd.chatId,
      clientMessageId: cmd.clientMessageId,
      author: cmd.author,
      text: cmd.text,
      clock: event.clock,
    });
  }

  /** Only the author's own message can match: the author comes from the authenticated session. */
  private findOwn(cmd: PostMessageCommand): Message | undefined {
    const chat = this.runtime.state.chats.get(cmd.chatId);
    return chat && findMessageByClientId(chat, cmd.author, cmd.clientMessageId);
  }

  private async confirmExisting(message: Message): Promise<MessageView> {
    const pending = this.unconfirmed.get(message.id);
    if (pending) {
      const settled = await pending.confirmation.then(
        () => true,
        () => false,
      );
      // The first attempt failed (broker or database unavailable): this re-send publishes again.
      if (!settled)
        await this.track(message.id, pending.event, this.runtime.publish(pending.event));
    }
    return messageView(message);
  }

  private async track(
    messageId: string,
    event: DomainEvent,
    confirmation: Promise<void>,
  ): Promise<void> {
    this.unconfirmed.set(messageId, { event, confirmation });
    await confirmation;
    this.unconfirmed.delete(messageId);
  }
}
