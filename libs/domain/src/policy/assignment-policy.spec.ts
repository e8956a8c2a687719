import fc from 'fast-check';
import type { DomainEvent } from '../events/events';
import { DomainError } from '../model/errors';
import { applyEvent } from '../state/reducer';
import { operatorLoad } from '../state/queries';
import type { ChatState } from '../state/state';
import {
  assigned,
  BASE_MS,
  closed,
  department,
  ev,
  onlineOperator,
  operator,
  operatorAuthor,
  rated,
  sessionClosed,
  started,
  stateOf,
  status,
  visitorAuthor,
} from '../test-support/builders';
import {
  assertCanClose,
  assertCanPostMessage,
  assertCanRate,
  planAutoAssignments,
  planTake,
  planTransfer,
  type AssignmentDecision,
  type PolicyOptions,
} from './assignment-policy';

const NOW = BASE_MS + 1_000_000_000;
const LONG_AGO = NOW - 500_000_000;
const OPTIONS: PolicyOptions = { nowMs: NOW, graceMs: 60_000, absenceFloorMs: 0 };

function online(
  id: string,
  siteId = 's1',
  departmentIds: string[] = [],
  maxChats = 3,
): DomainEvent[] {
  return onlineOperator(id, siteId, { departmentIds, maxChats }, { wall: LONG_AGO });
}

/** Starts chat `id` waiting since `sinceMs` ago. */
function waiting(id: string, agoMs: number, departmentId: string | null = null, siteId = 's1') {
  return started(id, siteId, departmentId, { wall: NOW - agoMs });
}

function holding(chatId: string, operatorId: string, siteId = 's1'): DomainEvent[] {
  return [
    started(chatId, siteId, null, { wall: LONG_AGO }),
    assigned(chatId, siteId, operatorId, 1, { wall: LONG_AGO }),
  ];
}

function apply(state: ChatState, decisions: AssignmentDecision[]): void {
  for (const decision of decisions) {
    applyEvent(state, ev('chat.assigned', { ...decision, epoch: 1 }, { wall: NOW }));
  }
}

function errorCode(action: () => unknown): string | null {
  try {
    action();
  } catch (error) {
    return error instanceof DomainError ? error.code : 'not a DomainError';
  }
  return null;
}

const SALES = department('d-sales', 's1', 'Sales');
const SUPPORT = department('d-support', 's1', 'Support');

