/**
 * Hybrid logical clock stamps, encoded as fixed-width strings so that plain string comparison
 * orders them: `<wall ms, 15 digits>.<counter, 6 digits>.<node>`.
 */
export type HlcStamp = string;

const WALL_DIGITS = 15;
const COUNTER_DIGITS = 6;
const MAX_WALL_MS = 10 ** WALL_DIGITS - 1;
const MAX_COUNTER = 10 ** COUNTER_DIGITS - 1;
const STAMP_PATTERN = /^(\d{15})\.(\d{6})\.(.+)$/s;

export interface ParsedStamp {
  wallMs: number;
  counter: number;
  node: string;
}

/** Builds a stamp; `node` may contain dots and dashes but must not be empty. */
export function formatStamp(wallMs: number, counter: number, node: string): HlcStamp {
  if (!Number.isSafeInteger(wallMs) || wallMs < 0 || wallMs > MAX_WALL_MS) {
    throw new RangeError(`HLC wall time out of range: ${wallMs}`);
  }
  if (!Number.isSafeInteger(counter) || counter < 0 || counter > MAX_COUNTER) {
    throw new RangeError(`HLC counter out of range: ${counter}`);
  }
  if (node.length === 0) {
    throw new RangeError('HLC node name must not be empty');
  }
  return `${String(wallMs).padStart(WALL_DIGITS, '0')}.${String(counter).padStart(COUNTER_DIGITS, '0')}.${node}`;
}

export function isHlcStamp(s: unknown): s is HlcStamp {
  return typeof s === 'string' && STAMP_PATTERN.test(s);
}

/** Splits a stamp on its first two dots only (node names may contain dots). */
export function parseStamp(stamp: HlcStamp): ParsedStamp {
  const match = STAMP_PATTERN.exec(stamp);
  if (!match) {
    throw new TypeError(`not an HLC stamp: ${JSON.stringify(stamp)}`);
  }
  const [, wall = '', counter = '', node = ''] = match;
  return { wallMs: Number(wall), counter: Number(counter), node };
}

/** Wall-clock milliseconds of a stamp. */
export function stampWallMs(stamp: HlcStamp): number {
  return Number(stamp.slice(0, WALL_DIGITS));
}

/** Orders stamps: negative if a < b, 0 if equal, positive if a > b. */
export function compareStamps(a: HlcStamp, b: HlcStamp): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A standard hybrid logical clock: `now()` never goes backwards even if the wall clock does, and
 * after `observe(remote)` the next `now()` is greater than `remote`.
 */
export class HybridLogicalClock {
  private wallMs = 0;
  private counter = 0;

  constructor(
    readonly nodeId: string,
    private readonly physicalNow: () => number = Date.now,
  ) {
    if (nodeId.length === 0) {
      throw new RangeError('HLC node name must not be empty');
    }
  }

  now(): HlcStamp {
    const physical = Math.floor(this.physicalNow());
    if (physical > this.wallMs) {
      this.wallMs = physical;
      this.counter = 0;
    } else {
      this.tick();
    }
    return formatStamp(this.wallMs, this.counter, this.nodeId);
  }

  /** Merges a remote stamp so that every later `now()` is greater than it. */
  observe(stamp: HlcStamp): void {
    const remote = parseStamp(stamp);
    if (
      remote.wallMs > this.wallMs ||
      (remote.wallMs === this.wallMs && remote.counter > this.counter)
    ) {
      this.wallMs = remote.wallMs;
      this.counter = remote.counter;
    }
    // now() either moves to a greater wall time or ticks the counter: either way its (wall,
    // counter) pair exceeds the remote one, whatever the node names.
  }

  private tick(): void {
    if (this.counter >= MAX_COUNTER) {
      this.wallMs += 1;
      this.counter = 0;
    } else {
      this.counter += 1;
    }
  }
}
