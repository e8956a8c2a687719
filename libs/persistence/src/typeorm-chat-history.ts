import { ChatHistory, type Message } from '@chat/domain';
import type { DataSource } from 'typeorm';
import { MessageEntity } from './entities/message.entity';
import { exclusive } from './exclusive';
import { messageFrom } from './mappers';

/** A chat's stored messages, ordered by (clock, id) like the live state orders them. */
export class TypeOrmChatHistory extends ChatHistory {
  constructor(private readonly dataSource: DataSource) {
    super();
  }

  override messages(chatId: string): Promise<Message[]> {
    return exclusive(this.dataSource, async () => {
      const rows = await this.dataSource.manager.find(MessageEntity, {
        where: { chatId },
        order: { clock: 'ASC', id: 'ASC' },
      });
      return rows.map(messageFrom);
    });
  }
}