describe(`${planAutoAssignments.name}`, () => {
  it('gives a waiting chat to the least loaded online operator of the site', () => {
    const state = stateOf([
      ...online('o1'),
      ...online('o2'),
      ...holding('busy', 'o1'),
      waiting('c1', 1000),
    ]);

    const [decision, ...rest] = planAutoAssignments(state, OPTIONS);

    expect(rest).toEqual([]);
    expect(decision).toMatchObject({
      chatId: 'c1',
      siteId: 's1',
      operatorId: 'o2',
      departmentId: null,
    });
    expect(decision?.audit.reason).toBe('auto');
    expect(decision?.audit.explanation).toBe('least loaded (0/3) in site; 2 candidates');
    expect(decision?.audit.candidates.map((c) => [c.operatorId, c.load])).toEqual([
      ['o2', 0],
      ['o1', 1],
    ]);
  });

  it('breaks load ties by longest idle, never-assigned first, then by id', () => {
    const state = stateOf([
      ...online('o1'),
      ...online('o2'),
      ...online('o3'),
      ...online('o4'),
      // o1 and o2 were assigned (and released) before: o2 longer ago than o1
      assigned('old-1', 's1', 'o1', 1, { wall: NOW - 1000 }),
      assigned('old-2', 's1', 'o2', 1, { wall: NOW - 9000 }),
      waiting('c1', 5000),
      waiting('c2', 4000),
      waiting('c3', 3000),
      waiting('c4', 2000),
    ]);

    const decisions = planAutoAssignments(state, OPTIONS);

    expect(decisions.map((d) => [d.chatId, d.operatorId])).toEqual([
      ['c1', 'o3'],
      ['c2', 'o4'],
      ['c3', 'o2'],
      ['c4', 'o1'],
    ]);
    expect(decisions[0]?.audit.explanation).toMatch(/^lowest operator id among least loaded/);
    expect(decisions[2]?.audit.explanation).toMatch(/^longest idle among least loaded \(0\/3\)/);
  });

  it('serves the longest waiting chat first when there is one free slot', () => {
    const state = stateOf([
      ...online('o1', 's1', [], 1),
      waiting('young', 1000),
      waiting('old', 9000),
    ]);
    expect(planAutoAssignments(state, OPTIONS).map((d) => d.chatId)).toEqual(['old']);
  });

  it("prefers the chat's department, even a busier operator in it", () => {
    const state = stateOf([
      SALES,
      ...online('seller', 's1', ['d-sales']),
      ...online('idle'),
      ...holding('busy', 'seller'),
      waiting('c1', 1000, 'd-sales'),
    ]);
    const [decision] = planAutoAssignments(state, OPTIONS);
    expect(decision).toMatchObject({ operatorId: 'seller', departmentId: 'd-sales' });
    expect(decision?.audit.explanation).toBe(
      'only operator with free capacity (1/3) in department "Sales"; 1 candidate',
    );
    expect(decision?.audit.candidates[0]?.inDepartment).toBe(true);
  });

  it('falls back to the whole site when nobody of the department is online', () => {
    const state = stateOf([
      SALES,
      ...onlineOperator('seller', 's1', { departmentIds: ['d-sales'] }, { wall: LONG_AGO }),
      status('seller', 's1', 'away', { wall: LONG_AGO + 1 }),
      ...online('other'),
      waiting('c1', 1000, 'd-sales'),
    ]);
    const [decision] = planAutoAssignments(state, OPTIONS);
    expect(decision?.operatorId).toBe('other');
    expect(decision?.audit.explanation).toContain('in site (nobody online in department "Sales")');
  });

  it('keeps the chat waiting when the online department operators are all full', () => {
    const state = stateOf([
      SALES,
      ...online('seller', 's1', ['d-sales'], 1),
      ...holding('busy', 'seller'),
      ...online('other'),
      waiting('c1', 1000, 'd-sales'),
    ]);
    expect(planAutoAssignments(state, OPTIONS)).toEqual([]);
  });

  it('only considers online, connected, enabled operators of the same site', () => {
    const state = stateOf([
      ...onlineOperator('away', 's1', {}, { wall: LONG_AGO }),
      status('away', 's1', 'away', { wall: LONG_AGO + 1 }),
      operator('unconnected', 's1', {}, { wall: LONG_AGO }),
      status('unconnected', 's1', 'online', { wall: LONG_AGO }),
      ...onlineOperator('disabled', 's1', { disabled: true }, { wall: LONG_AGO }),
      ...online('elsewhere', 's2'),
      waiting('c1', 1000),
    ]);
    expect(planAutoAssignments(state, OPTIONS)).toEqual([]);
    applyEvent(state, status('away', 's1', 'online', { wall: NOW - 10 }));
    expect(planAutoAssignments(state, OPTIONS).map((d) => d.operatorId)).toEqual(['away']);
  });

  it('ignores closed and not yet started chats', () => {
    const state = stateOf([
      ...online('o1'),
      waiting('c1', 1000),
      closed('c1', 's1', visitorAuthor('c1')),
      ev('chat.message.added', {
        chatId: 'ghost',
        siteId: 's1',
        messageId: 'm',
        clientMessageId: 'k',
        author: visitorAuthor('ghost'),
        text: 'hi',
      }),
    ]);
    expect(planAutoAssignments(state, OPTIONS)).toEqual([]);
  });

  it('never exceeds an operator limit within one pass', () => {
    const events: DomainEvent[] = [
      ...online('a', 's1', [], 2),
      ...online('b', 's1', [], 3),
      ...online('c', 's1', [], 1),
      ...holding('held', 'b'),
    ];
    for (let i = 0; i < 20; i += 1) {
      events.push(waiting(`chat-${String(i).padStart(2, '0')}`, 10_000 - i));
    }
    const state = stateOf(events);

    const decisions = planAutoAssignments(state, OPTIONS);
    apply(state, decisions);

    expect(decisions).toHaveLength(5);
    expect([operatorLoad(state, 'a'), operatorLoad(state, 'b'), operatorLoad(state, 'c')]).toEqual([
      2, 3, 1,
    ]);
    expect(planAutoAssignments(state, OPTIONS)).toEqual([]);
  });

  it('never exceeds limits for any mix of operators, loads and chats', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            maxChats: fc.integer({ min: 1, max: 4 }),
            held: fc.integer({ min: 0, max: 5 }),
          }),
          {
            minLength: 1,
            maxLength: 5,
          },
        ),
        fc.integer({ min: 0, max: 25 }),
        (operators, chatCount) => {
          const events: DomainEvent[] = [];
          operators.forEach(({ maxChats, held }, i) => {
            events.push(...online(`op-${i}`, 's1', [], maxChats));
            for (let h = 0; h < held; h += 1) {
              events.push(...holding(`held-${i}-${h}`, `op-${i}`));
            }
          });
          for (let i = 0; i < chatCount; i += 1) {
            events.push(waiting(`c-${i}`, 1000 + i));
          }
          const state = stateOf(events);
          const loadsBefore = operators.map((_, i) => operatorLoad(state, `op-${i}`));
          const decisions = planAutoAssignments(state, OPTIONS);
          apply(state, decisions);
          const free = operators.reduce(
            (sum, { maxChats }, i) => sum + Math.max(0, maxChats - (loadsBefore[i] ?? 0)),
            0,
          );
          const overfull = operators.some(({ maxChats, held }) => held > maxChats);
          // Within the limits, every free slot takes a waiting chat. Beyond them (two leaders
          // around a change of master), the excess goes back to the queue first.
          const assigned = decisions.filter((d) => d.operatorId !== null).length;
          expect(overfull || assigned === Math.min(chatCount, free)).toBe(true);
          operators.forEach(({ maxChats }, i) => {
            expect(operatorLoad(state, `op-${i}`)).toBeLessThanOrEqual(maxChats);
          });
        },
      ),
      { numRuns: 100 },
    );
  });

  describe('requeue', () => {
    function gone(extra: DomainEvent[]): ChatState {
      return stateOf([
        ...onlineOperator('o1', 's1', {}, { wall: LONG_AGO }),
        started('c1', 's1', 'd-sales', { wall: LONG_AGO }),
        assigned('c1', 's1', 'o1', 1, { wall: LONG_AGO, departmentId: 'd-sales' }),
        ...extra,
      ]);
    }

    it('requeues the chats of an operator disconnected for longer than the grace period', () => {
      const state = gone([sessionClosed('o1', 's1', 'session-o1', { wall: NOW - 61_000 })]);
      expect(planAutoAssignments(state, OPTIONS)).toEqual([
        {
          chatId: 'c1',
          siteId: 's1',
          operatorId: null,
          departmentId: 'd-sales',
          audit: {
            reason: 'requeue',
            explanation: expect.stringContaining('disconnected for 61s (grace 60s)') as string,
            candidates: [],
            requestedBy: null,
          },
        },
      ]);
    });

    it('waits out the grace period', () => {
      const state = gone([sessionClosed('o1', 's1', 'session-o1', { wall: NOW - 59_000 })]);
      expect(planAutoAssignments(state, OPTIONS)).toEqual([]);
    });

    it('never counts an absence from before the floor', () => {
      const state = gone([sessionClosed('o1', 's1', 'session-o1', { wall: LONG_AGO + 1 })]);
      expect(planAutoAssignments(state, { ...OPTIONS, absenceFloorMs: NOW - 30_000 })).toEqual([]);
      expect(planAutoAssignments(state, { ...OPTIONS, absenceFloorMs: NOW - 90_000 })).toHaveLength(
        1,
      );
    });

    it('requeues after the grace period of an offline status, even while connected', () => {
      expect(
        planAutoAssignments(gone([status('o1', 's1', 'offline', { wall: NOW - 30_000 })]), OPTIONS),
      ).toEqual([]);
      const [decision] = planAutoAssignments(
        gone([status('o1', 's1', 'offline', { wall: NOW - 90_000 })]),
        OPTIONS,
      );
      expect(decision?.audit.explanation).toContain('offline for 90s');
    });

    it('requeues at once when the operator is disabled', () => {
      const state = gone([operator('o1', 's1', { disabled: true }, { wall: NOW - 1 })]);
      expect(planAutoAssignments(state, OPTIONS).map((d) => d.audit.reason)).toEqual(['requeue']);
    });

    it('requeues when the operator profile is unknown', () => {
      const state = stateOf([started('c1', 's1'), assigned('c1', 's1', 'ghost')]);
      expect(planAutoAssignments(state, OPTIONS)).toMatchObject([
        { chatId: 'c1', operatorId: null, audit: { reason: 'requeue' } },
      ]);
    });

    it('hands requeued chats to someone else in the same pass, never back', () => {
      const state = gone([
        sessionClosed('o1', 's1', 'session-o1', { wall: NOW - 61_000 }),
        ...online('o2'),
      ]);
      const decisions = planAutoAssignments(state, OPTIONS);
      expect(decisions.map((d) => [d.audit.reason, d.operatorId])).toEqual([
        ['requeue', null],
        ['auto', 'o2'],
      ]);
    });

    it('leaves the chats of a present operator alone', () => {
      expect(planAutoAssignments(gone([]), OPTIONS)).toEqual([]);
    });
  });
});

