export {
  type BusErrorContext,
  type BusErrorReporter,
  type BusEvent,
  type BusHandler,
  type BusMessage,
  type BusSignal,
  ClusterBus,
} from './lib/cluster-bus';
export {
  type BatchHandler,
  type ConsumeOptions,
  Consumer,
  DEFAULT_RETRY_BACKOFF,
  type QueuedItem,
  type RetryBackoffOptions,
  WorkQueue,
  retryDelayMs,
} from './lib/work-queue';
export { InProcessClusterBus, type InProcessClusterBusOptions } from './lib/in-process-cluster-bus';
export {
  InProcessWorkQueue,
  type InProcessWorkQueueOptions,
  type WorkQueueErrorContext,
  WorkQueueStoppedError,
} from './lib/in-process-work-queue';
export { cloneThroughJson } from './lib/json-clone';
export {
  NodeNameInUseError,
  NodeRpc,
  type RpcCaller,
  type RpcHandler,
  RpcNodeUnreachableError,
  RpcRemoteError,
  type RpcRequestOptions,
  RpcTimeoutError,
} from './lib/node-rpc';
export { InProcessRpcHub, type InProcessRpcHubOptions } from './lib/in-process-node-rpc';
export {
  RabbitMqConnection,
  type RabbitMqConnectionOptions,
  type RabbitMqErrorReporter,
  RabbitMqNotConnectedError,
  type RabbitMqParticipant,
  redactUrl,
} from './lib/rabbitmq/rabbitmq-connection';
export {
  RabbitMqClusterBus,
  type RabbitMqClusterBusNames,
  type RabbitMqClusterBusOptions,
} from './lib/rabbitmq/rabbitmq-cluster-bus';
export { RabbitMqNodeRpc, type RabbitMqNodeRpcOptions } from './lib/rabbitmq/rabbitmq-node-rpc';
export {
  RabbitMqUnroutableError,
  WORK_QUEUE_DELIVERY_LIMIT,
  deadLetterName,
  workQueueOptions,
} from './lib/rabbitmq/rabbitmq-support';
export {
  type DeadLetterHandler,
  type DeadLetterItem,
  RabbitMqWorkQueue,
  type RabbitMqWorkQueueOptions,
} from './lib/rabbitmq/rabbitmq-work-queue';
export {
  MessageSigner,
  type RejectReason,
  type RejectedKind,
  type RejectionListener,
  SIGNATURE_HEADER,
  SIGNER_HEADER,
} from './lib/rabbitmq/message-signing';
