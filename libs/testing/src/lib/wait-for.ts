import { describeError } from './describe-error';

export interface WaitForOptions {
  /** Give up after this long. Default 10 000 ms. */
  readonly timeoutMs?: number;
  /** Pause between two probes. Default 100 ms. */
  readonly intervalMs?: number;
  /** What is awaited, for the timeout message (e.g. "the slave to see the message"). */
  readonly description?: string;
}

const NO_RESULT = Symbol('no result');

/**
 * Polls `probe` until it returns (or resolves to) a truthy value without throwing, and returns that
 * value. On timeout throws an Error naming `description` and the last error (or last falsy result).
 * A probe that never settles counts as a timeout. Uses real time: do not combine with jest fake
 * timers.
 */
export async function waitFor<T>(
  probe: () => T | Promise<T>,
  options: WaitForOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 100;
  const description = options.description ?? 'the condition';
  const deadline = Date.now() + timeoutMs;
  let attempts = 0;
  let last: { error: unknown } | { value: unknown } | undefined;

  for (;;) {
    attempts += 1;
    try {
      const value = await settleBefore(probe, deadline);
      if (value === NO_RESULT) {
        last = { error: new Error('the probe did not settle in time') };
      } else if (value) {
        return value;
      } else {
        last = { value };
      }
    } catch (error) {
      last = { error };
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      const lastOutcome =
        last === undefined
          ? 'no attempt finished'
          : 'error' in last
            ? `last error: ${describeError(last.error)}`
            : `last result: ${describeError(last.value)}`;
      throw new Error(
        `Timed out after ${timeoutMs} ms waiting for ${description} (${attempts} attempts); ${lastOutcome}`,
        { cause: last !== undefined && 'error' in last ? last.error : undefined },
      );
    }
    await sleep(Math.min(intervalMs, remaining));
  }
}

async function settleBefore<T>(
  probe: () => T | Promise<T>,
  deadline: number,
): Promise<T | typeof NO_RESULT> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof NO_RESULT>((resolve) => {
    timer = setTimeout(() => resolve(NO_RESULT), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([Promise.resolve().then(probe), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves after `ms` of real time. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
