export {
  type BaseClientEvents,
  type ClientOptions,
  type ConnectedInfo,
  type DisconnectedInfo,
  type ResyncedInfo,
} from './lib/chat-client-base';
export { VisitorClient, type VisitorClientEvents } from './lib/visitor-client';
export {
  OperatorClient,
  type OperatorClientEvents,
  type OperatorPendingMessage,
  type TransferTarget,
} from './lib/operator-client';
export { ChatClientError, type ClientErrorCode, TRANSIENT_ERROR_CODES } from './lib/errors';
export { MessageSet, compareMessages } from './lib/message-set';
export { Outbox, type PendingMessage } from './lib/outbox';
export { messageIdsDigest } from './lib/digest';
export { newClientMessageId } from './lib/client-message-id';
export type {
  Ack,
  Author,
  ChatSyncAnswer,
  ChatView,
  Department,
  MessageView,
  OperatorChatView,
  OperatorDelta,
  OperatorDeltaItem,
  OperatorSnapshot,
  OperatorView,
  ResyncPosition,
  TypingSignal,
} from './lib/protocol';
