import { ApiError } from '../use-cases/api-error';
import { guardInput, MAX_INPUT_DEPTH, MAX_INPUT_VALUES, RefusedInputError } from './input-guard';

/** What the guard threw, or undefined when it accepted the input. */
function refusal(input: unknown): RefusedInputError | undefined {
  try {
    guardInput(input);
    return undefined;
  } catch (error) {
    if (error instanceof RefusedInputError) return error;
    throw error;
  }
}

function nested(depth: number, leaf: unknown = 'x'): unknown {
  let value: unknown = leaf;
  for (let i = 0; i < depth; i += 1) value = { a: value };
  return value;
}

describe(`${guardInput.name}`, () => {
  it('accepts ordinary payloads, emoji (a valid surrogate pair) included', () => {
    expect(
      refusal({
        siteId: '01900000-0000-7000-8000-000000000000',
        name: 'Zoë 😀',
        fields: { order: 'A-1001', 'emoji 🎉': '✓ 𝄞' },
        departmentIds: ['a', 'b'],
        maxChats: 3,
        disabled: false,
        departmentId: null,
      }),
    ).toBeUndefined();
    expect(refusal(undefined)).toBeUndefined();
    expect(refusal('plain string')).toBeUndefined();
    expect(refusal(nested(MAX_INPUT_DEPTH))).toBeUndefined();
  });

  it('refuses 10 000-deep JSON with VALIDATION_FAILED, without overflowing the stack', () => {
    const text = '['.repeat(10_000) + ']'.repeat(10_000);
    const deepArray: unknown = JSON.parse(text);
    const deepObject: unknown = JSON.parse('{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000));
    for (const input of [deepArray, deepObject]) {
      const error = refusal(input);
      expect(error).toBeInstanceOf(ApiError);
      expect(error?.code).toBe('VALIDATION_FAILED');
      expect(error?.message).toMatch(`nested deeper than ${MAX_INPUT_DEPTH} levels`);
    }
    expect(refusal(deepObject)?.details).toEqual([
      {
        path: Array.from({ length: MAX_INPUT_DEPTH }, () => 'a').join('.'),
        message: `nested deeper than ${MAX_INPUT_DEPTH} levels`,
      },
    ]);
    expect(refusal(nested(MAX_INPUT_DEPTH + 1))).toBeDefined();
  });

  it('refuses U+0000 in a value and in a key, naming the path', () => {
    expect(refusal({ name: 'nul\u0000byte' })).toMatchObject({
      code: 'VALIDATION_FAILED',
      message: 'name: must not contain U+0000 (NUL)',
      details: [{ path: 'name', message: 'must not contain U+0000 (NUL)' }],
    });
    expect(refusal({ fields: { ok: 'x', list: ['a', '\u0000'] } })?.details).toEqual([
      { path: 'fields.list.1', message: 'must not contain U+0000 (NUL)' },
    ]);
    // The key itself is shown with U+FFFD, never echoed with the bad character.
    expect(refusal({ fields: { 'ke\u0000y': 'v' } })?.details).toEqual([
      { path: 'fields.ke\uFFFDy', message: 'key must not contain U+0000 (NUL)' },
    ]);
    expect(refusal('\u0000')?.message).toBe('(root): must not contain U+0000 (NUL)');
  });

  it('refuses lone high and low surrogates in values and keys', () => {
    const lone = ['\ud800', 'a\ud83dz', 'end\udbff', '\udc00', 'x\ude00y', '\ude00\ud83d'];
    for (const text of lone) {
      expect(refusal({ text })?.details).toEqual([
        { path: 'text', message: 'must not contain a lone UTF-16 surrogate' },
      ]);
      expect(refusal({ [text]: 'v' })?.message).toMatch('key must not contain a lone UTF-16');
    }
    // Parsed from JSON escapes, the way a client sends them.
    expect(refusal(JSON.parse('{"name":"\\ud800"}'))).toBeDefined();
    expect(refusal(JSON.parse('{"name":"\\ud83d\\ude00"}'))).toBeUndefined();
  });

  it('refuses the keys __proto__, constructor and prototype, also from JSON.parse', () => {
    const parsed: unknown = JSON.parse('{"fields":{"__proto__":"x"}}');
    expect(Object.keys((parsed as { fields: object }).fields)).toEqual(['__proto__']);
    expect(refusal(parsed)).toMatchObject({
      code: 'VALIDATION_FAILED',
      details: [{ path: 'fields.__proto__', message: 'key "__proto__" is not allowed' }],
    });
    expect(refusal(JSON.parse('{"__proto__":{"admin":true}}'))).toBeDefined();
    expect(refusal({ a: [{ constructor: 'x' }] })?.details).toEqual([
      { path: 'a.0.constructor', message: 'key "constructor" is not allowed' },
    ]);
    expect(refusal({ prototype: 1 })).toBeDefined();
    // As values they are ordinary strings.
    expect(refusal({ name: '__proto__', text: 'constructor' })).toBeUndefined();
  });

  it(`refuses more than ${MAX_INPUT_VALUES} values in one payload`, () => {
    expect(refusal({ list: new Array(MAX_INPUT_VALUES - 2).fill(0) })).toBeUndefined();
    expect(refusal({ list: new Array(MAX_INPUT_VALUES).fill(0) })?.message).toBe(
      `(root): more than ${MAX_INPUT_VALUES} values`,
    );
    const wide = Object.fromEntries(
      Array.from({ length: MAX_INPUT_VALUES }, (_, i) => [`k${i}`, i]),
    );
    expect(refusal(wide)).toBeDefined();
  });

  it('treats binary attachments as leaves', () => {
    expect(refusal({ data: Buffer.from('\u0000\u0000') })).toBeUndefined();
  });
});
