import { messageIdsDigest } from './digest';
import { compareMessages, MessageSet } from './message-set';
import type { MessageView } from './protocol';

const stamp = (ms: number, node = 'node-a'): string =>
  `${String(ms).padStart(15, '0')}.000000.${node}`;

function msg(
  id: string,
  ms: number,
  overrides: Partial<Omit<MessageView, 'id' | 'clock'>> & { node?: string } = {},
): MessageView {
  return {
    id,
    chatId: 'c1',
    clientMessageId: overrides.clientMessageId ?? `k-${id}`,
    author: overrides.author ?? { kind: 'visitor', id: 'v1', name: 'Vera' },
    text: overrides.text ?? `text ${id}`,
    at: ms,
    clock: stamp(ms, overrides.node),
  };
}

const ids = (set: MessageSet): string[] => set.all.map((m) => m.id);

describe(`${MessageSet.name}`, () => {
  it('keeps messages ordered by (clock, id) whatever the order of arrival', () => {
    const sut = new MessageSet();
    for (const m of [msg('m3', 3), msg('m1', 1), msg('m2b', 2), msg('m2a', 2), msg('m4', 4)]) {
      sut.add(m);
    }
    expect(ids(sut)).toEqual(['m1', 'm2a', 'm2b', 'm3', 'm4']);
    expect([...sut.all].sort(compareMessages)).toEqual(sut.all);
  });

  it('announces each server id once, however often it arrives', () => {
    const sut = new MessageSet();
    expect(sut.add(msg('m1', 1))).toBe(true);
    expect(sut.add(msg('m1', 1))).toBe(false);
    expect(sut.add(msg('m2', 2))).toBe(true);
    expect(sut.add({ ...msg('m1', 1) })).toBe(false);
    expect(ids(sut)).toEqual(['m1', 'm2']);
    expect(sut.size).toBe(2);
    expect(sut.has('m1')).toBe(true);
    expect(sut.has('m3')).toBe(false);
  });

  it('keeps the earliest stamp of one server id, as the server does', () => {
    const sut = new MessageSet();
    sut.add(msg('m1', 5));
    sut.add(msg('m2', 3));
    expect(sut.add(msg('m1', 1))).toBe(false);
    expect(sut.all.map((m) => [m.id, m.at])).toEqual([
      ['m1', 1],
      ['m2', 3],
    ]);
  });

  it('treats two server ids for one (author, client message id) as one message', () => {
    const sut = new MessageSet();
    // A node showed "first" and died before confirming it; its author re-sent it elsewhere.
    expect(sut.add(msg('first', 5, { clientMessageId: 'k' }))).toBe(true);
    expect(sut.add(msg('again', 7, { clientMessageId: 'k' }))).toBe(false);
    expect(ids(sut)).toEqual(['first']);
    // Of the two, the smaller (clock, id) stays, as in the server's reducer.
    expect(sut.add(msg('earlier', 4, { clientMessageId: 'k' }))).toBe(false);
    expect(ids(sut)).toEqual(['earlier']);
    // Another author's message with the same client id is another message.
    expect(
      sut.add(
        msg('op', 6, { clientMessageId: 'k', author: { kind: 'operator', id: 'o1', name: 'O' } }),
      ),
    ).toBe(true);
    expect(ids(sut)).toEqual(['earlier', 'op']);
  });

  it('gives its position: the newest id and the digest of every id in order', () => {
    const sut = new MessageSet();
    expect(sut.position()).toEqual({ afterMessageId: null, digest: messageIdsDigest([]) });
    sut.add(msg('m2', 2));
    sut.add(msg('m1', 1));
    expect(sut.position()).toEqual({
      afterMessageId: 'm2',
      digest: messageIdsDigest(['m1', 'm2']),
    });
    // A late message inserted before the newest changes the digest, not the newest id.
    sut.add(msg('late', 1, { node: 'node-b' }));
    expect(sut.position()).toEqual({
      afterMessageId: 'm2',
      digest: messageIdsDigest(['m1', 'late', 'm2']),
    });
  });
});
