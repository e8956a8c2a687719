/**
 * Wall-clock milliseconds with sub-millisecond resolution, comparable between the processes of
 * one machine (each process's `timeOrigin` is the wall clock at its start).
 */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** The text of a benchmark message: the send time and the client message id travel in it. */
export function benchText(sentAt: number, cmid: string): string {
  return `bench ${sentAt.toFixed(3)} ${cmid}`;
}

export function parseBenchText(text: string): { sentAt: number; cmid: string } | null {
  const match = /^bench (\d+\.\d+) (\S+)$/.exec(text);
  if (!match?.[1] || !match[2]) return null;
  return { sentAt: Number(match[1]), cmid: match[2] };
}

/** The p-th percentile (0-100) of sorted values; NaN when there are none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}
