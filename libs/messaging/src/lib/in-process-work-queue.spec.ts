import { InProcessWorkQueue, WorkQueueStoppedError } from './in-process-work-queue';
import { type QueuedItem, retryDelayMs } from './work-queue';

/** Lets every pending promise callback run (setImmediate is never faked in these tests). */
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Whether `promise` has settled after pending callbacks ran. */
async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await flush();
  return settled;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const ids = (batch: readonly QueuedItem[]): string[] => batch.map((item) => item.uniqueId);

describe(`${InProcessWorkQueue.name}`, () => {
  let sut: InProcessWorkQueue;
  let onHandlerError: jest.Mock;

  beforeEach(async () => {
    onHandlerError = jest.fn();
    sut = new InProcessWorkQueue({ onHandlerError, retryBaseDelayMs: 1, retryMaxDelayMs: 4 });
    await sut.start();
  });

  afterEach(async () => {
    await sut.stop();
    jest.useRealTimers();
  });

  describe('publish', () => {
    it('resolves only after the handler processed the item', async () => {
      const gate = deferred();
      const log: string[] = [];
      sut.consume('persist', { batchSize: 10, lingerMs: 0 }, async (batch) => {
        log.push(`handling ${ids(batch).join()}`);
        await gate.promise;
        log.push('handled');
      });

      const published = sut
        .publish('persist', 'm1', { text: 'hi' })
        .then(() => log.push('resolved'));
      expect(await isSettled(published)).toBe(false);
      expect(log).toEqual(['handling m1']);

      gate.resolve();
      await published;
      expect(log).toEqual(['handling m1', 'handled', 'resolved']);
    });

    it('hands the handler the queue, uniqueId, a copy of the payload and the delivery count', async () => {
      const received: QueuedItem[] = [];
      sut.consume('persist', { batchSize: 10, lingerMs: 0 }, (batch) => {
        received.push(...batch);
        return Promise.resolve();
      });
      const payload = { text: 'hi', at: new Date(0) };

      await sut.publish('persist', 'm1', payload);

      expect(received).toEqual([
        {
          queue: 'persist',
          uniqueId: 'm1',
          payload: { text: 'hi', at: '1970-01-01T00:00:00.000Z' },
          deliveryCount: 1,
        },
      ]);
      expect(received[0]?.payload).not.toBe(payload);
    });

    it('keeps items published before any consumer exists until one consumes them, in FIFO order', async () => {
      const published = [
        sut.publish('persist', 'a', 1),
        sut.publish('persist', 'b', 2),
        sut.publish('persist', 'c', 3),
      ];
      await flush();
      const received: string[] = [];

      sut.consume('persist', { batchSize: 1, lingerMs: 0 }, (batch) => {
        received.push(...ids(batch));
        return Promise.resolve();
      });
      await Promise.all(published);

      expect(received).toEqual(['a', 'b', 'c']);
    });

    it('delivers only to consumers of the same queue', async () => {
      const other = jest.fn(() => Promise.resolve());
      const mine = jest.fn(() => Promise.resolve());
      sut.consume('webhook', { batchSize: 10, lingerMs: 0 }, other);
      sut.consume('persist', { batchSize: 10, lingerMs: 0 }, mine);

      await sut.publish('persist', 'm1', {});

      expect(mine).toHaveBeenCalledTimes(1);
      expect(other).not.toHaveBeenCalled();
    });

    it('drops a duplicate uniqueId that is not yet acked; both publishes resolve on the one ack', async () => {
      const received: QueuedItem[] = [];
      const first = sut.publish('persist', 'm1', { version: 1 });
      const duplicate = sut.publish('persist', 'm1', { version: 2 });

      sut.consume('persist', { batchSize: 10, lingerMs: 0 }, (batch) => {
        received.push(...batch);
        return Promise.resolve();
      });
      await Promise.all([first, duplicate]);

      expect(received.map((item) => item.payload)).toEqual([{ version: 1 }]);
    });

    it('accepts the same uniqueId again once the first one was acked', async () => {
      const received: string[] = [];
      sut.consume('persist', { batchSize: 10, lingerMs: 0 }, (batch) => {
        received.push(...ids(batch));
        return Promise.resolve();
      });

      await sut.publish('persist', 'm1', {});
      await sut.publish('persist', 'm1', {});

      expect(received).toEqual(['m1', 'm1']);
    });

    it('rejects when the queue is not started', async () => {
      await sut.stop();

      await expect(sut.publish('persist', 'm1', {})).rejects.toThrow(/not started/);
    });

    it('rejects a payload that has no JSON form', async () => {
      await expect(sut.publish('persist', 'm1', undefined)).rejects.toThrow(
        /not JSON-serialisable/,
      );
    });
  });

  describe('batching', () => {
    it('hands over at most batchSize items per handler call', async () => {
      const published = ['a', 'b', 'c', 'd', 'e'].map((id) => sut.publish('persist', id, {}));
      const batches: string[][] = [];

      sut.consume('persist', { batchSize: 2, lingerMs: 0 }, (batch) => {
        batches.push(ids(batch));
        return Promise.resolve();
      });
      await Promise.all(published);

      expect(batches).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    });

    it('takes what is there when lingerMs is 0', async () => {
      const batches: string[][] = [];
      sut.consume('persist', { batchSize: 10, lingerMs: 0 }, (batch) => {
        batches.push(ids(batch));
        return Promise.resolve();
      });

      await sut.publish('persist', 'a', {});

      expect(batches).toEqual([['a']]);
    });

    it('lingers up to lingerMs for a fuller batch', async () => {
      jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] });
      const batches: string[][] = [];
      sut.consume('persist', { batchSize: 3, lingerMs: 1000 }, (batch) => {
        batches.push(ids(batch));
        return Promise.resolve();
      });

      const a = sut.publish('persist', 'a', {});
      await jest.advanceTimersByTimeAsync(999);
      expect(batches).toEqual([]);

      const b = sut.publish('persist', 'b', {});
      await jest.advanceTimersByTimeAsync(1);
      await Promise.all([a, b]);
      expect(batches).toEqual([['a', 'b']]);
    });

    it('stops lingering as soon as the batch is full', async () => {
      jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] });
      const batches: string[][] = [];
      sut.consume('persist', { batchSize: 2, lingerMs: 60_000 }, (batch) => {
        batches.push(ids(batch));
        return Promise.resolve();
      });

      const a = sut.publish('persist', 'a', {});
      await flush();
      expect(batches).toEqual([]);
      const b = sut.publish('persist', 'b', {});
      await flush();

      expect(batches).toEqual([['a', 'b']]);
      await Promise.all([a, b]);
    });

    it('lets competing consumers share a queue, each item handled once', async () => {
      const handled: string[] = [];
      const handler = (batch: QueuedItem[]): Promise<void> => {
        handled.push(...ids(batch));
        return new Promise((resolve) => setImmediate(resolve));
      };
      sut.consume('persist', { batchSize: 1, lingerMs: 0 }, handler);
      sut.consume('persist', { batchSize: 1, lingerMs: 0 }, handler);

      await Promise.all(['a', 'b', 'c', 'd'].map((id) => sut.publish('persist', id, {})));

      expect([...handled].sort()).toEqual(['a', 'b', 'c', 'd']);
    });
  });

  describe('retry', () => {
    it('redelivers the same batch with deliveryCount incremented until the handler succeeds', async () => {
      const deliveries: Array<{ ids: string[]; counts: number[] }> = [];
      const failure = new Error('database down');
      const published = [sut.publish('persist', 'a', {}), sut.publish('persist', 'b', {})];

      sut.consume('persist', { batchSize: 10, lingerMs: 0 }, (batch) => {
        deliveries.push({ ids: ids(batch), counts: batch.map((item) => item.deliveryCount) });
        return deliveries.length < 3 ? Promise.reject(failure) : Promise.resolve();
      });
      await Promise.all(published);

      expect(deliveries).toEqual([
        { ids: ['a', 'b'], counts: [1, 1] },
        { ids: ['a', 'b'], counts: [2, 2] },
        { ids: ['a', 'b'], counts: [3, 3] },
      ]);
      expect(onHandlerError).toHaveBeenCalledTimes(2);
      expect(onHandlerError).toHaveBeenCalledWith(failure, {
        queue: 'persist',
        uniqueIds: ['a', 'b'],
        deliveryCount: 2,
      });
    });

    it('waits a capped exponential backoff between attempts', async () => {
      jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] });
      await sut.stop();
      sut = new InProcessWorkQueue({ onHandlerError, retryBaseDelayMs: 100, retryMaxDelayMs: 250 });
      await sut.start();
      let calls = 0;
      sut.consume('persist', { batchSize: 1, lingerMs: 0 }, () => {
        calls += 1;
        return calls <= 3 ? Promise.reject(new Error('down')) : Promise.resolve();
      });

      const published = sut.publish('persist', 'a', {});
      await flush();
      expect(calls).toBe(1);
      await jest.advanceTimersByTimeAsync(99);
      expect(calls).toBe(1);
      await jest.advanceTimersByTimeAsync(1);
      expect(calls).toBe(2);
      await jest.advanceTimersByTimeAsync(199);
      expect(calls).toBe(2);
      await jest.advanceTimersByTimeAsync(1);
      expect(calls).toBe(3);
      await jest.advanceTimersByTimeAsync(249);
      expect(calls).toBe(3);
      await jest.advanceTimersByTimeAsync(1);
      expect(calls).toBe(4);
      await published;
    });

    it('computes base * 2^(n-1) capped at the maximum', () => {
      const options = { retryBaseDelayMs: 100, retryMaxDelayMs: 5000 };

      expect([1, 2, 3, 6, 7, 100].map((n) => retryDelayMs(n, options))).toEqual([
        100, 200, 400, 3200, 5000, 5000,
      ]);
    });
  });

  describe('stop', () => {
    it('rejects publishes that no consumer took', async () => {
      const published = sut.publish('persist', 'm1', {});
      const outcome = published.catch((error: unknown) => error);

      await sut.stop();

      expect(await outcome).toBeInstanceOf(WorkQueueStoppedError);
      await expect(published).rejects.toThrow(
        'Work queue stopped before item m1 of queue "persist" was consumed',
      );
    });

    it('rejects publishes whose batch keeps failing and stops redelivering', async () => {
      const handler = jest.fn(() => Promise.reject(new Error('down')));
      sut.consume('persist', { batchSize: 10, lingerMs: 0 }, handler);
      const published = sut.publish('persist', 'm1', {});
      const outcome = published.catch((error: unknown) => error);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(handler).toHaveBeenCalled();

      await sut.stop();
      const callsAtStop = handler.mock.calls.length;
      await new Promise((resolve) => setTimeout(resolve, 20));

      expect(await outcome).toBeInstanceOf(WorkQueueStoppedError);
      expect(handler).toHaveBeenCalledTimes(callsAtStop);
    });

    it('waits for the batch in flight, whose publish then resolves', async () => {
      const gate = deferred();
      sut.consume('persist', { batchSize: 10, lingerMs: 0 }, () => gate.promise);
      const published = sut.publish('persist', 'm1', {});
      await flush();

      const stopped = sut.stop();
      expect(await isSettled(stopped)).toBe(false);

      gate.resolve();
      await stopped;
      await expect(published).resolves.toBeUndefined();
    });
  });

  describe('consumer.stop', () => {
    it('waits for its batch in flight and takes no more items', async () => {
      const gate = deferred();
      const handled: string[] = [];
      const consumer = sut.consume('persist', { batchSize: 1, lingerMs: 0 }, async (batch) => {
        handled.push(...ids(batch));
        await gate.promise;
      });
      const first = sut.publish('persist', 'a', {});
      await flush();

      const stopped = consumer.stop();
      expect(await isSettled(stopped)).toBe(false);
      gate.resolve();
      await stopped;
      await first;

      const second = sut.publish('persist', 'b', {});
      const outcome = second.catch((error: unknown) => error);
      await flush();
      expect(handled).toEqual(['a']);
      await sut.stop();
      expect(await outcome).toBeInstanceOf(WorkQueueStoppedError);
    });

    it('hands a failing batch back to the queue for another consumer', async () => {
      const failing = sut.consume('persist', { batchSize: 10, lingerMs: 0 }, () =>
        Promise.reject(new Error('down')),
      );
      const published = sut.publish('persist', 'm1', {});
      await flush();
      await failing.stop();

      const received: QueuedItem[] = [];
      sut.consume('persist', { batchSize: 10, lingerMs: 0 }, (batch) => {
        received.push(...batch);
        return Promise.resolve();
      });
      await published;

      expect(received).toHaveLength(1);
      expect(received[0]?.uniqueId).toBe('m1');
      expect(received[0]?.deliveryCount).toBeGreaterThan(1);
    });
  });

  it('rejects invalid consume options', () => {
    expect(() =>
      sut.consume('persist', { batchSize: 0, lingerMs: 0 }, () => Promise.resolve()),
    ).toThrow(RangeError);
    expect(() =>
      sut.consume('persist', { batchSize: 1, lingerMs: -1 }, () => Promise.resolve()),
    ).toThrow(RangeError);
  });
});
