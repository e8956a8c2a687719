import type { ChatRecord, ChatState } from '../state/state';
import { applyEvent } from '../state/reducer';
import { BASE_MS, message, site, started, stateOf } from '../test-support/builders';
import { messageIdsDigest, messagesForResync } from './resync';

function chat(state: ChatState, id: string): ChatRecord {
  const record = state.chats.get(id);
  if (!record) throw new Error(`no chat ${id}`);
  return record;
}

const ids = (messages: readonly { id: string }[]): string[] => messages.map((m) => m.id);

describe(`${messageIdsDigest.name}`, () => {
  it('is FNV-1a 64 over each id and a line feed, as 16 hex digits', () => {
    // Reference values computed independently (Python, the FNV-1a definition).
    expect(messageIdsDigest([])).toBe('cbf29ce484222325');
    expect(messageIdsDigest(['a'])).toBe('089bdc07b544e7b2');
    expect(messageIdsDigest(['m1', 'm2'])).toBe('e28f846f3ef8bbf6');
  });

  it('depends on the order and on the boundaries between ids', () => {
    expect(messageIdsDigest(['m2', 'm1'])).toBe('05e5c79815ff2b54');
    expect(messageIdsDigest(['ab', 'c'])).not.toBe(messageIdsDigest(['a', 'bc']));
  });
});

describe(`${messagesForResync.name}`, () => {
  /** m1 < m2 < m3 by clock, all from node-a. */
  const base = () =>
    stateOf([
      site('s1'),
      started('c1', 's1'),
      message('c1', 's1', 'm1', 'k1', undefined, { wall: BASE_MS + 1000 }),
      message('c1', 's1', 'm2', 'k2', undefined, { wall: BASE_MS + 2000 }),
      message('c1', 's1', 'm3', 'k3', undefined, { wall: BASE_MS + 3000 }),
    ]);

  it('gives a client that holds nothing, or names an unknown message, the whole chat', () => {
    const state = base();
    expect(messagesForResync(chat(state, 'c1'), { afterMessageId: null })).toEqual({
      messages: chat(state, 'c1').messages,
      from: 'start',
    });
    const unknown = messagesForResync(chat(state, 'c1'), {
      afterMessageId: 'elsewhere',
      digest: messageIdsDigest(['elsewhere']),
    });
    expect(unknown.from).toBe('start');
    expect(ids(unknown.messages)).toEqual(['m1', 'm2', 'm3']);
  });

  it('gives exactly the messages after the position when the digests agree', () => {
    const state = base();
    const answer = messagesForResync(chat(state, 'c1'), {
      afterMessageId: 'm1',
      digest: messageIdsDigest(['m1']),
    });
    expect(answer.from).toBe('position');
    expect(ids(answer.messages)).toEqual(['m2', 'm3']);
    const upToDate = messagesForResync(chat(state, 'c1'), {
      afterMessageId: 'm3',
      digest: messageIdsDigest(['m1', 'm2', 'm3']),
    });
    expect(upToDate).toEqual({ messages: [], from: 'position' });
  });

  it('does not miss a message that arrived late with a clock before the position', () => {
    const state = base();
    // The client saw m1..m3; then a message stamped between m1 and m2 on another node arrives.
    const clientHolds = ['m1', 'm2', 'm3'];
    applyEvent(
      state,
      message('c1', 's1', 'late', 'k-late', undefined, { wall: BASE_MS + 1500, node: 'node-b' }),
    );
    expect(ids(chat(state, 'c1').messages)).toEqual(['m1', 'late', 'm2', 'm3']);

    // A bare "after m3" (the older request without a digest) misses it...
    const bare = messagesForResync(chat(state, 'c1'), { afterMessageId: 'm3' });
    expect(ids(bare.messages)).toEqual([]);
    // ...with the digest the client gets a superset that holds it.
    const answer = messagesForResync(chat(state, 'c1'), {
      afterMessageId: 'm3',
      digest: messageIdsDigest(clientHolds),
    });
    expect(answer.from).toBe('start');
    expect(ids(answer.messages)).toEqual(['m1', 'late', 'm2', 'm3']);
  });

  it('gives the whole chat when the client holds a message this node lacks', () => {
    const state = base();
    const answer = messagesForResync(chat(state, 'c1'), {
      afterMessageId: 'm2',
      digest: messageIdsDigest(['m1', 'not-here-yet', 'm2']),
    });
    expect(answer.from).toBe('start');
    expect(ids(answer.messages)).toEqual(['m1', 'm2', 'm3']);
  });
});
