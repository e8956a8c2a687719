import { type z } from 'zod';
import { guardInput } from '../schemas/input-guard';
import { ApiError } from '../use-cases/api-error';

/**
 * Validates input against its schema, or throws VALIDATION_FAILED naming each bad field. The
 * input guard runs first (depth, size, NUL and lone surrogates, prototype keys): one rule for
 * every HTTP body, route parameter, query value, socket event and node RPC.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  guardInput(input);
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const details = result.error.issues.map((i) => ({
    path: i.path.join('.') || '(root)',
    message: i.message,
  }));
  throw new ApiError(
    'VALIDATION_FAILED',
    details.map((d) => `${d.path}: ${d.message}`).join('; '),
    details,
  );
}
