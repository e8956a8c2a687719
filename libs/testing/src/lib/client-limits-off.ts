/**
 * Node environment that turns the per-client limits off (docs/protocol.md "Limits"). Tests run
 * every client from 127.0.0.1, so one "client IP" stands for hundreds of sockets and chats, far
 * over the production budgets; tests of the limits themselves set their own small values instead.
 * The login limit is left as each test sets it (`LOGIN_RATE_LIMIT_PER_MINUTE`).
 */
export const CLIENT_LIMITS_OFF: Readonly<Record<string, string>> = Object.freeze({
  SOCKET_EVENT_RATE_LIMIT_PER_SECOND: '0',
  IP_EVENT_RATE_LIMIT_PER_SECOND: '0',
  CHAT_MESSAGE_RATE_LIMIT_PER_MINUTE: '0',
  IP_CONNECTION_LIMIT: '0',
  CHAT_START_RATE_LIMIT_PER_MINUTE: '0',
  OFFLINE_MESSAGE_RATE_LIMIT_PER_MINUTE: '0',
});
