import fc from 'fast-check';
import type { DomainEvent } from '../events/events';
import { scenarioArb, OPERATORS } from '../test-support/arbitraries';
import { stateDigest } from './digest';
import { operatorLoad } from './queries';
import { applyEvent, createState } from './reducer';
import { restoreSnapshot, snapshotState, SnapshotFormatError } from './snapshot';
import type { ChatState } from './state';

function build(events: readonly DomainEvent[], state: ChatState = createState()): ChatState {
  for (const event of events) {
    applyEvent(state, event);
  }
  return state;
}

/** What a peer sends: the snapshot through JSON, as over the broker. */
function throughWire(state: ChatState): unknown {
  return JSON.parse(JSON.stringify(snapshotState(state)));
}

describe(`${restoreSnapshot.name}`, () => {
  it('a snapshot of a prefix plus the (overlapping, reordered) rest equals the whole', () => {
    fc.assert(
      fc.property(
        scenarioArb.chain((events) =>
          fc.tuple(
            fc.constant(events),
            fc.integer({ min: 0, max: events.length }),
            fc.integer({ min: 0, max: events.length }),
            fc.infiniteStream(fc.nat()),
          ),
        ),
        ([events, cut, overlap, noise]) => {
          const whole = build(events);
          const peer = build(events.slice(0, cut));
          const joiner = createState();
          restoreSnapshot(joiner, throughWire(peer));
          // What queued meanwhile: everything from some point before the cut, in another order.
          const rest = events.slice(Math.min(cut, overlap));
          const shuffled = rest
            .map((event) => ({ event, key: noise.next().value as number }))
            .sort((a, b) => a.key - b.key)
            .map(({ event }) => event);
          build(shuffled, joiner);
          expect(stateDigest(joiner)).toBe(stateDigest(whole));
          for (const { operatorId } of OPERATORS) {
            expect(operatorLoad(joiner, operatorId)).toBe(operatorLoad(whole, operatorId));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('replaces what the target held and moves its revision forward', () => {
    fc.assert(
      fc.property(scenarioArb, scenarioArb, (mine, theirs) => {
        const target = build(mine);
        const revision = target.revision;
        restoreSnapshot(target, throughWire(build(theirs)));
        expect(stateDigest(target)).toBe(stateDigest(build(theirs)));
        expect(target.revision).toBeGreaterThan(revision);
      }),
      { numRuns: 100 },
    );
  });

  it.each([null, 'x', {}, { version: 2, sites: [], departments: [], operators: [], chats: [] }])(
    'refuses %p and leaves the state as it was',
    (bad) => {
      const target = createState();
      expect(() => restoreSnapshot(target, bad)).toThrow(SnapshotFormatError);
      expect(target.revision).toBe(0);
    },
  );
});
