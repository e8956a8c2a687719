import { compareStamps, type HlcStamp } from '../clock/hlc';

/** Orders two (clock, id) pairs: clock first, then id. */
export function compareClockId(
  aClock: HlcStamp,
  aId: string,
  bClock: HlcStamp,
  bId: string,
): number {
  const byClock = compareStamps(aClock, bClock);
  if (byClock !== 0) {
    return byClock;
  }
  return aId < bId ? -1 : aId > bId ? 1 : 0;
}

/** First index whose element is not less than the target (`compare(element) >= 0`). */
export function lowerBound<T>(items: readonly T[], compare: (item: T) => number): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compare(items[mid] as T) < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}
