import { chatStartIdsFor, messageIdFor } from './ids';

const chat = '01900000-0000-7000-8000-000000000002';
const vera = { kind: 'visitor', id: 'v1' };

describe('messageIdFor', () => {
  it('gives the same id for the same chat, author and client id, on any node', () => {
    expect(messageIdFor(chat, vera, 'c-1')).toBe(messageIdFor(chat, { ...vera }, 'c-1'));
    expect(messageIdFor(chat, vera, 'c-1')).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it('gives different ids when any part differs', () => {
    const ids = new Set([
      messageIdFor(chat, vera, 'c-1'),
      messageIdFor(chat, vera, 'c-2'),
      messageIdFor(chat, { kind: 'operator', id: 'v1' }, 'c-1'),
      messageIdFor(chat, { kind: 'visitor', id: 'v2' }, 'c-1'),
      messageIdFor('01900000-0000-7000-8000-000000000003', vera, 'c-1'),
      // no ambiguity from concatenation: ("a:b", "c") is not ("a", "b:c")
      messageIdFor(chat, { kind: 'visitor', id: 'a:b' }, 'c'),
      messageIdFor(chat, { kind: 'visitor', id: 'a' }, 'b:c'),
    ]);
    expect(ids.size).toBe(7);
  });
});

describe('chatStartIdsFor', () => {
  it('derives one chat and one visitor id per (site, key), distinct from each other', () => {
    const a = chatStartIdsFor('site-1', 'key-0123456789abcdef');
    expect(chatStartIdsFor('site-1', 'key-0123456789abcdef')).toEqual(a);
    expect(a.chatId).not.toBe(a.visitorId);
    expect(chatStartIdsFor('site-2', 'key-0123456789abcdef').chatId).not.toBe(a.chatId);
    expect(chatStartIdsFor('site-1', 'key-0123456789abcdeg').chatId).not.toBe(a.chatId);
  });
});