describe(`${planTake.name}`, () => {
  const base = (): ChatState =>
    stateOf([
      SALES,
      ...online('o1', 's1', ['d-sales'], 1),
      ...online('o2', 's1'),
      ...online('x1', 's2'),
      operator('off', 's1', { disabled: true }),
      waiting('c1', 1000, 'd-sales'),
      ...holding('c2', 'o2'),
      waiting('c3', 1000),
      closed('c3', 's1', visitorAuthor('c3')),
    ]);

  it('gives the waiting chat to the operator who takes it', () => {
    expect(planTake(base(), { operatorId: 'o1', chatId: 'c1' })).toEqual({
      chatId: 'c1',
      siteId: 's1',
      operatorId: 'o1',
      departmentId: 'd-sales',
      audit: {
        reason: 'manual',
        explanation: 'taken from the queue by "Operator o1" (0/1)',
        candidates: [
          { operatorId: 'o1', load: 0, maxChats: 1, lastAssignedAt: null, inDepartment: true },
        ],
        requestedBy: 'o1',
      },
    });
  });

  it.each([
    ['CHAT_NOT_FOUND', 'o1', 'nope'],
    ['OPERATOR_NOT_FOUND', 'nobody', 'c1'],
    ['FORBIDDEN', 'x1', 'c1'],
    ['CHAT_CLOSED', 'o1', 'c3'],
    ['CHAT_NOT_WAITING', 'o1', 'c2'],
    ['OPERATOR_DISABLED', 'off', 'c1'],
  ])('fails with %s', (code, operatorId, chatId) => {
    expect(errorCode(() => planTake(base(), { operatorId, chatId }))).toBe(code);
  });

  it('fails with OPERATOR_AT_CAPACITY', () => {
    const state = base();
    applyEvent(state, waiting('c4', 100));
    apply(state, [planTake(state, { operatorId: 'o1', chatId: 'c1' })]);
    expect(errorCode(() => planTake(state, { operatorId: 'o1', chatId: 'c4' }))).toBe(
      'OPERATOR_AT_CAPACITY',
    );
  });
});

