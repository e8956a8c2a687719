import type { DomainEvent } from '../events/events';
import { applyEvent, createState } from '../state/reducer';
import type { ChatRecord, ChatState } from '../state/state';
import {
  assigned,
  BASE_MS,
  closed,
  department,
  message,
  onlineOperator,
  operatorAuthor,
  rated,
  site,
  started,
  stateOf,
  visitorAuthor,
} from '../test-support/builders';
import {
  messagesAfter,
  operatorDelta,
  operatorSnapshot,
  visitorChatView,
  type OperatorDeltaItem,
} from './views';

/** Two sites, each with operators, waiting and assigned chats and messages. */
function twoSites(): DomainEvent[] {
  return [
    site('s1'),
    site('s2'),
    department('d1', 's1', 'Sales'),
    department('d2', 's2', 'Other sales'),
    ...onlineOperator('a1', 's1', { departmentIds: ['d1'] }),
    ...onlineOperator('a2', 's1'),
    ...onlineOperator('b1', 's2'),
    started('a-wait', 's1', 'd1', { wall: BASE_MS + 10 }),
    message('a-wait', 's1', 'm-aw', 'k1'),
    started('a-mine', 's1'),
    assigned('a-mine', 's1', 'a1'),
    message('a-mine', 's1', 'm-am', 'k1'),
    message('a-mine', 's1', 'm-am2', 'k2', operatorAuthor('a1')),
    started('a-other', 's1'),
    assigned('a-other', 's1', 'a2'),
    message('a-other', 's1', 'm-ao', 'k1'),
    started('b-wait', 's2', 'd2'),
    message('b-wait', 's2', 'm-bw', 'k1'),
    started('b-taken', 's2'),
    assigned('b-taken', 's2', 'b1'),
    message('b-taken', 's2', 'm-bt', 'k1'),
    closed('b-taken', 's2', visitorAuthor('b-taken')),
    rated('b-taken', 's2', 5),
  ];
}

/** Applies events to a fresh state, collecting what operator `operatorId` would be sent. */
function deltasFor(operatorId: string, events: DomainEvent[]): OperatorDeltaItem[] {
  const state = createState();
  const items: OperatorDeltaItem[] = [];
  for (const event of events) {
    for (const change of applyEvent(state, event).changes) {
      const item = operatorDelta(state, operatorId, change);
      if (item) {
        items.push(item);
      }
    }
  }
  return items;
}

function chat(state: ChatState, id: string): ChatRecord {
  const record = state.chats.get(id);
  if (!record) {
    throw new Error(`no chat ${id}`);
  }
  return record;
}

describe(`${operatorSnapshot.name}`, () => {
  it("shows the operator's site only: departments, colleagues, queue and own chats", () => {
    const sut = operatorSnapshot(stateOf(twoSites()), 'a1');

    expect(sut?.me).toEqual({
      id: 'a1',
      siteId: 's1',
      name: 'Operator a1',
      email: 'a1@example.com',
      departmentIds: ['d1'],
      maxChats: 3,
      status: 'online',
      connected: true,
      load: 1,
    });
    expect(sut?.departments.map((d) => d.id)).toEqual(['d1']);
    expect(sut?.colleagues.map((o) => o.id)).toEqual(['a1', 'a2']);
    expect(sut?.queue.map((c) => c.id)).toEqual(['a-wait']);
    expect(sut?.queue[0]?.messages.map((m) => m.id)).toEqual(['m-aw']);
    expect(sut?.queue[0]?.waitingSince).toBe(BASE_MS + 10);
    expect(sut?.chats.map((c) => c.id)).toEqual(['a-mine']);
    expect(sut?.chats[0]).toMatchObject({
      status: 'assigned',
      operator: { id: 'a1', name: 'Operator a1' },
      waitingSince: null,
      fields: { topic: 'billing' },
    });
    expect(sut?.chats[0]?.messages.map((m) => m.id)).toEqual(['m-am', 'm-am2']);
    expect(sut?.chats[0]?.audit).toHaveLength(1);
  });

  it('leaves the messages out when the client resyncs them itself', () => {
    const sut = operatorSnapshot(stateOf(twoSites()), 'a1', { withMessages: false });

    expect(sut?.queue.map((c) => [c.id, c.messages])).toEqual([['a-wait', []]]);
    expect(sut?.chats.map((c) => [c.id, c.messages])).toEqual([['a-mine', []]]);
  });

  it('never shows another site, nor a password hash', () => {
    const json = JSON.stringify(operatorSnapshot(stateOf(twoSites()), 'a1'));
    expect(json).not.toContain('s2');
    expect(json).not.toContain('b-');
    expect(json).not.toContain('passwordHash');
    expect(json).not.toContain('secret-hash');
  });

  it('is null for an unknown operator', () => {
    expect(operatorSnapshot(stateOf(twoSites()), 'nobody')).toBeNull();
  });
});

