import { createSiteBody, startChatBody } from '../schemas/http.schemas';
import { id } from '../schemas/common';
import { parseInput } from './parse';

const siteId = '01900000-0000-7000-8000-000000000000';

describe(`${parseInput.name}`, () => {
  it('runs the input guard before the schema', () => {
    expect(() => parseInput(startChatBody, { siteId, name: 'nul\u0000byte' })).toThrow(
      expect.objectContaining({
        code: 'VALIDATION_FAILED',
        details: [{ path: 'name', message: 'must not contain U+0000 (NUL)' }],
      }) as Error,
    );
    expect(() => parseInput(createSiteBody, { name: 'Acme \ud800' })).toThrow(
      /name: must not contain a lone UTF-16 surrogate/,
    );
    // Route parameters and query values pass through it too.
    expect(() => parseInput(id, `${siteId}\u0000`)).toThrow(/must not contain U\+0000/);
  });

  it('refuses a __proto__ pre-chat field instead of dropping it', () => {
    const body: unknown = JSON.parse(
      `{"siteId":"${siteId}","name":"Vera","fields":{"order":"A-1","__proto__":"x"}}`,
    );
    expect(() => parseInput(startChatBody, body)).toThrow(
      expect.objectContaining({
        code: 'VALIDATION_FAILED',
        details: [{ path: 'fields.__proto__', message: 'key "__proto__" is not allowed' }],
      }) as Error,
    );
  });

  it('still names each schema issue, and accepts emoji', () => {
    expect(parseInput(startChatBody, { siteId, name: 'Vera 😀' })).toEqual({
      siteId,
      name: 'Vera 😀',
    });
    expect(() => parseInput(startChatBody, { siteId: 'x', name: 'Vera' })).toThrow(
      expect.objectContaining({
        details: [{ path: 'siteId', message: 'must be a UUID' }],
      }) as Error,
    );
  });
});
