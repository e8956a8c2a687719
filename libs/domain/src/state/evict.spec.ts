import { closed, sessionClosed, started, stateOf, visitorAuthor } from '../test-support/builders';
import { evictClosedChats, pruneSessionTombstones } from './evict';

describe(`${evictClosedChats.name}`, () => {
  it('removes closed chats closed before the cutoff, and nothing else', () => {
    const sut = stateOf([
      started('old', 's1'),
      closed('old', 's1', visitorAuthor('old'), { wall: 1000 }),
      started('recent', 's1'),
      closed('recent', 's1', visitorAuthor('recent'), { wall: 9000 }),
      started('open', 's1', null, { wall: 10 }),
    ]);
    expect(evictClosedChats(sut, 5000)).toBe(1);
    expect([...sut.chats.keys()].sort()).toEqual(['open', 'recent']);
  });
});

describe(`${pruneSessionTombstones.name}`, () => {
  it("drops old closed sessions but keeps each operator's latest", () => {
    const sut = stateOf([
      sessionClosed('o1', 's1', 'a', { wall: 1000 }),
      sessionClosed('o1', 's1', 'b', { wall: 2000 }),
      sessionClosed('o1', 's1', 'c', { wall: 9000 }),
      sessionClosed('o2', 's1', 'd', { wall: 1000 }),
    ]);
    expect(pruneSessionTombstones(sut, 5000)).toBe(2);
    expect([...(sut.operators.get('o1')?.sessionsClosed.keys() ?? [])]).toEqual(['c']);
    expect([...(sut.operators.get('o2')?.sessionsClosed.keys() ?? [])]).toEqual(['d']);
  });
});
