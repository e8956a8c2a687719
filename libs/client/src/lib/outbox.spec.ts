import { Outbox, type PendingMessage } from './outbox';

describe(`${Outbox.name}`, () => {
  it('keeps messages in the order they were sent until each is settled', async () => {
    const sut = new Outbox<PendingMessage, string>();
    const a = sut.add({ clientMessageId: 'a', text: 'first' });
    const b = sut.add({ clientMessageId: 'b', text: 'second' });
    expect(sut.items().map((i) => i.clientMessageId)).toEqual(['a', 'b']);
    expect(sut.head()?.clientMessageId).toBe('a');

    expect(sut.confirm({ clientMessageId: 'a', text: 'first' }, 'server-a')).toBe(true);
    await expect(a).resolves.toBe('server-a');
    expect(sut.head()?.clientMessageId).toBe('b');

    expect(sut.refuse({ clientMessageId: 'b', text: 'second' }, new Error('CHAT_CLOSED'))).toBe(
      true,
    );
    await expect(b).rejects.toThrow('CHAT_CLOSED');
    expect(sut.size).toBe(0);
    expect(sut.head()).toBeUndefined();
  });

  it('settles each message once: a second confirmation is ignored', async () => {
    const sut = new Outbox<PendingMessage, string>();
    const a = sut.add({ clientMessageId: 'a', text: 'x' });
    sut.confirm({ clientMessageId: 'a', text: 'x' }, 'one');
    expect(sut.confirm({ clientMessageId: 'a', text: 'x' }, 'two')).toBe(false);
    expect(sut.refuse({ clientMessageId: 'a', text: 'x' }, new Error('late'))).toBe(false);
    await expect(a).resolves.toBe('one');
  });

  it('gives a message already pending the first promise, per chat', async () => {
    const sut = new Outbox<PendingMessage, string>();
    const first = sut.add({ chatId: 'c1', clientMessageId: 'k', text: 'x' });
    const again = sut.add({ chatId: 'c1', clientMessageId: 'k', text: 'x' });
    const otherChat = sut.add({ chatId: 'c2', clientMessageId: 'k', text: 'y' });
    expect(again).toBe(first);
    expect(otherChat).not.toBe(first);
    expect(sut.size).toBe(2);
    sut.confirm({ chatId: 'c2', clientMessageId: 'k', text: 'y' }, 'c2');
    sut.confirm({ chatId: 'c1', clientMessageId: 'k', text: 'x' }, 'c1');
    await expect(first).resolves.toBe('c1');
    await expect(otherChat).resolves.toBe('c2');
  });

  it('rejects every pending message at once when the client stops', async () => {
    const sut = new Outbox<PendingMessage, string>();
    const a = sut.add({ clientMessageId: 'a', text: 'x' });
    const b = sut.add({ clientMessageId: 'b', text: 'y' });
    sut.refuseAll(new Error('CLOSED'));
    await expect(a).rejects.toThrow('CLOSED');
    await expect(b).rejects.toThrow('CLOSED');
    expect(sut.items()).toEqual([]);
  });
});
