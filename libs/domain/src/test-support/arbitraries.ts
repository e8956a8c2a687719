/** fast-check arbitraries of event scenarios, shared by the property tests of the state. */
import fc from 'fast-check';
import { formatStamp } from '../clock/hlc';
import type { DomainEvent, EventDataMap, EventType } from '../events/events';
import { OPERATOR_STATUSES, type Author } from '../model/model';
import { AUTO_AUDIT, BASE_MS } from './builders';

export const SITES = { s1: ['o1', 'o2'], s2: ['o3'] } as const;
export const CHATS = [
  { chatId: 'c1', siteId: 's1' },
  { chatId: 'c2', siteId: 's1' },
  { chatId: 'c3', siteId: 's2' },
] as const;
export const OPERATORS = [
  { operatorId: 'o1', siteId: 's1' },
  { operatorId: 'o2', siteId: 's1' },
  { operatorId: 'o3', siteId: 's2' },
] as const;

type Spec = { [T in EventType]: { type: T; data: (index: number) => EventDataMap[T] } }[EventType];

const chatArb = fc.constantFrom(...CHATS);
const operatorArb = fc.constantFrom(...OPERATORS);

const authorArb = (chatId: string, siteId: 's1' | 's2'): fc.Arbitrary<Author> =>
  fc.oneof(
    fc.constant<Author>({ kind: 'visitor', id: `v-${chatId}`, name: 'Visitor' }),
    fc
      .constantFrom(...SITES[siteId])
      .map((id): Author => ({ kind: 'operator', id, name: `Op ${id}` })),
  );

const specArb: fc.Arbitrary<Spec> = fc.oneof(
  fc
    .record({ siteId: fc.constantFrom('s1', 's2'), name: fc.constantFrom('A', 'B') })
    .map(({ siteId, name }): Spec => ({
      type: 'site.upserted',
      data: () => ({ site: { id: siteId, name } }),
    })),
  fc
    .record({ id: fc.constantFrom('d1', 'd2'), siteId: fc.constantFrom('s1', 's2') })
    .map(({ id, siteId }): Spec => ({
      type: 'department.upserted',
      data: () => ({ department: { id, siteId, name: `Dept ${id}` } }),
    })),
  fc
    .record({ op: operatorArb, maxChats: fc.integer({ min: 1, max: 3 }), disabled: fc.boolean() })
    .map(({ op, maxChats, disabled }): Spec => ({
      type: 'operator.upserted',
      data: () => ({
        operator: {
          id: op.operatorId,
          siteId: op.siteId,
          name: `Op ${op.operatorId}`,
          email: `${op.operatorId}@x.org`,
          passwordHash: 'hash',
          departmentIds: ['d1'],
          maxChats,
          disabled,
        },
      }),
    })),
  fc
    .record({
      op: operatorArb,
      status: fc.constantFrom(...OPERATOR_STATUSES),
    })
    .map(({ op, status }): Spec => ({
      type: 'operator.status.set',
      data: () => ({ ...op, status }),
    })),
  fc
    .record({
      op: operatorArb,
      sessionId: fc.constantFrom('x1', 'x2', 'x3'),
      open: fc.boolean(),
      nodeId: fc.constantFrom('n1', 'n2'),
    })
    .map(({ op, sessionId, open, nodeId }): Spec => ({
      type: open ? 'operator.session.opened' : 'operator.session.closed',
      data: () => ({ ...op, sessionId, nodeId }),
    })),
  fc
    .record({ chat: chatArb, departmentId: fc.constantFrom(null, 'd1') })
    .map(({ chat, departmentId }): Spec => ({
      type: 'chat.started',
      data: () => ({
        ...chat,
        departmentId,
        visitor: { id: `v-${chat.chatId}`, name: 'Visitor', email: null },
        fields: { b: '2', a: '1' },
      }),
    })),
  chatArb
    .chain((chat) =>
      fc.record({
        chat: fc.constant(chat),
        operatorId: fc.constantFrom(null, ...SITES[chat.siteId]),
        departmentId: fc.constantFrom(null, 'd1', 'd2'),
        epoch: fc.integer({ min: 1, max: 3 }),
      }),
    )
    .map(({ chat, operatorId, departmentId, epoch }): Spec => ({
      type: 'chat.assigned',
      data: () => ({ ...chat, operatorId, departmentId, epoch, audit: AUTO_AUDIT }),
    })),
  chatArb
    .chain((chat) =>
      fc.record({
        chat: fc.constant(chat),
        author: authorArb(chat.chatId, chat.siteId),
        clientMessageId: fc.constantFrom('k1', 'k2', 'k3'),
      }),
    )
    .map(({ chat, author, clientMessageId }): Spec => ({
      type: 'chat.message.added',
      data: (index) => ({
        ...chat,
        messageId: `m-${String(index).padStart(3, '0')}`,
        clientMessageId,
        author,
        text: `text ${index}`,
      }),
    })),
  chatArb
    .chain((chat) =>
      fc.record({ chat: fc.constant(chat), by: authorArb(chat.chatId, chat.siteId) }),
    )
    .map(({ chat, by }): Spec => ({
      type: 'chat.closed',
      data: () => ({ ...chat, by, reason: by.kind }),
    })),
  fc
    .record({ chat: chatArb, rating: fc.integer({ min: 1, max: 5 }) })
    .map(({ chat, rating }): Spec => ({
      type: 'chat.rated',
      data: () => ({ ...chat, rating, comment: rating > 3 ? 'good' : null }),
    })),
);

/** Clocks from a small range so that equal wall times and counters (ties) are common. */
const stampArb = fc.record({
  wall: fc.integer({ min: 0, max: 8 }),
  counter: fc.integer({ min: 0, max: 1 }),
  node: fc.constantFrom('n1', 'n2', 'chat.node-3'),
});

export const scenarioArb: fc.Arbitrary<DomainEvent[]> = fc
  .array(fc.tuple(specArb, stampArb), { minLength: 1, maxLength: 40 })
  .map((items) =>
    items.map(
      ([spec, stamp], index) =>
        ({
          id: `ev-${String(index).padStart(3, '0')}`,
          type: spec.type,
          origin: stamp.node,
          clock: formatStamp(BASE_MS + stamp.wall * 1000, stamp.counter, stamp.node),
          data: spec.data(index),
        }) as DomainEvent,
    ),
  );

/** A scenario with a shuffled copy of it that also repeats some events. */
export const permutedArb = scenarioArb.chain((events) =>
  fc.tuple(
    fc.constant(events),
    fc.shuffledSubarray([...events, ...events.slice(0, 5)], {
      minLength: events.length + Math.min(5, events.length),
      maxLength: events.length + Math.min(5, events.length),
    }),
  ),
);
