/**
 * A realistic stream of events from two nodes, for the specs of this library (not exported):
 * configuration with superseded writes, chats in every state, a message accepted twice under two
 * server ids, ephemeral session events and an offline message.
 */
import { randomUUID } from 'node:crypto';
import {
  EventFactory,
  HybridLogicalClock,
  UuidV7IdGenerator,
  type AssignmentAudit,
  type Author,
  type DomainEvent,
  type EventDataMap,
  type EventEnvelope,
  type EventType,
} from '@chat/domain';

export const SCENARIO_START_MS = Date.UTC(2030, 0, 1, 8, 0, 0);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export interface Scenario {
  events: DomainEvent[];
  ids: {
    siteId: string;
    departmentIds: [string, string];
    operatorIds: [string, string, string];
    /** assigned to operator 0, with the duplicated client message */
    openChatId: string;
    /** never assigned */
    waitingChatId: string;
    /** requeued to department 1 after a late decision of a deposed master */
    requeuedChatId: string;
    /** closed and rated 10 minutes before `nowMs` */
    recentlyClosedChatId: string;
    /** closed 5 hours before `nowMs` */
    longClosedChatId: string;
    /** the client message id sent twice and accepted by both nodes */
    duplicateClientMessageId: string;
  };
  /** "now" for `loadEvents`, with `closedWithinMs` below the window keeps only the recent close */
  nowMs: number;
  closedWithinMs: number;
}

