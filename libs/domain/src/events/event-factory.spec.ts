import { HybridLogicalClock, compareStamps, formatStamp } from '../clock/hlc';
import { IdGenerator } from '../ids';
import { EventFactory } from './event-factory';

class CountingIds extends IdGenerator {
  private count = 0;
  next(): string {
    this.count += 1;
    return `id-${this.count}`;
  }
}

describe(`${EventFactory.name}`, () => {
  it('stamps events with a fresh id, the origin node and increasing clocks', () => {
    const sut = new EventFactory(
      'node-a',
      new HybridLogicalClock('node-a', () => 1000),
      new CountingIds(),
    );
    const first = sut.create('site.upserted', { site: { id: 's1', name: 'One' } });
    const second = sut.create('operator.status.set', {
      operatorId: 'o1',
      siteId: 's1',
      status: 'online',
    });
    expect(first).toEqual({
      id: 'id-1',
      type: 'site.upserted',
      origin: 'node-a',
      clock: formatStamp(1000, 0, 'node-a'),
      data: { site: { id: 's1', name: 'One' } },
    });
    expect(second.id).toBe('id-2');
    expect(compareStamps(first.clock, second.clock)).toBeLessThan(0);
  });
});
