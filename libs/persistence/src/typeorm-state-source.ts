import { StateSource, type ChatStatus, type DomainEvent } from '@chat/domain';
import type { DataSource } from 'typeorm';
import { ChatEntity } from './entities/chat.entity';
import { ChatEventEntity } from './entities/chat-event.entity';
import { DepartmentEntity } from './entities/department.entity';
import { MessageEntity } from './entities/message.entity';
import { OperatorEntity } from './entities/operator.entity';
import { SiteEntity } from './entities/site.entity';
import { exclusive } from './exclusive';
import {
  chatEventFrom,
  departmentEventFrom,
  messageEventFrom,
  operatorEventsFrom,
  siteEventFrom,
} from './mappers';

const CLOSED: ChatStatus = 'closed';

/**
 * Rebuilds the live state at start from the journal. Configuration events are the very events
 * that wrote each register (the tables keep their event id and clock; their origin becomes
 * `JOURNAL_ORIGIN`); chat events and messages are returned as stored.
 */
export class TypeOrmStateSource extends StateSource {
  constructor(private readonly dataSource: DataSource) {
    super();
  }

  override loadEvents(options: { closedWithinMs: number; nowMs: number }): Promise<DomainEvent[]> {
    return exclusive(this.dataSource, () => this.load(options));
  }

  private async load({
    closedWithinMs,
    nowMs,
  }: {
    closedWithinMs: number;
    nowMs: number;
  }): Promise<DomainEvent[]> {
    const manager = this.dataSource.manager;
    const sites = await manager.find(SiteEntity, { order: { id: 'ASC' } });
    const departments = await manager.find(DepartmentEntity, { order: { id: 'ASC' } });
    const operators = await manager.find(OperatorEntity, { order: { id: 'ASC' } });

    const liveChats = manager
      .getRepository(ChatEntity)
      .createQueryBuilder('c')
      .select('c.id')
      .where('c.status <> :closed OR c.closedAt >= :cutoff');
    const parameters = { closed: CLOSED, cutoff: new Date(nowMs - closedWithinMs) };
    const chatEvents = await manager
      .getRepository(ChatEventEntity)
      .createQueryBuilder('e')
      .where(`e.chatId IN (${liveChats.getQuery()})`, parameters)
      .orderBy('e.clock', 'ASC')
      .addOrderBy('e.id', 'ASC')
      .getMany();
    const messages = await manager
      .getRepository(MessageEntity)
      .createQueryBuilder('m')
      .where(`m.chatId IN (${liveChats.getQuery()})`, parameters)
      .orderBy('m.clock', 'ASC')
      .addOrderBy('m.id', 'ASC')
      .getMany();

    return [
      ...sites.map(siteEventFrom),
      ...departments.map(departmentEventFrom),
      ...operators.flatMap(operatorEventsFrom),
      ...chatEvents.map(chatEventFrom),
      ...messages.map(messageEventFrom),
    ];
  }
}
