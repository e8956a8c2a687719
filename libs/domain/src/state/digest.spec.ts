import { assigned, message, operator, started, stateOf } from '../test-support/builders';
import { canonicalJson, stateDigest } from './digest';
import { applyEvent, createState } from './reducer';

describe(`${canonicalJson.name}`, () => {
  it('sorts object keys and map entries and drops undefined fields', () => {
    expect(
      canonicalJson({
        b: 1,
        a: [
          new Map([
            ['y', 2],
            ['x', 1],
          ]),
        ],
        c: undefined,
      }),
    ).toBe('{"a":[{"x":1,"y":2}],"b":1}');
  });
});

describe(`${stateDigest.name}`, () => {
  const events = [
    operator('o1', 's1'),
    started('c1', 's1'),
    assigned('c1', 's1', 'o1'),
    message('c1', 's1', 'm1', 'k1'),
  ];

  it('is the same for the same events in another order', () => {
    expect(stateDigest(stateOf(events))).toBe(stateDigest(stateOf([...events].reverse())));
  });

  it('ignores the revision', () => {
    const sut = stateOf(events);
    const digest = stateDigest(sut);
    sut.revision += 10;
    expect(stateDigest(sut)).toBe(digest);
  });

  it('changes when the state changes', () => {
    const sut = stateOf(events);
    const digest = stateDigest(sut);
    applyEvent(sut, message('c1', 's1', 'm2', 'k2'));
    expect(stateDigest(sut)).not.toBe(digest);
    expect(stateDigest(createState())).toMatch(/^[0-9a-f]{64}$/);
  });
});
