import {
  compareStamps,
  formatStamp,
  HybridLogicalClock,
  isHlcStamp,
  parseStamp,
  stampWallMs,
} from './hlc';

describe(`${formatStamp.name}`, () => {
  it('pads wall time and counter to a fixed width', () => {
    expect(formatStamp(42, 7, 'node-a')).toBe('000000000000042.000007.node-a');
  });

  it('rejects values that do not fit', () => {
    expect(() => formatStamp(-1, 0, 'n')).toThrow(RangeError);
    expect(() => formatStamp(0, 1_000_000, 'n')).toThrow(RangeError);
    expect(() => formatStamp(0, 0, '')).toThrow(RangeError);
  });
});

describe(`${parseStamp.name}`, () => {
  it('splits on the first two dots only, so node names may hold dots', () => {
    expect(parseStamp(formatStamp(1234, 5, 'chat-1.example.org'))).toEqual({
      wallMs: 1234,
      counter: 5,
      node: 'chat-1.example.org',
    });
  });

  it('throws on something that is not a stamp', () => {
    expect(() => parseStamp('12.3.x')).toThrow(TypeError);
  });
});

describe(`${isHlcStamp.name}`, () => {
  it.each([
    ['000000000000042.000007.node-a', true],
    ['000000000000042.000007.a.b.c', true],
    ['000000000000042.000007.', false],
    ['42.7.node', false],
    [42, false],
  ])('%p -> %p', (value, expected) => {
    expect(isHlcStamp(value)).toBe(expected);
  });
});

describe(`${stampWallMs.name}`, () => {
  it('reads the wall time back', () => {
    expect(stampWallMs(formatStamp(1_700_000_000_123, 9, 'n.1'))).toBe(1_700_000_000_123);
  });
});

describe(`${compareStamps.name}`, () => {
  it('orders by wall time, then counter, then node', () => {
    const sorted = [
      formatStamp(2, 0, 'a'),
      formatStamp(1, 10, 'a'),
      formatStamp(1, 2, 'b'),
      formatStamp(1, 2, 'a'),
      formatStamp(100, 0, 'a'),
    ].sort(compareStamps);
    expect(sorted.map(parseStamp)).toEqual([
      { wallMs: 1, counter: 2, node: 'a' },
      { wallMs: 1, counter: 2, node: 'b' },
      { wallMs: 1, counter: 10, node: 'a' },
      { wallMs: 2, counter: 0, node: 'a' },
      { wallMs: 100, counter: 0, node: 'a' },
    ]);
    expect(compareStamps(formatStamp(1, 1, 'a'), formatStamp(1, 1, 'a'))).toBe(0);
  });
});

describe(`${HybridLogicalClock.name}`, () => {
  it('follows the wall clock when it moves forward', () => {
    let wall = 1000;
    const sut = new HybridLogicalClock('node-a', () => wall);
    expect(sut.now()).toBe(formatStamp(1000, 0, 'node-a'));
    wall = 2000;
    expect(sut.now()).toBe(formatStamp(2000, 0, 'node-a'));
  });

  it('stays monotonic when the wall clock stands still or goes back', () => {
    let wall = 5000;
    const sut = new HybridLogicalClock('node-a', () => wall);
    const first = sut.now();
    const second = sut.now();
    wall = 1000;
    const third = sut.now();
    expect(compareStamps(first, second)).toBeLessThan(0);
    expect(compareStamps(second, third)).toBeLessThan(0);
    expect(stampWallMs(third)).toBe(5000);
  });

  it('issues a greater stamp after observing a remote one from the future', () => {
    const sut = new HybridLogicalClock('node-a', () => 1000);
    const remote = formatStamp(9000, 42, 'node-z');
    sut.observe(remote);
    const next = sut.now();
    expect(compareStamps(next, remote)).toBeGreaterThan(0);
    expect(parseStamp(next)).toEqual({ wallMs: 9000, counter: 43, node: 'node-a' });
  });

  it('ticks past an observed stamp with the same wall and counter and a greater node', () => {
    const sut = new HybridLogicalClock('a', () => 1000);
    sut.now();
    const remote = formatStamp(1000, 0, 'zzz');
    sut.observe(remote);
    expect(compareStamps(sut.now(), remote)).toBeGreaterThan(0);
  });

  it('ignores observed stamps from the past', () => {
    const sut = new HybridLogicalClock('a', () => 5000);
    sut.observe(formatStamp(10, 3, 'b'));
    expect(sut.now()).toBe(formatStamp(5000, 0, 'a'));
  });

  it('carries the counter over into the wall time instead of overflowing', () => {
    const sut = new HybridLogicalClock('a', () => 1000);
    sut.observe(formatStamp(1000, 999_999, 'b'));
    expect(parseStamp(sut.now())).toEqual({ wallMs: 1001, counter: 0, node: 'a' });
  });
});
