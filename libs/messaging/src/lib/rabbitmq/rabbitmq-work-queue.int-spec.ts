import { type ChannelModel, connect } from 'amqplib';
import {
  requireService,
  sleep,
  waitFor,
  type TestVhost,
  checkBroker,
  createTestVhost,
} from '@chat/testing';
import type { QueuedItem } from '../work-queue';
import { RabbitMqConnection, RabbitMqNotConnectedError } from './rabbitmq-connection';
import { RabbitMqWorkQueue, type RabbitMqWorkQueueOptions } from './rabbitmq-work-queue';

describe(`${RabbitMqWorkQueue.name} (real RabbitMQ)`, () => {
  let vhost: TestVhost;
  let admin: ChannelModel;
  const queues: RabbitMqWorkQueue[] = [];
  const handlerErrors: unknown[] = [];

  beforeAll(async () => {
    await requireService('rabbitmq', checkBroker);
    vhost = await createTestVhost('work');
    admin = await connect(vhost.url);
    admin.on('error', () => undefined);
  });

  afterEach(async () => {
    await Promise.all(queues.splice(0).map((queue) => queue.stop()));
    handlerErrors.length = 0;
  });

  afterAll(async () => {
    await admin?.close().catch(() => undefined);
    await vhost?.delete();
  });

  function workQueue(overrides: Partial<RabbitMqWorkQueueOptions> = {}): RabbitMqWorkQueue {
    const created = new RabbitMqWorkQueue({
      url: vhost.url,
      prefix: 'chat.',
      retryBaseDelayMs: 50,
      retryMaxDelayMs: 200,
      onHandlerError: (error) => handlerErrors.push(error),
      onError: () => undefined,
      ...overrides,
    });
    queues.push(created);
    return created;
  }

  async function depth(queue: string): Promise<number> {
    const channel = await admin.createChannel();
    channel.on('error', () => undefined); // a refused operation closes it; the promise says why
    try {
      return (await channel.checkQueue(queue)).messageCount;
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  it('resolves publish once the item is durably queued (quorum queue), and not while stopped', async () => {
    const q = workQueue();
    await expect(q.publish('jobs.confirm', 'x', {})).rejects.toBeInstanceOf(
      RabbitMqNotConnectedError,
    );
    await q.start();
    for (let i = 0; i < 5; i += 1) {
      await q.publish('jobs.confirm', `item-${i}`, { i });
    }
    expect(await depth('chat.jobs.confirm')).toBe(5);
    const channel = await admin.createChannel();
    channel.on('error', () => undefined); // a refused operation closes it; the promise says why
    try {
      // Declared as a quorum queue: re-declaring it as a classic one is refused.
      await expect(channel.assertQueue('chat.jobs.confirm', { durable: true })).rejects.toThrow(
        /PRECONDITION_FAILED/,
      );
    } finally {
      await channel.close().catch(() => undefined);
    }
  });

  it('shares the items between competing consumers on two nodes, each item handled once', async () => {
    const node1 = workQueue();
    const node2 = workQueue();
    const handled = new Map<string, string[]>();
    const record = (node: string) => async (batch: QueuedItem[]) => {
      expect(batch.length).toBeLessThanOrEqual(4);
      await sleep(20);
      for (const item of batch) {
        handled.set(item.uniqueId, [...(handled.get(item.uniqueId) ?? []), node]);
        expect(item.queue).toBe('jobs.split');
        expect(item.deliveryCount).toBe(1);
        expect(item.payload).toEqual({ n: Number(item.uniqueId.slice(5)) });
      }
    };
    node1.consume('jobs.split', { batchSize: 4, lingerMs: 20 }, record('node1'));
    await node1.start();
    await node2.start();
    node2.consume('jobs.split', { batchSize: 4, lingerMs: 20 }, record('node2'));
    await sleep(200); // let node2's consumer attach (consume() after start attaches asynchronously)

    const total = 60;
    await Promise.all(
      Array.from({ length: total }, (_, n) => node1.publish('jobs.split', `item-${n}`, { n })),
    );
    await waitFor(() => handled.size === total, { description: 'every item handled' });
    await sleep(300);
    expect([...handled.values()].every((nodes) => nodes.length === 1)).toBe(true);
    const byNode1 = [...handled.values()].filter(([node]) => node === 'node1').length;
    expect(byNode1).toBeGreaterThan(0);
    expect(byNode1).toBeLessThan(total);
    expect(handlerErrors).toEqual([]);
  });

  it('hands out batches of at most batchSize, lingering for a fuller one', async () => {
    const q = workQueue();
    await q.start();
    for (let i = 0; i < 7; i += 1) {
      await q.publish('jobs.batch', `b-${i}`, i);
    }
    const batches: number[][] = [];
    q.consume('jobs.batch', { batchSize: 3, lingerMs: 100 }, (batch) => {
      batches.push(batch.map((item) => item.payload as number));
      return Promise.resolve();
    });
    await waitFor(() => batches.flat().length === 7, { description: 'every item' });
    expect(batches.flat()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(batches.map((batch) => batch.length)).toEqual([3, 3, 1]);
  });

  it('redelivers a failing batch after a backoff with a higher deliveryCount, then acks it', async () => {
    const q = workQueue();
    const deliveries: Array<{ id: string; count: number }> = [];
    let failuresLeft = 2;
    q.consume('jobs.retry', { batchSize: 10, lingerMs: 50 }, (batch) => {
      deliveries.push(...batch.map((item) => ({ id: item.uniqueId, count: item.deliveryCount })));
      if (failuresLeft > 0) {
        failuresLeft -= 1;
        return Promise.reject(new Error('database down'));
      }
      return Promise.resolve();
    });
    await q.start();
    await q.publish('jobs.retry', 'r-1', { text: 'hello' });

    await waitFor(() => deliveries.length === 3, { description: 'three deliveries' });
    expect(deliveries).toEqual([
      { id: 'r-1', count: 1 },
      { id: 'r-1', count: 2 },
      { id: 'r-1', count: 3 },
    ]);
    expect(handlerErrors).toHaveLength(2);
    await waitFor(async () => (await depth('chat.jobs.retry')) === 0, {
      description: 'the queue to drain',
    });
    await sleep(300);
    expect(deliveries).toHaveLength(3); // acked: not delivered again
  });

  it('drops a publish of a uniqueId whose confirm is still pending', async () => {
    const q = workQueue();
    await q.start();
    const first = q.publish('jobs.dedup', 'same', { v: 1 });
    const second = q.publish('jobs.dedup', 'same', { v: 2 });
    await Promise.all([first, second]);
    expect(await depth('chat.jobs.dedup')).toBe(1);
  });

  it('re-attaches its consumers after the broker closed the shared connection', async () => {
    const connection = new RabbitMqConnection({
      url: vhost.url,
      connectionName: 'shared-node',
      onError: () => undefined,
    });
    const q = workQueue({ url: undefined, connection });
    let reconnects = 0;
    q.onReconnected(() => {
      reconnects += 1;
    });
    const seen: string[] = [];
    q.consume('jobs.reconnect', { batchSize: 5, lingerMs: 0 }, (batch) => {
      seen.push(...batch.map((item) => item.uniqueId));
      return Promise.resolve();
    });
    await q.start();
    await q.publish('jobs.reconnect', 'before', null);
    await waitFor(() => seen.includes('before'), { description: 'the first item' });

    expect(await vhost.closeConnections('shared-node')).toBe(1);
    await waitFor(() => reconnects === 1 && q.connected, { description: 'the reconnect' });
    await q.publish('jobs.reconnect', 'after', null);
    await waitFor(() => seen.includes('after'), { description: 'an item after the reconnect' });
    expect(seen).toEqual(['before', 'after']);
    await q.stop();
    await connection.close();
  });
});
