import {
  applyEvent,
  chatStatus,
  createState,
  type DomainEvent,
  type EventEnvelope,
} from '@chat/domain';
import {
  JOURNAL_ORIGIN,
  chatEntityFrom,
  chatEventEntityFrom,
  chatEventFrom,
  departmentEntityFrom,
  departmentEventFrom,
  isStoredChatEvent,
  messageEntityFrom,
  messageEventFrom,
  messageFrom,
  offlineMessageEntityFrom,
  offlineMessageFrom,
  operatorEventsFrom,
  operatorProfileEntityFrom,
  operatorStatusEntityFrom,
  siteEntityFrom,
  siteEventFrom,
} from './mappers';
import { buildScenario } from './test-support/scenario';

const scenario = buildScenario();
const { ids } = scenario;

function eventsOf<T extends DomainEvent['type']>(type: T): EventEnvelope<T>[] {
  return scenario.events.filter((e) => e.type === type) as EventEnvelope<T>[];
}

function first<T>(items: readonly T[]): T {
  const [item] = items;
  if (item === undefined) throw new Error('scenario lacks this event');
  return item;
}

describe('mappers', () => {
  it('rebuilds configuration events exactly, but for the origin', () => {
    const site = first(eventsOf('site.upserted'));
    const department = first(eventsOf('department.upserted'));
    expect(siteEventFrom(siteEntityFrom(site))).toEqual({ ...site, origin: JOURNAL_ORIGIN });
    expect(departmentEventFrom(departmentEntityFrom(department))).toEqual({
      ...department,
      origin: JOURNAL_ORIGIN,
    });
  });

  it('keeps an operator profile and status as two registers of one row', () => {
    const profile = first(eventsOf('operator.upserted'));
    const status = first(
      eventsOf('operator.status.set').filter((e) => e.data.operatorId === profile.data.operator.id),
    );
    const profileRow = operatorProfileEntityFrom(profile);
    const statusRow = operatorStatusEntityFrom(status);
    expect(profileRow.status).toBeNull();
    expect(statusRow.profileClock).toBeNull();
    expect(operatorEventsFrom(profileRow)).toEqual([{ ...profile, origin: JOURNAL_ORIGIN }]);
    expect(operatorEventsFrom(statusRow)).toEqual([{ ...status, origin: JOURNAL_ORIGIN }]);
    expect(operatorEventsFrom({ ...profileRow, ...pickStatus(statusRow) })).toEqual([
      { ...profile, origin: JOURNAL_ORIGIN },
      { ...status, origin: JOURNAL_ORIGIN },
    ]);
  });

  it('round-trips chat events and messages, the system author included', () => {
    const chatEvents = scenario.events.filter(isStoredChatEvent);
    expect(chatEvents.map((e) => chatEventFrom(chatEventEntityFrom(e)))).toEqual(chatEvents);

    const messages = eventsOf('chat.message.added');
    const system = first(messages.filter((m) => m.data.author.kind === 'system'));
    const row = messageEntityFrom(system);
    expect(row.authorId).toBe('');
    expect(row.createdAt.getTime()).toBe(Number(system.clock.slice(0, 15)));
    expect(messageEventFrom(row)).toEqual(system);
    expect(messageFrom(row)).toEqual({
      id: system.data.messageId,
      chatId: system.data.chatId,
      clientMessageId: system.data.clientMessageId,
      author: { kind: 'system', id: null, name: 'System' },
      text: system.data.text,
      clock: system.clock,
    });
    expect(messages.map((m) => messageEventFrom(messageEntityFrom(m)))).toEqual(messages);
  });

  it('refuses a stored chat event of an unknown type', () => {
    const row = chatEventEntityFrom(first(eventsOf('chat.started')));
    expect(() => chatEventFrom({ ...row, type: 'chat.exploded' })).toThrow(/unknown event type/);
  });

  it('projects a reducer chat record', () => {
    const state = createState();
    for (const event of scenario.events) applyEvent(state, event);
    const record = state.chats.get(ids.recentlyClosedChatId);
    if (record === undefined) throw new Error('chat missing');

    const row = chatEntityFrom(record, chatStatus(record), 'last-clock');
    expect(row).toMatchObject({
      id: ids.recentlyClosedChatId,
      siteId: ids.siteId,
      departmentId: ids.departmentIds[1],
      status: 'closed',
      operatorId: ids.operatorIds[1],
      closeReason: 'resolved',
      closedBy: { kind: 'visitor' },
      rating: 5,
      ratingComment: 'great',
      lastClock: 'last-clock',
      fields: { topic: 'billing' },
    });
    expect(row.audit).toHaveLength(1);
    expect(row.startedAt?.getTime()).toBe(Number(record.startedClock?.slice(0, 15)));
    expect(row.closedAt?.getTime()).toBe(Number(record.closed?.clock.slice(0, 15)));
  });

  it('maps offline messages', () => {
    const left = first(eventsOf('offline.message.left'));
    expect(offlineMessageFrom(offlineMessageEntityFrom(left))).toEqual({
      ...left.data,
      clock: left.clock,
      createdAt: new Date(Number(left.clock.slice(0, 15))),
    });
  });
});

function pickStatus(row: ReturnType<typeof operatorStatusEntityFrom>) {
  return { status: row.status, statusClock: row.statusClock, statusEventId: row.statusEventId };
}