describe(`${planTransfer.name}`, () => {
  const base = (): ChatState =>
    stateOf([
      SALES,
      SUPPORT,
      department('d-elsewhere', 's2', 'Elsewhere'),
      ...online('holder', 's1', ['d-sales']),
      ...online('peer', 's1', [], 1),
      ...online('x1', 's2'),
      ...onlineOperator('off', 's1', { disabled: true }, { wall: LONG_AGO }),
      ...onlineOperator('away', 's1', {}, { wall: LONG_AGO }),
      status('away', 's1', 'away', { wall: LONG_AGO + 1 }),
      started('c1', 's1', 'd-sales', { wall: LONG_AGO }),
      assigned('c1', 's1', 'holder', 1, { wall: LONG_AGO, departmentId: 'd-sales' }),
      ...holding('c2', 'holder'),
    ]);

  it('hands the chat to another available operator', () => {
    const decision = planTransfer(base(), {
      requestedBy: 'holder',
      chatId: 'c1',
      toOperatorId: 'peer',
    });
    expect(decision).toMatchObject({
      chatId: 'c1',
      operatorId: 'peer',
      departmentId: 'd-sales',
      audit: { reason: 'transfer', requestedBy: 'holder' },
    });
    expect(decision.audit.explanation).toBe(
      'transferred by "Operator holder" to "Operator peer" (0/1)',
    );
  });

  it('puts the chat back in the queue of another department', () => {
    expect(
      planTransfer(base(), { requestedBy: 'holder', chatId: 'c1', toDepartmentId: 'd-support' }),
    ).toMatchObject({
      operatorId: null,
      departmentId: 'd-support',
      audit: {
        reason: 'transfer',
        explanation: 'transferred by "Operator holder" to the queue of department "Support"',
      },
    });
  });

  it.each([
    ['INVALID_TRANSFER', { requestedBy: 'holder', chatId: 'c1' }],
    [
      'INVALID_TRANSFER',
      { requestedBy: 'holder', chatId: 'c1', toOperatorId: 'peer', toDepartmentId: 'd-support' },
    ],
    ['INVALID_TRANSFER', { requestedBy: 'holder', chatId: 'c1', toOperatorId: 'holder' }],
    ['CHAT_NOT_FOUND', { requestedBy: 'holder', chatId: 'nope', toOperatorId: 'peer' }],
    ['FORBIDDEN', { requestedBy: 'x1', chatId: 'c1', toOperatorId: 'peer' }],
    ['NOT_CHAT_OPERATOR', { requestedBy: 'peer', chatId: 'c1', toDepartmentId: 'd-support' }],
    ['OPERATOR_NOT_FOUND', { requestedBy: 'holder', chatId: 'c1', toOperatorId: 'x1' }],
    ['OPERATOR_NOT_FOUND', { requestedBy: 'holder', chatId: 'c1', toOperatorId: 'nobody' }],
    ['OPERATOR_DISABLED', { requestedBy: 'holder', chatId: 'c1', toOperatorId: 'off' }],
    ['OPERATOR_UNAVAILABLE', { requestedBy: 'holder', chatId: 'c1', toOperatorId: 'away' }],
    [
      'DEPARTMENT_NOT_FOUND',
      { requestedBy: 'holder', chatId: 'c1', toDepartmentId: 'd-elsewhere' },
    ],
    ['DEPARTMENT_NOT_FOUND', { requestedBy: 'holder', chatId: 'c1', toDepartmentId: 'd-none' }],
  ])('fails with %s for %j', (code, input) => {
    expect(errorCode(() => planTransfer(base(), input))).toBe(code);
  });

  it('fails with OPERATOR_AT_CAPACITY and CHAT_CLOSED', () => {
    const state = base();
    apply(state, [
      planTransfer(state, { requestedBy: 'holder', chatId: 'c2', toOperatorId: 'peer' }),
    ]);
    expect(
      errorCode(() =>
        planTransfer(state, { requestedBy: 'holder', chatId: 'c1', toOperatorId: 'peer' }),
      ),
    ).toBe('OPERATOR_AT_CAPACITY');
    applyEvent(state, closed('c1', 's1', visitorAuthor('c1')));
    expect(
      errorCode(() =>
        planTransfer(state, { requestedBy: 'holder', chatId: 'c1', toDepartmentId: 'd-support' }),
      ),
    ).toBe('CHAT_CLOSED');
  });
});

