import { newId, UuidV7IdGenerator } from './ids';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe(`${newId.name}`, () => {
  it('makes distinct, time-ordered UUIDv7 ids', () => {
    const ids = Array.from({ length: 100 }, () => newId());
    expect(ids.every((id) => UUID_V7.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(100);
    expect([...ids].sort()).toEqual(ids);
  });
});

describe(`${UuidV7IdGenerator.name}`, () => {
  it('makes UUIDv7 ids', () => {
    const sut = new UuidV7IdGenerator();
    expect(sut.next()).toMatch(UUID_V7);
    expect(sut.next()).not.toBe(sut.next());
  });
});
