import { describeError } from './describe-error';

export type RequiredService = 'postgres' | 'rabbitmq' | 'redis';

/**
 * Runs `check` (e.g. connect and `SELECT 1`) and turns any failure - or no answer within
 * `timeoutMs` - into `"<name> is required for integration tests but unreachable: <reason>"`.
 * Integration tests call it in `beforeAll`, so a missing service fails them loudly, never skips.
 */
export async function requireService(
  name: RequiredService,
  check: () => Promise<void>,
  timeoutMs = 15_000,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([Promise.resolve().then(check), timeout]);
  } catch (error) {
    throw new Error(
      `${name} is required for integration tests but unreachable: ${describeError(error)}`,
      { cause: error },
    );
  } finally {
    clearTimeout(timer);
  }
}
