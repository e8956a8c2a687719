import { type BusErrorContext } from './cluster-bus';
import { InProcessClusterBus } from './in-process-cluster-bus';

interface TestEvent {
  readonly id: string;
  readonly n: number;
}

/** Lets every queued microtask and pending promise callback run. */
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe(`${InProcessClusterBus.name}`, () => {
  let sut: InProcessClusterBus<TestEvent, TestEvent>;
  let onError: jest.Mock<void, [unknown, BusErrorContext]>;

  beforeEach(async () => {
    onError = jest.fn<void, [unknown, BusErrorContext]>();
    sut = new InProcessClusterBus<TestEvent, TestEvent>({ onError });
    await sut.start();
  });

  afterEach(async () => {
    await sut.stop();
  });

  it('is connected only between start and stop', async () => {
    expect(sut.connected).toBe(true);
    await sut.stop();
    expect(sut.connected).toBe(false);
  });

  it('delivers every event to every subscriber in publish order', async () => {
    const first: number[] = [];
    const second: number[] = [];
    sut.subscribe((event) => {
      first.push(event.n);
    });
    sut.subscribe((event) => {
      second.push(event.n);
    });

    for (let n = 1; n <= 5; n += 1) {
      await sut.publish({ id: `e${n}`, n });
    }
    await flush();

    expect(first).toEqual([1, 2, 3, 4, 5]);
    expect(second).toEqual([1, 2, 3, 4, 5]);
  });

  it('delivers asynchronously, never inside publish', async () => {
    const handler = jest.fn();
    sut.subscribe(handler);

    const published = sut.publish({ id: 'e1', n: 1 });
    expect(handler).not.toHaveBeenCalled();

    await published;
    await flush();
    expect(handler).toHaveBeenCalledWith({ id: 'e1', n: 1 });
  });

  it('waits for an async handler before giving it the next event', async () => {
    const log: string[] = [];
    let release: () => void = () => undefined;
    sut.subscribe(async (event) => {
      log.push(`start ${event.n}`);
      if (event.n === 1) {
        await new Promise<void>((resolve) => (release = resolve));
      }
      log.push(`end ${event.n}`);
    });

    await sut.publish({ id: 'e1', n: 1 });
    await sut.publish({ id: 'e2', n: 2 });
    await flush();
    expect(log).toEqual(['start 1']);

    release();
    await flush();
    expect(log).toEqual(['start 1', 'end 1', 'start 2', 'end 2']);
  });

  it('isolates a failing handler: others still receive, it keeps receiving, errors are reported', async () => {
    const healthy: number[] = [];
    const failing: number[] = [];
    const failure = new Error('boom');
    sut.subscribe((event) => {
      failing.push(event.n);
      throw failure;
    });
    sut.subscribe((event) => {
      healthy.push(event.n);
    });

    await sut.publish({ id: 'e1', n: 1 });
    await sut.publish({ id: 'e2', n: 2 });
    await flush();

    expect(healthy).toEqual([1, 2]);
    expect(failing).toEqual([1, 2]);
    expect(onError).toHaveBeenCalledTimes(2);
    expect(onError).toHaveBeenCalledWith(failure, { kind: 'event', messageId: 'e1' });
    expect(onError).toHaveBeenCalledWith(failure, { kind: 'event', messageId: 'e2' });
  });

  it('hands subscribers a copy, so later changes by the publisher are not seen', async () => {
    const received: unknown[] = [];
    sut.subscribe((event) => {
      received.push(event);
    });
    const event = { id: 'e1', n: 1 };

    await sut.publish(event);
    event.n = 99;
    await flush();

    expect(received).toEqual([{ id: 'e1', n: 1 }]);
  });

  it('rejects publish when not started', async () => {
    await sut.stop();

    await expect(sut.publish({ id: 'e1', n: 1 })).rejects.toThrow(/not started/);
  });

  it('fans signals out to every signal subscriber, separately from events', async () => {
    const signals: number[][] = [[], []];
    const events = jest.fn();
    sut.subscribe(events);
    sut.subscribeSignals((signal) => {
      signals[0]?.push(signal.n);
    });
    sut.subscribeSignals((signal) => {
      signals[1]?.push(signal.n);
    });

    sut.publishSignal({ id: 's1', n: 1 });
    sut.publishSignal({ id: 's2', n: 2 });
    await flush();

    expect(signals).toEqual([
      [1, 2],
      [1, 2],
    ]);
    expect(events).not.toHaveBeenCalled();
  });

  it('reports failing signal handlers and drops signals while stopped', async () => {
    const failure = new Error('typing failed');
    const handler = jest.fn(() => {
      throw failure;
    });
    sut.subscribeSignals(handler);

    sut.publishSignal({ id: 's1', n: 1 });
    await flush();
    expect(onError).toHaveBeenCalledWith(failure, { kind: 'signal', messageId: 's1' });

    await sut.stop();
    sut.publishSignal({ id: 's2', n: 2 });
    await flush();
    expect(handler).toHaveBeenCalledTimes(1);
  });
});
