import fc from 'fast-check';
import { formatStamp } from '../clock/hlc';
import type { DomainEvent, EventDataMap, EventType } from '../events/events';
import { OPERATOR_STATUSES, type Author } from '../model/model';
import { AUTO_AUDIT, BASE_MS } from '../test-support/builders';
import { stateDigest } from './digest';
import { clientKey } from './indexes';
import { compareClockId } from './order';
import { operatorLoad } from './queries';
import { applyEvent, createState } from './reducer';
import type { ChatState } from './state';

const SITES = { s1: ['o1', 'o2'], s2: ['o3'] } as const;
const CHATS = [
  { chatId: 'c1', siteId: 's1' },
  { chatId: 'c2', siteId: 's1' },
  { chatId: 'c3', siteId: 's2' },
] as const;
const OPERATORS = [
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

const scenarioArb: fc.Arbitrary<DomainEvent[]> = fc
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
const permutedArb = scenarioArb.chain((events) =>
  fc.tuple(
    fc.constant(events),
    fc.shuffledSubarray([...events, ...events.slice(0, 5)], {
      minLength: events.length + Math.min(5, events.length),
      maxLength: events.length + Math.min(5, events.length),
    }),
  ),
);

function build(events: readonly DomainEvent[]): ChatState {
  const state = createState();
  for (const event of events) {
    applyEvent(state, event);
  }
  return state;
}

/** Load by its definition, independent of any index. */
function loadByDefinition(state: ChatState, operatorId: string): number {
  let load = 0;
  for (const chat of state.chats.values()) {
    if (chat.started && chat.closed === null && chat.assignment?.operatorId === operatorId) {
      load += 1;
    }
  }
  return load;
}

describe(`${applyEvent.name}`, () => {
  it('converges to the same digest whatever the order of arrival and duplicates', () => {
    fc.assert(
      fc.property(permutedArb, ([events, permuted]) => {
        const inOrder = build(events);
        const shuffled = build(permuted);
        expect(stateDigest(shuffled)).toBe(stateDigest(inOrder));
        for (const { operatorId } of OPERATORS) {
          expect(operatorLoad(shuffled, operatorId)).toBe(loadByDefinition(shuffled, operatorId));
          expect(operatorLoad(inOrder, operatorId)).toBe(loadByDefinition(inOrder, operatorId));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('is idempotent: an event applied again, or the whole list again, changes nothing', () => {
    fc.assert(
      fc.property(scenarioArb, (events) => {
        const once = build(events);
        const twiceEach = createState();
        for (const event of events) {
          applyEvent(twiceEach, event);
          const revision = twiceEach.revision;
          expect(applyEvent(twiceEach, event)).toEqual({ changed: false, changes: [] });
          expect(twiceEach.revision).toBe(revision);
        }
        expect(stateDigest(twiceEach)).toBe(stateDigest(once));

        const digest = stateDigest(once);
        const revision = once.revision;
        for (const event of events) {
          expect(applyEvent(once, event).changed).toBe(false);
        }
        expect(stateDigest(once)).toBe(digest);
        expect(once.revision).toBe(revision);
      }),
      { numRuns: 300 },
    );
  });

  it('lets the assignment with the greatest (epoch, clock, id) win: lower epochs never do', () => {
    fc.assert(
      fc.property(permutedArb, ([, permuted]) => {
        const state = build(permuted);
        for (const { chatId } of CHATS) {
          const decisions = permuted.filter(
            (event): event is Extract<DomainEvent, { type: 'chat.assigned' }> =>
              event.type === 'chat.assigned' && event.data.chatId === chatId,
          );
          const assignment = state.chats.get(chatId)?.assignment ?? null;
          const maxEpoch = Math.max(...decisions.map((event) => event.data.epoch));
          const winner = decisions
            .filter((event) => event.data.epoch === maxEpoch)
            .reduce<(typeof decisions)[number] | null>(
              (best, event) =>
                best === null || compareClockId(event.clock, event.id, best.clock, best.id) > 0
                  ? event
                  : best,
              null,
            );
          expect(assignment && { epoch: assignment.epoch, eventId: assignment.eventId }).toEqual(
            winner && { epoch: maxEpoch, eventId: winner.id },
          );
          const auditIds = state.chats.get(chatId)?.audit.map((entry) => entry.eventId) ?? [];
          expect(new Set(auditIds).size).toBe(auditIds.length);
          expect(auditIds.sort()).toEqual([...new Set(decisions.map((event) => event.id))].sort());
        }
      }),
      { numRuns: 300 },
    );
  });

  it('keeps messages sorted, one per id and one per client message id', () => {
    fc.assert(
      fc.property(permutedArb, ([events, permuted]) => {
        const state = build(permuted);
        for (const chat of state.chats.values()) {
          const { messages } = chat;
          const increasing = messages.every(
            (current, i) =>
              i === 0 ||
              compareClockId(
                messages[i - 1]?.clock ?? '',
                messages[i - 1]?.id ?? '',
                current.clock,
                current.id,
              ) < 0,
          );
          expect(increasing).toBe(true);
          const keys = messages.map(clientKey);
          expect(new Set(keys).size).toBe(keys.length);
          // every client message present is the earliest server message for that key
          for (const kept of messages) {
            const rivals = events.filter(
              (event): event is Extract<DomainEvent, { type: 'chat.message.added' }> =>
                event.type === 'chat.message.added' &&
                event.data.chatId === chat.id &&
                clientKey(event.data) === clientKey(kept),
            );
            for (const rival of rivals) {
              expect(
                compareClockId(kept.clock, kept.id, rival.clock, rival.data.messageId),
              ).toBeLessThanOrEqual(0);
            }
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
