export { freePort } from './lib/free-port';
export { sleep, waitFor, type WaitForOptions } from './lib/wait-for';
export {
  killAllNodeProcesses,
  type NodeProcessHandle,
  type NodeProcessOptions,
  type ProcessExit,
  type ProcessResult,
  runNodeProcessToExit,
  type RunToExitOptions,
  startNodeProcess,
} from './lib/node-process';
export { requireService, type RequiredService } from './lib/require-service';
export { createTestSchemaName } from './lib/test-schema-name';
export { httpJson, type HttpJsonResponse } from './lib/http-json';
export { describeError } from './lib/describe-error';
export { SocketRecorder, type RecordedEvent } from './lib/socket-recorder';
export { checkBroker, createTestVhost, TEST_AMQP_URL, type TestVhost } from './lib/test-vhost';
export {
  TcpProxy,
  type TcpCutMode,
  type TcpProxyOptions,
  type TcpProxyStats,
} from './lib/tcp-proxy';
export {
  type CommandRunner,
  newestPostgresVersion,
  ServiceFaults,
  type ServiceFaultsOptions,
  type SyncCommandRunner,
  TEST_DATABASE_URL,
} from './lib/faults';
export { okData, type OkOrError } from './lib/ok-data';
export { CLIENT_LIMITS_OFF } from './lib/client-limits-off';
