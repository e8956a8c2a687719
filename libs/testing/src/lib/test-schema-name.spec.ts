import { createTestSchemaName } from './test-schema-name';

describe(`${createTestSchemaName.name}`, () => {
  it('makes unique lowercase identifiers with the prefix', () => {
    const names = new Set(Array.from({ length: 50 }, () => createTestSchemaName('chat')));

    expect(names.size).toBe(50);
    for (const name of names) {
      expect(name).toMatch(/^chat_\d+_[0-9a-f]{8}$/);
    }
    expect(createTestSchemaName()).toMatch(/^t_\d+_[0-9a-f]{8}$/);
  });

  it('rejects a prefix that is not a lowercase identifier', () => {
    expect(() => createTestSchemaName('Bad-Prefix')).toThrow(/Schema prefix must match/);
  });
});
