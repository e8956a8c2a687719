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
import { maxAssignmentEpoch, overruleStaleDecision, planEpochFence } from './assignment-policy';

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
});
