export { startNode, type StartedNode } from './bootstrap';
export { ChatNodeModule } from './chat-node.module';
export type { DemoSeed } from './use-cases/seed-demo.use-case';
export type { ApiErrorBody, ApiErrorCode } from './use-cases/api-error';
export type { SocketReply } from './ws/socket-reply';
export type { ChatSync } from './ws/chat-sync';
export { operatorEvents, visitorEvents } from './schemas/socket.schemas';
export { runFromCommandLine } from './main-runner';
export type { ClusterStatus, NodeStatus } from './cluster/cluster-node';
