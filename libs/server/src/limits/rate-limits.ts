import { type NodeConfig } from '@chat/cluster';

/**
 * Every per-client limit of a node (docs/protocol.md "Limits"). Each one is a budget of `points`
 * per window of `durationSeconds`, counted on one key; `points: 0` turns it off.
 */
export type LimitName =
  | 'socketEvents'
  | 'ipEvents'
  | 'chatMessages'
  | 'ipConnections'
  | 'chatStarts'
  | 'offlineMessages'
  | 'logins';

/** The limits an HTTP route can carry (`@RateLimit(...)`): all are counted per client IP. */
export type HttpLimitName = Extract<LimitName, 'chatStarts' | 'offlineMessages' | 'logins'>;

export interface LimitBudget {
  readonly name: LimitName;
  /** how many in one window; 0 = off */
  readonly points: number;
  /**
   * The window. For `ipConnections`, how long the counter lives: it is not a rate but a count
   * that connects take and disconnects give back; the expiry forgets what a crashed node held.
   */
  readonly durationSeconds: number;
  /**
   * `node`: always counted in this node's memory (a socket lives on one node, so its own budget
   * needs no sharing and costs no round trip). `cluster`: shared through Redis when the cluster
   * has one.
   */
  readonly scope: 'node' | 'cluster';
  /** what is counted, for messages: "socket events", "chat starts", ... */
  readonly what: string;
}

export type LimitBudgets = Readonly<Record<LimitName, LimitBudget>>;

export function limitBudgets(limits: NodeConfig['limits']): LimitBudgets {
  return {
    socketEvents: {
      name: 'socketEvents',
      points: limits.socketEventsPerSecond,
      durationSeconds: 1,
      scope: 'node',
      what: 'socket events on this connection',
    },
    ipEvents: {
      name: 'ipEvents',
      points: limits.ipEventsPerSecond,
      durationSeconds: 1,
      scope: 'cluster',
      what: 'socket events from this address',
    },
    chatMessages: {
      name: 'chatMessages',
      points: limits.chatMessagesPerMinute,
      durationSeconds: 60,
      scope: 'cluster',
      what: 'messages in this chat',
    },
    ipConnections: {
      name: 'ipConnections',
      points: limits.ipConnections,
      durationSeconds: limits.ipConnectionCountTtlSeconds,
      scope: 'cluster',
      what: 'open connections from this address',
    },
    chatStarts: {
      name: 'chatStarts',
      points: limits.chatStartsPerMinute,
      durationSeconds: 60,
      scope: 'cluster',
      what: 'chats started from this address',
    },
    offlineMessages: {
      name: 'offlineMessages',
      points: limits.offlineMessagesPerMinute,
      durationSeconds: 60,
      scope: 'cluster',
      what: 'offline messages from this address',
    },
    logins: {
      name: 'logins',
      points: limits.loginsPerMinute,
      durationSeconds: 60,
      scope: 'cluster',
      what: 'login attempts from this address',
    },
  };
}