describe(`${operatorDelta.name}`, () => {
  it('never sends an operator anything of another site, nor a password hash', () => {
    const items = deltasFor('a1', twoSites());
    const json = JSON.stringify(items);
    expect(items.length).toBeGreaterThan(0);
    expect(json).not.toContain('s2');
    expect(json).not.toContain('b-');
    expect(json).not.toContain('passwordHash');
    expect(json).not.toContain('secret-hash');
  });

  it("sends messages of the queue and of one's own chats, not of colleagues' chats", () => {
    const messages = deltasFor('a1', twoSites()).flatMap((item) =>
      item.kind === 'message' ? [item.message.id] : [],
    );
    expect(messages).toEqual(['m-aw', 'm-am', 'm-am2']);
  });

  it('tells the queue when a colleague takes a chat, and the operator who lost a chat', () => {
    const state = stateOf(twoSites());
    const delta = (event: DomainEvent) =>
      applyEvent(state, event).changes.map((change) => operatorDelta(state, 'a1', change));

    expect(delta(assigned('a-wait', 's1', 'a2', 2))[0]).toMatchObject({
      kind: 'chat',
      chat: { id: 'a-wait', status: 'assigned', messages: [] },
    });
    expect(delta(assigned('a-mine', 's1', 'a2', 2))[0]).toMatchObject({
      kind: 'chat',
      chat: { id: 'a-mine', operator: { id: 'a2' } },
    });
    expect(delta(assigned('a-mine', 's1', 'x', 3))[0]).toBeNull();
  });

  it('sends colleagues and departments of the site, and no site changes', () => {
    const state = stateOf(twoSites());
    expect(
      operatorDelta(state, 'a1', { kind: 'operator', siteId: 's1', operatorId: 'a2' }),
    ).toMatchObject({
      kind: 'operator',
      operator: { id: 'a2', load: 1 },
    });
    expect(
      operatorDelta(state, 'a1', { kind: 'operator', siteId: 's2', operatorId: 'b1' }),
    ).toBeNull();
    expect(
      operatorDelta(state, 'a1', { kind: 'department', siteId: 's1', departmentId: 'd1' }),
    ).toEqual({
      kind: 'department',
      department: { id: 'd1', siteId: 's1', name: 'Sales' },
    });
    // a forged change naming the wrong site is still checked against the state
    expect(
      operatorDelta(state, 'a1', { kind: 'department', siteId: 's1', departmentId: 'd2' }),
    ).toBeNull();
    expect(operatorDelta(state, 'a1', { kind: 'chat', siteId: 's1', chatId: 'b-wait' })).toBeNull();
    expect(
      operatorDelta(state, 'a1', {
        kind: 'message',
        siteId: 's1',
        chatId: 'b-wait',
        messageId: 'm-bw',
      }),
    ).toBeNull();
    expect(operatorDelta(state, 'a1', { kind: 'site', siteId: 's1' })).toBeNull();
    expect(
      operatorDelta(state, 'nobody', { kind: 'chat', siteId: 's1', chatId: 'a-wait' }),
    ).toBeNull();
  });
});

describe(`${visitorChatView.name}`, () => {
  it('shows the chat with its operator by name only and without audit', () => {
    const sut = visitorChatView(stateOf(twoSites()), 'b-taken');
    expect(sut).toEqual({
      id: 'b-taken',
      siteId: 's2',
      status: 'closed',
      departmentId: null,
      operator: { id: 'b1', name: 'Operator b1' },
      visitor: { id: 'visitor-of-b-taken', name: 'Vera Visitor', email: null },
      fields: { topic: 'billing' },
      startedAt: expect.any(Number) as number,
      waitingSince: null,
      closed: { by: visitorAuthor('b-taken'), reason: 'done', at: expect.any(Number) as number },
      rating: { rating: 5, comment: null },
      messages: [
        expect.objectContaining({
          id: 'm-bt',
          clientMessageId: 'k1',
          at: expect.any(Number) as number,
        }),
      ],
    });
    expect(JSON.stringify(sut)).not.toMatch(/audit|passwordHash|secret-hash|b1@example/);
  });

  it('is null for an unknown or not yet started chat', () => {
    const state = stateOf([message('ghost', 's1', 'm', 'k')]);
    expect(visitorChatView(state, 'ghost')).toBeNull();
    expect(visitorChatView(state, 'nope')).toBeNull();
  });
});

describe(`${messagesAfter.name}`, () => {
  const state = stateOf([
    message('c1', 's1', 'm3', 'k3', visitorAuthor('c1'), { wall: 3000 }),
    message('c1', 's1', 'm1', 'k1', visitorAuthor('c1'), { wall: 1000 }),
    message('c1', 's1', 'm2', 'k2', visitorAuthor('c1'), { wall: 2000 }),
  ]);

  it('returns the messages strictly after the given one', () => {
    expect(messagesAfter(chat(state, 'c1'), 'm1').map((m) => m.id)).toEqual(['m2', 'm3']);
    expect(messagesAfter(chat(state, 'c1'), 'm3')).toEqual([]);
  });

  it('returns everything for null or an unknown id', () => {
    expect(messagesAfter(chat(state, 'c1'), null).map((m) => m.id)).toEqual(['m1', 'm2', 'm3']);
    expect(messagesAfter(chat(state, 'c1'), 'unknown')).toHaveLength(3);
  });
});