describe(`${assertCanClose.name}`, () => {
  const base = () => stateOf([...online('o1'), ...online('o2'), ...holding('c1', 'o1')]);

  it('lets the visitor, the assigned operator and the system close', () => {
    for (const by of [
      visitorAuthor('c1'),
      operatorAuthor('o1'),
      { kind: 'system' as const, id: null, name: 'System' },
    ]) {
      expect(
        errorCode(() => assertCanClose(base(), { chatId: 'c1', by, siteId: 's1' })),
      ).toBeNull();
    }
  });

  it('refuses others, other sites and closed chats', () => {
    const state = base();
    expect(
      errorCode(() =>
        assertCanClose(state, { chatId: 'c1', by: operatorAuthor('o2'), siteId: 's1' }),
      ),
    ).toBe('NOT_CHAT_OPERATOR');
    expect(
      errorCode(() =>
        assertCanClose(state, { chatId: 'c1', by: visitorAuthor('c9'), siteId: 's1' }),
      ),
    ).toBe('FORBIDDEN');
    expect(
      errorCode(() =>
        assertCanClose(state, { chatId: 'c1', by: visitorAuthor('c1'), siteId: 's2' }),
      ),
    ).toBe('FORBIDDEN');
    expect(
      errorCode(() =>
        assertCanClose(state, { chatId: 'c9', by: visitorAuthor('c9'), siteId: 's1' }),
      ),
    ).toBe('CHAT_NOT_FOUND');
    applyEvent(state, closed('c1', 's1', visitorAuthor('c1')));
    expect(
      errorCode(() =>
        assertCanClose(state, { chatId: 'c1', by: visitorAuthor('c1'), siteId: 's1' }),
      ),
    ).toBe('CHAT_CLOSED');
  });
});

