/** Event builders for the specs of this library (not exported from the package). */
import { formatStamp } from '../clock/hlc';
import type { DomainEvent, EventDataMap, EventType } from '../events/events';
import type { AssignmentAudit, Author, OperatorProfile } from '../model/model';
import { applyEvent, createState } from '../state/reducer';
import type { ChatState } from '../state/state';

export const BASE_MS = 1_700_000_000_000;

let sequence = 0;

export interface EventOptions {
  /** wall ms of the stamp; defaults to BASE_MS + sequence number * 1000 */
  wall?: number;
  counter?: number;
  node?: string;
  id?: string;
}

export function ev<T extends EventType>(
  type: T,
  data: EventDataMap[T],
  options: EventOptions = {},
): Extract<DomainEvent, { type: T }> {
  sequence += 1;
  const wall = options.wall ?? BASE_MS + sequence * 1000;
  return {
    id: options.id ?? `e-${String(sequence).padStart(6, '0')}`,
    type,
    origin: options.node ?? 'node-a',
    clock: formatStamp(wall, options.counter ?? 0, options.node ?? 'node-a'),
    data,
  } as Extract<DomainEvent, { type: T }>;
}

export function site(id: string, options?: EventOptions) {
  return ev('site.upserted', { site: { id, name: `Site ${id}` } }, options);
}

export function department(id: string, siteId: string, name: string, options?: EventOptions) {
  return ev('department.upserted', { department: { id, siteId, name } }, options);
}

export function profile(
  id: string,
  siteId: string,
  overrides: Partial<OperatorProfile> = {},
): OperatorProfile {
  return {
    id,
    siteId,
    name: `Operator ${id}`,
    email: `${id}@example.com`,
    passwordHash: `secret-hash-of-${id}`,
    departmentIds: [],
    maxChats: 3,
    disabled: false,
    ...overrides,
  };
}

export function operator(
  id: string,
  siteId: string,
  overrides: Partial<OperatorProfile> = {},
  options?: EventOptions,
) {
  return ev('operator.upserted', { operator: profile(id, siteId, overrides) }, options);
}

export function status(
  operatorId: string,
  siteId: string,
  value: 'online' | 'away' | 'offline',
  options?: EventOptions,
) {
  return ev('operator.status.set', { operatorId, siteId, status: value }, options);
}

export function sessionOpened(
  operatorId: string,
  siteId: string,
  sessionId: string,
  options?: EventOptions,
) {
  return ev(
    'operator.session.opened',
    { operatorId, siteId, sessionId, nodeId: 'node-a' },
    options,
  );
}

export function sessionClosed(
  operatorId: string,
  siteId: string,
  sessionId: string,
  options?: EventOptions,
) {
  return ev(
    'operator.session.closed',
    { operatorId, siteId, sessionId, nodeId: 'node-a' },
    options,
  );
}

export function started(
  chatId: string,
  siteId: string,
  departmentId: string | null = null,
  options?: EventOptions,
) {
  return ev(
    'chat.started',
    {
      chatId,
      siteId,
      departmentId,
      visitor: { id: `visitor-of-${chatId}`, name: 'Vera Visitor', email: null },
      fields: { topic: 'billing' },
    },
    options,
  );
}

export const AUTO_AUDIT: AssignmentAudit = {
  reason: 'auto',
  explanation: 'test',
  candidates: [],
  requestedBy: null,
};

export function assigned(
  chatId: string,
  siteId: string,
  operatorId: string | null,
  epoch = 1,
  options?: EventOptions & { departmentId?: string | null },
) {
  return ev(
    'chat.assigned',
    {
      chatId,
      siteId,
      operatorId,
      departmentId: options?.departmentId ?? null,
      epoch,
      audit: AUTO_AUDIT,
    },
    options,
  );
}

export function visitorAuthor(chatId: string): Author {
  return { kind: 'visitor', id: `visitor-of-${chatId}`, name: 'Vera Visitor' };
}

export function operatorAuthor(operatorId: string): Author {
  return { kind: 'operator', id: operatorId, name: `Operator ${operatorId}` };
}

export function message(
  chatId: string,
  siteId: string,
  messageId: string,
  clientMessageId: string,
  author: Author = visitorAuthor(chatId),
  options?: EventOptions,
) {
  return ev(
    'chat.message.added',
    { chatId, siteId, messageId, clientMessageId, author, text: `text ${messageId}` },
    options,
  );
}

export function closed(chatId: string, siteId: string, by: Author, options?: EventOptions) {
  return ev('chat.closed', { chatId, siteId, by, reason: 'done' }, options);
}

export function rated(chatId: string, siteId: string, rating: number, options?: EventOptions) {
  return ev('chat.rated', { chatId, siteId, rating, comment: null }, options);
}

/** Profile, online status and an open session: an available operator. */
export function onlineOperator(
  id: string,
  siteId: string,
  overrides: Partial<OperatorProfile> = {},
  options?: EventOptions,
): DomainEvent[] {
  return [
    operator(id, siteId, overrides, options),
    status(id, siteId, 'online', options),
    sessionOpened(id, siteId, `session-${id}`, options),
  ];
}

export function stateOf(events: readonly DomainEvent[]): ChatState {
  const state = createState();
  for (const event of events) {
    applyEvent(state, event);
  }
  return state;
}
