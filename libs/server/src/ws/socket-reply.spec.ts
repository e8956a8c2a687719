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
