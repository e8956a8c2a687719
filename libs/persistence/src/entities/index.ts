import { ChatEventEntity } from './chat-event.entity';
import { ChatEntity } from './chat.entity';
import { DepartmentEntity } from './department.entity';
import { MessageEntity } from './message.entity';
import { OfflineMessageEntity } from './offline-message.entity';
import { OperatorEntity } from './operator.entity';
import { SiteEntity } from './site.entity';

export {
  ChatEntity,
  ChatEventEntity,
  DepartmentEntity,
  MessageEntity,
  OfflineMessageEntity,
  OperatorEntity,
  SiteEntity,
};

export const PERSISTENCE_ENTITIES = [
  SiteEntity,
  DepartmentEntity,
  OperatorEntity,
  ChatEntity,
  ChatEventEntity,
  MessageEntity,
  OfflineMessageEntity,
];
