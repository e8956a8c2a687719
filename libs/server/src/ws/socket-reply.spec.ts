import { DomainError } from '@chat/domain';
import { z } from 'zod';
import { handleSocketEvent } from './socket-reply';

const schema = z.strictObject({ text: z.string().min(1) });

describe(`${handleSocketEvent.name}`, () => {
  it('returns the use case result as ok data', async () => {
    await expect(
      handleSocketEvent(schema, { text: 'hi' }, 1000, (i) => i.text.toUpperCase()),
    ).resolves.toEqual({
      ok: true,
      data: 'HI',
    });
  });

  it('names each invalid field and never runs the use case', async () => {
    const run = jest.fn();
    await expect(
      handleSocketEvent(schema, { text: '', extra: 1 }, 1000, run),
    ).resolves.toMatchObject({
      ok: false,
      error: {
        code: 'VALIDATION_FAILED',
        details: expect.arrayContaining([expect.objectContaining({ path: 'text' })]) as unknown,
      },
    });
    expect(run).not.toHaveBeenCalled();
  });

  it('refuses an oversized payload before parsing it', async () => {
    const run = jest.fn();
    await expect(
      handleSocketEvent(schema, { text: 'x'.repeat(2000) }, 1000, run),
    ).resolves.toMatchObject({
      ok: false,
      error: { code: 'PAYLOAD_TOO_LARGE' },
    });
    expect(run).not.toHaveBeenCalled();
  });

  it('refuses a 10 000-deep payload with VALIDATION_FAILED before measuring it', async () => {
    const run = jest.fn();
    const refused = jest.fn();
    const deep: unknown = JSON.parse('{"text":' + '['.repeat(10_000) + ']'.repeat(10_000) + '}');
    await expect(handleSocketEvent(schema, deep, 100_000, run, refused)).resolves.toMatchObject({
      ok: false,
      error: {
        code: 'VALIDATION_FAILED',
        message: expect.stringContaining('nested deeper') as unknown,
      },
    });
    expect(run).not.toHaveBeenCalled();
    expect(refused).toHaveBeenCalledTimes(1);
  });

  it('refuses NUL and lone surrogates, and tells onRefused only of guard refusals', async () => {
    const run = jest.fn();
    const refused = jest.fn();
    for (const text of ['a\\u0000b', '\\ud800', '\\udc00x']) {
      const payload: unknown = JSON.parse(`{"text":"${text}"}`);
      await expect(handleSocketEvent(schema, payload, 1000, run, refused)).resolves.toMatchObject({
        ok: false,
        error: { code: 'VALIDATION_FAILED', details: [{ path: 'text' }] },
      });
    }
    expect(refused).toHaveBeenCalledTimes(3);
    await handleSocketEvent(schema, { text: '' }, 1000, run, refused);
    expect(refused).toHaveBeenCalledTimes(3);
    expect(run).not.toHaveBeenCalled();
  });

  it('maps domain errors to their code and hides unexpected ones', async () => {
    await expect(
      handleSocketEvent(schema, { text: 'a' }, 1000, () => {
        throw new DomainError('CHAT_CLOSED', 'chat is closed');
      }),
    ).resolves.toEqual({ ok: false, error: { code: 'CHAT_CLOSED', message: 'chat is closed' } });
    await expect(
      handleSocketEvent(schema, { text: 'a' }, 1000, () => {
        throw new Error('password=hunter2 leaked');
      }),
    ).resolves.toEqual({ ok: false, error: { code: 'INTERNAL', message: 'internal error' } });
  });
});