describe(`${assertCanRate.name}`, () => {
  it('lets the visitor rate a closed chat once', () => {
    const state = stateOf([...holding('c1', 'o1')]);
    expect(
      errorCode(() => assertCanRate(state, { chatId: 'c1', visitorId: 'visitor-of-c1' })),
    ).toBe('CHAT_NOT_CLOSED');
    applyEvent(state, closed('c1', 's1', visitorAuthor('c1')));
    expect(errorCode(() => assertCanRate(state, { chatId: 'c1', visitorId: 'someone' }))).toBe(
      'FORBIDDEN',
    );
    expect(
      errorCode(() => assertCanRate(state, { chatId: 'c1', visitorId: 'visitor-of-c1' })),
    ).toBeNull();
    applyEvent(state, rated('c1', 's1', 4));
    expect(
      errorCode(() => assertCanRate(state, { chatId: 'c1', visitorId: 'visitor-of-c1' })),
    ).toBe('ALREADY_RATED');
  });
});

describe(`${assertCanPostMessage.name}`, () => {
  it('lets the visitor and the assigned operator post while the chat is open', () => {
    const state = stateOf([...holding('c1', 'o1'), waiting('c2', 10)]);
    expect(
      errorCode(() => assertCanPostMessage(state, { chatId: 'c1', author: visitorAuthor('c1') })),
    ).toBeNull();
    expect(
      errorCode(() => assertCanPostMessage(state, { chatId: 'c1', author: operatorAuthor('o1') })),
    ).toBeNull();
    expect(
      errorCode(() => assertCanPostMessage(state, { chatId: 'c2', author: visitorAuthor('c2') })),
    ).toBeNull();
    expect(
      errorCode(() => assertCanPostMessage(state, { chatId: 'c1', author: operatorAuthor('o2') })),
    ).toBe('NOT_CHAT_OPERATOR');
    expect(
      errorCode(() => assertCanPostMessage(state, { chatId: 'c2', author: operatorAuthor('o1') })),
    ).toBe('NOT_CHAT_OPERATOR');
    expect(
      errorCode(() => assertCanPostMessage(state, { chatId: 'c1', author: visitorAuthor('c2') })),
    ).toBe('FORBIDDEN');
    applyEvent(state, closed('c1', 's1', visitorAuthor('c1')));
    expect(
      errorCode(() => assertCanPostMessage(state, { chatId: 'c1', author: visitorAuthor('c1') })),
    ).toBe('CHAT_CLOSED');
    expect(
      errorCode(() => assertCanPostMessage(state, { chatId: 'c1', author: operatorAuthor('o1') })),
    ).toBe('CHAT_CLOSED');
  });
});