export function buildScenario(): Scenario {
  let wall = SCENARIO_START_MS;
  const clocks = {
    a: new HybridLogicalClock('node-a', () => wall),
    b: new HybridLogicalClock('node-b', () => wall),
  };
  const ids = new UuidV7IdGenerator();
  const factories = {
    a: new EventFactory('node-a', clocks.a, ids),
    b: new EventFactory('node-b', clocks.b, ids),
  };
  const events: DomainEvent[] = [];
  const emit = <T extends EventType>(
    type: T,
    data: EventDataMap[T],
    node: 'a' | 'b' = 'a',
    advanceMs = 1000,
  ): EventEnvelope<T> => {
    wall += advanceMs;
    const event = factories[node].create(type, data);
    events.push(event as DomainEvent);
    return event;
  };

  const siteId = randomUUID();
  const departmentIds: [string, string] = [randomUUID(), randomUUID()];
  const operatorIds: [string, string, string] = [randomUUID(), randomUUID(), randomUUID()];
  const [op0, op1, op2] = operatorIds;
  const audit = (operatorId: string | null): AssignmentAudit => ({
    reason: operatorId === null ? 'requeue' : 'auto',
    explanation: operatorId === null ? 'back to the queue' : 'least loaded (0/3)',
    candidates:
      operatorId === null
        ? []
        : [{ operatorId, load: 0, maxChats: 3, lastAssignedAt: null, inDepartment: true }],
    requestedBy: null,
  });
  const operatorAuthor = (id: string): Author => ({ kind: 'operator', id, name: `Operator ${id}` });

  emit('site.upserted', { site: { id: siteId, name: 'Old name' } });
  emit('site.upserted', { site: { id: siteId, name: 'Acme' } }, 'b');
  departmentIds.forEach((id, i) =>
    emit('department.upserted', { department: { id, siteId, name: `Department ${i}` } }),
  );
  operatorIds.forEach((id, i) =>
    emit('operator.upserted', {
      operator: {
        id,
        siteId,
        name: `Operator ${id}`,
        email: `op${i}@example.com`,
        passwordHash: `hash-${i}`,
        departmentIds: [departmentIds[i % 2] ?? ''],
        maxChats: 3,
        disabled: false,
      },
    }),
  );
  emit(
    'operator.upserted',
    {
      operator: {
        id: op2,
        siteId,
        name: 'Renamed',
        email: 'op2@example.com',
        passwordHash: 'hash-2b',
        departmentIds: [...departmentIds],
        maxChats: 5,
        disabled: true,
      },
    },
    'b',
  );
  for (const id of operatorIds) {
    emit('operator.session.opened', {
      operatorId: id,
      siteId,
      sessionId: randomUUID(),
      nodeId: 'node-a',
    });
    emit('operator.status.set', { operatorId: id, siteId, status: 'online' });
  }
  emit('operator.status.set', { operatorId: op1, siteId, status: 'away' }, 'b');
  emit(
    'operator.session.closed',
    { operatorId: op1, siteId, sessionId: randomUUID(), nodeId: 'node-b' },
    'b',
  );

  const start = (departmentId: string | null, node: 'a' | 'b' = 'a') => {
    const chatId = randomUUID();
    emit(
      'chat.started',
      {
        chatId,
        siteId,
        departmentId,
        visitor: {
          id: `visitor-${chatId}`,
          name: 'Vera',
          email: node === 'a' ? 'vera@example.com' : null,
        },
        fields: { topic: 'billing' },
      },
      node,
    );
    return chatId;
  };
  const visitorOf = (chatId: string): Author => ({
    kind: 'visitor',
    id: `visitor-${chatId}`,
    name: 'Vera',
  });
  const say = (
    chatId: string,
    author: Author,
    text: string,
    node: 'a' | 'b' = 'a',
    clientMessageId = randomUUID(),
  ) =>
    emit(
      'chat.message.added',
      { chatId, siteId, messageId: ids.next(), clientMessageId, author, text },
      node,
    );
  const assign = (
    chatId: string,
    operatorId: string | null,
    epoch: number,
    departmentId: string | null = null,
  ) =>
    emit('chat.assigned', {
      chatId,
      siteId,
      operatorId,
      departmentId,
      epoch,
      audit: audit(operatorId),
    });
  const close = (chatId: string, by: Author) =>
    emit('chat.closed', { chatId, siteId, by, reason: 'resolved' });

  // Closed long ago: outside the load window.
  const longClosedChatId = start(departmentIds[0]);
  assign(longClosedChatId, op0, 1);
  say(longClosedChatId, visitorOf(longClosedChatId), 'hello from the past');
  say(longClosedChatId, operatorAuthor(op0), 'hi');
  close(longClosedChatId, operatorAuthor(op0));

  wall += 5 * HOUR;

  const openChatId = start(departmentIds[0]);
  assign(openChatId, op0, 1);
  say(openChatId, visitorOf(openChatId), 'I need help');
  const duplicateClientMessageId = randomUUID();
  // The client re-sent its message after reconnecting; both nodes accepted it (same wall time).
  say(openChatId, visitorOf(openChatId), 'are you there?', 'a', duplicateClientMessageId);
  say(openChatId, visitorOf(openChatId), 'are you there?', 'b', duplicateClientMessageId);
  say(openChatId, operatorAuthor(op0), 'yes');
  say(openChatId, { kind: 'system', id: null, name: 'System' }, 'Operator joined');

  const waitingChatId = start(null, 'b');
  say(waitingChatId, visitorOf(waitingChatId), 'anyone?', 'b');

  const requeuedChatId = start(departmentIds[0]);
  assign(requeuedChatId, op1, 2);
  assign(requeuedChatId, null, 3, departmentIds[1]);
  // A deposed master's late decision: lower epoch, later clock, ignored by the reducer.
  assign(requeuedChatId, op0, 2);

  const recentlyClosedChatId = start(departmentIds[1]);
  assign(recentlyClosedChatId, op1, 3, departmentIds[1]);
  say(recentlyClosedChatId, visitorOf(recentlyClosedChatId), 'thanks');
  close(recentlyClosedChatId, visitorOf(recentlyClosedChatId));
  emit('chat.rated', { chatId: recentlyClosedChatId, siteId, rating: 5, comment: 'great' });

  emit('offline.message.left', {
    id: randomUUID(),
    siteId,
    departmentId: null,
    name: 'Night owl',
    email: 'owl@example.com',
    text: 'call me back',
  });

  return {
    events,
    ids: {
      siteId,
      departmentIds,
      operatorIds,
      openChatId,
      waitingChatId,
      requeuedChatId,
      recentlyClosedChatId,
      longClosedChatId,
      duplicateClientMessageId,
    },
    nowMs: wall + 10 * MINUTE,
    closedWithinMs: HOUR,
  };
}

/** A deterministic pseudo-random generator (mulberry32), so a failing order can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The events shuffled and cut into batches of random sizes (1 to 6). */
export function shuffledBatches<T>(items: readonly T[], random: () => number): T[][] {
  const shuffled = [...items];
  for (let i = shuffled.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j] as T, shuffled[i] as T];
  }
  const batches: T[][] = [];
  for (let i = 0; i < shuffled.length;) {
    const size = 1 + Math.floor(random() * 6);
    batches.push(shuffled.slice(i, i + size));
    i += size;
  }
  return batches;
}
