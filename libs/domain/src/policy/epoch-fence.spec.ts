import { applyEvent } from '../state/reducer';
import {
  operatorAuthor,
  assigned,
  closed,
  ev,
  onlineOperator,
  site,
  started,
  stateOf,
} from '../test-support/builders';
import {
  maxAssignmentEpoch,
  overCapacityChats,
  overruleStaleDecision,
  planAutoAssignments,
  planEpochFence,
} from './assignment-policy';

const S = 'site-1';

function world() {
  return stateOf([
    site(S),
    ...onlineOperator('ann', S),
    ...onlineOperator('bob', S),
    started('held', S),
    assigned('held', S, 'ann', 3),
    started('waiting', S),
    started('done', S),
    assigned('done', S, 'bob', 2),
    closed('done', S, operatorAuthor('bob')),
  ]);
}

describe('epoch fencing (failover)', () => {
  it('knows the greatest epoch among the decisions, 0 when there is none', () => {
    expect(maxAssignmentEpoch(world())).toBe(3);
    expect(maxAssignmentEpoch(stateOf([site(S), started('c', S)]))).toBe(0);
  });

  it('re-asserts every open held chat, and only those, keeping its operator', () => {
    const fences = planEpochFence(world());
    expect(fences.map((f) => [f.chatId, f.operatorId, f.audit.reason])).toEqual([
      ['held', 'ann', 'fence'],
    ]);
  });

  it('makes a late decision of the deposed epoch lose, whatever the order of arrival', () => {
    const state = world();
    const fence = ev('chat.assigned', { ...planEpochFence(state)[0]!, epoch: 4 });
    const stale = assigned('held', S, 'bob', 3, { wall: Date.now() + 60_000 });
    for (const order of [
      [fence, stale],
      [stale, fence],
    ]) {
      const replica = world();
      for (const event of order) applyEvent(replica, event);
      expect(replica.chats.get('held')?.assignment).toMatchObject({ operatorId: 'ann', epoch: 4 });
    }
  });

  it('does not count a fence as a new assignment for the "longest idle" rule', () => {
    const state = world();
    const before = state.operators.get('ann')?.lastAssignedAt;
    applyEvent(state, ev('chat.assigned', { ...planEpochFence(state)[0]!, epoch: 4 }));
    expect(state.operators.get('ann')?.lastAssignedAt).toBe(before);
  });

  it('overrules a stale decision that won a waiting chat, and nothing else', () => {
    const state = world();
    const stale = assigned('waiting', S, 'bob', 3);
    applyEvent(state, stale);
    const ref = { chatId: 'waiting', eventId: stale.id, epoch: 3 };
    expect(overruleStaleDecision(state, ref, 4)).toMatchObject({
      chatId: 'waiting',
      operatorId: null,
      audit: { reason: 'requeue' },
    });
    // Same epoch: not stale. A decision that did not win the register: nothing to overrule.
    expect(overruleStaleDecision(state, ref, 3)).toBeNull();
    expect(overruleStaleDecision(state, { ...ref, eventId: 'another' }, 4)).toBeNull();
    expect(overruleStaleDecision(state, { chatId: 'done', eventId: 'x', epoch: 1 }, 4)).toBeNull();
  });

  describe('an operator over the limit after two leaders decided (chaos suite, broker restart)', () => {
    // ann (limit 2) got c1 and c2 from the old master (epoch 5) and c3 from the one between
    // (epoch 6), each deciding from its own replica; bob has room.
    const overfull = () =>
      stateOf([
        site(S),
        ...onlineOperator('ann', S, { maxChats: 2 }),
        ...onlineOperator('bob', S, { maxChats: 2 }),
        started('c1', S),
        assigned('c1', S, 'ann', 5),
        started('c2', S),
        assigned('c2', S, 'ann', 5),
        started('c3', S),
        assigned('c3', S, 'ann', 6),
      ]);

    it('finds the chats beyond the limit, the latest assigned', () => {
      expect(overCapacityChats(overfull()).map((c) => c.id)).toEqual(['c3']);
      expect(overCapacityChats(world())).toEqual([]);
    });

    it('does not re-assert them in the fence of a new master', () => {
      expect(planEpochFence(overfull()).map((f) => f.chatId)).toEqual(['c1', 'c2']);
    });

    it('puts them back in the queue, to someone with room', () => {
      const decisions = planAutoAssignments(overfull(), {
        nowMs: Date.now(),
        graceMs: 60_000,
        absenceFloorMs: 0,
      });
      expect(decisions.map((d) => [d.chatId, d.operatorId, d.audit.reason])).toEqual([
        ['c3', null, 'requeue'],
        ['c3', 'bob', 'auto'],
      ]);
    });
  });
});
