import {
  type DomainEvent,
  EVENT_TYPES,
  EventFactory,
  HybridLogicalClock,
  UuidV7IdGenerator,
} from '@chat/domain';
// The domain's own event builders (test support, deliberately not exported from @chat/domain) are
// the reference for "every event the domain makes"; a spec may read them, production code never.
// eslint-disable-next-line @nx/enforce-module-boundaries
import * as builders from '../../../domain/src/test-support/builders';
import {
  SCHEMA_EVENT_TYPES,
  barrierMarkerSchema,
  domainEventProblem,
  domainEventSchema,
  isDomainEvent,
} from './event.schemas';

const { operatorAuthor, visitorAuthor } = builders;

/** One event of every type, as the domain's own test builders make them. */
function everyEventType(): DomainEvent[] {
  return [
    builders.site('s1'),
    builders.department('d1', 's1', 'Sales'),
    builders.operator('o1', 's1', { departmentIds: ['d1'] }),
    builders.status('o1', 's1', 'online'),
    builders.sessionOpened('o1', 's1', 'session-1'),
    builders.sessionClosed('o1', 's1', 'session-1'),
    builders.started('c1', 's1', 'd1'),
    builders.started('c2', 's1'),
    builders.assigned('c1', 's1', 'o1'),
    builders.assigned('c1', 's1', null, 2, { departmentId: 'd1' }),
    builders.message('c1', 's1', 'm1', 'client-1'),
    builders.message('c1', 's1', 'm2', 'client-2', operatorAuthor('o1')),
    builders.closed('c1', 's1', visitorAuthor('c1')),
    builders.closed('c2', 's1', { kind: 'system', id: null, name: 'system' }),
    builders.rated('c1', 's1', 5),
    builders.ev('offline.message.left', {
      id: 'off-1',
      siteId: 's1',
      departmentId: null,
      name: 'Vera',
      email: 'vera@example.com',
      text: 'call me',
    }),
    ...builders.onlineOperator('o2', 's1'),
  ];
}

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

describe('domain event schemas', () => {
  it('know every event type of the domain', () => {
    expect([...SCHEMA_EVENT_TYPES].sort()).toEqual([...EVENT_TYPES].sort());
  });

  it('accept every event the domain builders make, of every type', () => {
    const events = everyEventType();
    expect(new Set(events.map((e) => e.type))).toEqual(new Set(EVENT_TYPES));
    for (const event of events) {
      expect(domainEventProblem(clone(event))).toBeNull();
    }
  });

  it('accept the events a node makes (UUIDv7 ids, real clock stamps)', () => {
    const factory = new EventFactory(
      'slave-1',
      new HybridLogicalClock('slave-1'),
      new UuidV7IdGenerator(),
    );
    const event = factory.create('chat.message.added', {
      chatId: 'c1',
      siteId: 's1',
      messageId: 'm1',
      clientMessageId: 'client-1',
      author: visitorAuthor('c1'),
      text: 'hello',
    });
    expect(isDomainEvent(clone(event))).toBe(true);
  });

  it('accept an extra field (an event from a newer node)', () => {
    const event = clone(builders.message('c1', 's1', 'm1', 'client-1')) as unknown as Record<
      string,
      unknown
    >;
    event['addedLater'] = true;
    (event['data'] as Record<string, unknown>)['alsoNew'] = 1;
    expect(isDomainEvent(event)).toBe(true);
  });

  const message = (): Record<string, unknown> =>
    clone(builders.message('c1', 's1', 'm1', 'client-1')) as unknown as Record<string, unknown>;
  const data = (event: Record<string, unknown>): Record<string, unknown> =>
    event['data'] as Record<string, unknown>;

  it.each<[string, (event: Record<string, unknown>) => unknown]>([
    ['not an object', () => 'chat.message.added'],
    ['null', () => null],
    ['an unknown type', (e) => ({ ...e, type: 'chat.exploded' })],
    ['no type', (e) => ({ ...e, type: undefined })],
    ['an empty id', (e) => ({ ...e, id: '' })],
    ['a numeric id', (e) => ({ ...e, id: 42 })],
    ['no origin', (e) => ({ ...e, origin: undefined })],
    ['a clock that is no HLC stamp', (e) => ({ ...e, clock: 'yesterday' })],
    ['a numeric clock', (e) => ({ ...e, clock: 1_700_000_000_000 })],
    ['no data', (e) => ({ ...e, data: undefined })],
    ['data of another type', (e) => ({ ...e, data: { site: { id: 's1', name: 'x' } } })],
    ['a missing chat id', (e) => ({ ...e, data: { ...data(e), chatId: undefined } })],
    ['a numeric text', (e) => ({ ...e, data: { ...data(e), text: 7 } })],
    ['an unknown author kind', (e) => ({ ...e, data: { ...data(e), author: { kind: 'bot' } } })],
    [
      'an author without name',
      (e) => ({ ...e, data: { ...data(e), author: { kind: 'visitor', id: null } } }),
    ],
    ['an array as data', (e) => ({ ...e, data: [] })],
  ])('refuse an event with %s', (_name, mutate) => {
    expect(isDomainEvent(mutate(message()))).toBe(false);
  });

  it('refuse wrong shapes of the other types too', () => {
    const wrong: unknown[] = [
      {
        ...clone(builders.status('o1', 's1', 'online')),
        data: { operatorId: 'o1', siteId: 's1', status: 'asleep' },
      },
      { ...clone(builders.operator('o1', 's1')), data: { operator: { id: 'o1' } } },
      {
        ...clone(builders.assigned('c1', 's1', 'o1')),
        data: { ...clone(builders.assigned('c1', 's1', 'o1')).data, epoch: -1 },
      },
      {
        ...clone(builders.assigned('c1', 's1', 'o1')),
        data: {
          ...clone(builders.assigned('c1', 's1', 'o1')).data,
          audit: { reason: 'coin toss' },
        },
      },
      {
        ...clone(builders.started('c1', 's1')),
        data: { ...clone(builders.started('c1', 's1')).data, fields: { topic: 3 } },
      },
      {
        ...clone(builders.rated('c1', 's1', 5)),
        data: { chatId: 'c1', siteId: 's1', rating: '5' },
      },
      { ...clone(builders.sessionOpened('o1', 's1', 'x')), data: { operatorId: 'o1' } },
    ];
    for (const value of wrong) {
      expect(domainEventProblem(value)).not.toBeNull();
    }
  });

  it('name the first problem for the log', () => {
    const event = message();
    expect(domainEventProblem({ ...event, clock: 'yesterday' })).toMatch(/^clock: /);
    expect(domainEventProblem({ ...event, data: { ...data(event), text: 7 } })).toMatch(
      /^data\.text: /,
    );
  });

  it('leave barrier markers to their own schema', () => {
    const marker = { id: 'b-1', type: 'cluster.barrier', origin: 'slave-1' };
    expect(barrierMarkerSchema.safeParse(marker).success).toBe(true);
    expect(barrierMarkerSchema.safeParse({ ...marker, origin: 3 }).success).toBe(false);
    expect(domainEventSchema.safeParse(marker).success).toBe(false);
  });
});
