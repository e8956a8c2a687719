import { isStorableText, storableText, storableValue } from './text';

describe('storable text', () => {
  it('replaces NUL and lone surrogates by U+FFFD and keeps everything else', () => {
    expect(storableText('plain')).toBe('plain');
    expect(storableText('a\u0000b')).toBe('a\ufffdb');
    expect(storableText('\ud800')).toBe('\ufffd');
    expect(storableText('x\udc00')).toBe('x\ufffd');
    expect(storableText('\udc00\ud800')).toBe('\ufffd\ufffd');
    expect(storableText('\ud800\ud800\udc00')).toBe('\ufffd\ud800\udc00');
    expect(storableText('emoji \ud83d\ude00 ok')).toBe('emoji \ud83d\ude00 ok');
    expect(storableText('end \ud83d')).toBe('end \ufffd');
    expect(isStorableText('é ü \ud83d\ude00')).toBe(true);
    expect(isStorableText('\u0000')).toBe(false);
  });

  it('returns the same string when nothing needs replacing', () => {
    const value = 'x'.repeat(1000);
    expect(storableText(value)).toBe(value);
  });

  it('walks plain objects and arrays, keys included, and keeps other values', () => {
    const when = new Date(0);
    const input = {
      text: 'a\u0000',
      list: ['ok', '\ud800', 3, null],
      nested: { ['k\u0000']: { deep: '\udfff' } },
      when,
      n: 1,
      flag: true,
    };
    const output = storableValue(input);
    expect(output).toEqual({
      text: 'a\ufffd',
      list: ['ok', '\ufffd', 3, null],
      nested: { ['k\ufffd']: { deep: '\ufffd' } },
      when,
      n: 1,
      flag: true,
    });
    expect(output.when).toBe(when);
    expect(input.text).toBe('a\u0000'); // the input is not changed
    const clean = { a: ['b'], c: { d: 'e' } };
    expect(storableValue(clean)).toBe(clean);
  });

  it('keeps a "__proto__" key a plain key', () => {
    const input = JSON.parse('{"__proto__": {"polluted": "\\u0000"}}') as object;
    const output = storableValue(input) as Record<string, unknown>;
    expect(Object.getPrototypeOf(output)).toBe(Object.prototype);
    expect(Object.keys(output)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});
