import type { DomainEvent } from '../events/events';
import { CHATS, OPERATORS, permutedArb, scenarioArb } from '../test-support/arbitraries';
import fc from 'fast-check';
import { stateDigest } from './digest';
import { clientKey } from './indexes';
import { compareClockId } from './order';
import { operatorLoad } from './queries';
import { applyEvent, createState } from './reducer';
import type { ChatState } from './state';

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
