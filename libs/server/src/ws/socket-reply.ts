import { Logger } from '@nestjs/common';
import { type z } from 'zod';
import { parseInput } from '../http/parse';
import { guardInput, RefusedInputError } from '../schemas/input-guard';
import { type ApiErrorBody, ApiError, toApiError } from '../use-cases/api-error';

export type SocketReply<T> = { ok: true; data: T } | { ok: false; error: ApiErrorBody };

const logger = new Logger('SocketReply');

/**
 * The one path every client socket event takes: input guard, size check, schema validation, the
 * use case, and an acknowledgement `{ ok, data | error }`. A bad event gets an error reply and
 * changes nothing; the connection stays up. `onRefused` learns of each payload the input guard
 * refused (for the `chat_input_rejected_total` metric).
 */
export async function handleSocketEvent<S extends z.ZodType, T>(
  schema: S,
  payload: unknown,
  maxBytes: number,
  run: (input: z.infer<S>) => T | Promise<T>,
  onRefused?: () => void,
): Promise<SocketReply<T>> {
  try {
    // Before JSON.stringify, which recurses: a 10 000-deep payload must not reach it.
    guardInput(payload);
    if (payload !== undefined && Buffer.byteLength(JSON.stringify(payload) ?? '') > maxBytes) {
      throw new ApiError('PAYLOAD_TOO_LARGE', `event payload over ${maxBytes} bytes`);
    }
    const input = parseInput(schema, payload);
    return { ok: true, data: await run(input) };
  } catch (error) {
    if (error instanceof RefusedInputError) onRefused?.();
    const known = toApiError(error);
    if (known) return { ok: false, error: known };
    logger.error({ err: error }, 'socket event failed');
    return { ok: false, error: { code: 'INTERNAL', message: 'internal error' } };
  }
}

/** Answers events the channel does not know, instead of dropping them silently. */
export function replyToUnknownEvents(
  socket: { onAny(listener: (event: string, ...args: unknown[]) => void): unknown },
  known: Readonly<Record<string, unknown>>,
): void {
  socket.onAny((event: string, ...args: unknown[]) => {
    if (Object.hasOwn(known, event)) return;
    const ack = args[args.length - 1];
    if (typeof ack === 'function') {
      const reply: SocketReply<never> = {
        ok: false,
        error: { code: 'UNKNOWN_EVENT', message: `unknown event "${event}"` },
      };
      (ack as (r: unknown) => void)(reply);
    }
  });
}
