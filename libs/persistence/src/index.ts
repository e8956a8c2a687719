export {
  createDataSource,
  runMigrations,
  DEFAULT_PGLITE_DATA_DIR,
  PERSISTENCE_MIGRATIONS,
  type PersistenceOptions,
} from './data-source';
export {
  ChatEntity,
  ChatEventEntity,
  DepartmentEntity,
  MessageEntity,
  OfflineMessageEntity,
  OperatorEntity,
  SiteEntity,
  PERSISTENCE_ENTITIES,
} from './entities';
export { JOURNAL_ORIGIN, type OfflineMessage } from './mappers';
export { TypeOrmEventJournal } from './typeorm-event-journal';
export { TypeOrmStateSource } from './typeorm-state-source';
export { TypeOrmChatHistory } from './typeorm-chat-history';
export { TypeOrmOfflineMessages, DEFAULT_OFFLINE_MESSAGES_LIMIT } from './typeorm-offline-messages';
export { TypeOrmConfigQueries } from './typeorm-config-queries';
export {
  DEAD_LETTER_STATUSES,
  DeadLetterStore,
  type DeadLetter,
  type DeadLetterError,
  type DeadLetterInput,
  type DeadLetterPage,
  type DeadLetterQuery,
  type DeadLetterRecorded,
  type DeadLetterStatus,
  type DeadLetterWithPayload,
} from './dead-letter-store';
export { TypeOrmDeadLetterStore, DEFAULT_DEAD_LETTERS_LIMIT } from './typeorm-dead-letter-store';
export {
  classifyWriteFailure,
  sqlStateOf,
  type WriteFailure,
  type WriteFailureKind,
} from './write-failure';
export { REPLACEMENT_CHARACTER, isStorableText, storableText, storableValue } from './text';
