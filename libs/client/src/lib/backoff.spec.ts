import { backoffDelay } from './backoff';
import { newClientMessageId } from './client-message-id';

describe(`${backoffDelay.name}`, () => {
  it('doubles from the minimum up to the maximum', () => {
    const noJitter = () => 0;
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, 100, 1000, noJitter))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
  });

  it('takes off up to half at random', () => {
    expect(backoffDelay(2, 100, 1000, () => 1)).toBe(100);
    expect(backoffDelay(2, 100, 1000, () => 0.5)).toBe(150);
  });
});

describe(`${newClientMessageId.name}`, () => {
  it('makes distinct ids the server accepts', () => {
    const made = new Set(Array.from({ length: 1000 }, () => newClientMessageId()));
    expect(made.size).toBe(1000);
    for (const id of made) expect(id).toMatch(/^[\w:.-]{1,100}$/);
  });
});

describe(`${newClientMessageId.name} without crypto.randomUUID`, () => {
  it('falls back to time and randomness (browsers outside secure contexts)', () => {
    jest.replaceProperty(globalThis, 'crypto', undefined as unknown as typeof globalThis.crypto);
    const a = newClientMessageId();
    const b = newClientMessageId();
    expect(a).toMatch(/^c-[0-9a-z]+-[0-9a-f]{16}$/);
    expect(a).not.toBe(b);
  });
});
