/**
 * Delay before retry number `attempt` (1 for the first retry): doubling from `minMs` up to
 * `maxMs`, with up to 50 % of random reduction so that many clients do not retry in step.
 */
export function backoffDelay(
  attempt: number,
  minMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (1 - 0.5 * random()));
}
