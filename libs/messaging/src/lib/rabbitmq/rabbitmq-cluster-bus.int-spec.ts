import { randomUUID } from 'node:crypto';
import { type ChannelModel, connect } from 'amqplib';
import {
  requireService,
  sleep,
  waitFor,
  type TestVhost,
  checkBroker,
  createTestVhost,
} from '@chat/testing';
import { RabbitMqClusterBus, type RabbitMqClusterBusOptions } from './rabbitmq-cluster-bus';
import { RabbitMqNotConnectedError } from './rabbitmq-connection';
import { RabbitMqUnroutableError } from './rabbitmq-support';
import { RabbitMqWorkQueue } from './rabbitmq-work-queue';
import { type QueuedItem } from '../work-queue';

interface TestEvent {
  readonly id: string;
  readonly origin: string;
  readonly seq: number;
}

const PREFIX = 'chat.';

describe(`${RabbitMqClusterBus.name} (real RabbitMQ)`, () => {
  let vhost: TestVhost;
  let admin: ChannelModel;
  const buses: RabbitMqClusterBus<TestEvent, TestEvent>[] = [];
  const errors: unknown[] = [];
  /** A cluster of its own per test: durable node queues keep events across tests otherwise. */
  let cluster = '';

  beforeAll(async () => {
    await requireService('rabbitmq', checkBroker);
    vhost = await createTestVhost('bus');
    admin = await connect(vhost.url);
    admin.on('error', () => undefined);
  });

  beforeEach(() => {
    cluster = `c${randomUUID().slice(0, 8)}`;
  });

  afterEach(async () => {
    await Promise.all(buses.splice(0).map((bus) => bus.stop()));
    errors.length = 0;
  });

  afterAll(async () => {
    await admin?.close().catch(() => undefined);
    await vhost?.delete();
  });

  function bus(
    nodeName: string,
    overrides: Partial<RabbitMqClusterBusOptions> = {},
  ): RabbitMqClusterBus<TestEvent, TestEvent> {
    const created = new RabbitMqClusterBus<TestEvent, TestEvent>({
      url: vhost.url,
      prefix: PREFIX,
      clusterName: cluster,
      nodeName,
      instanceId: randomUUID(),
      onError: (error) => errors.push(error),
      ...overrides,
    });
    buses.push(created);
    return created;
  }

  function event(origin: string, seq: number): TestEvent {
    return { id: randomUUID(), origin, seq };
  }

  async function withAdminChannel<T>(
    action: (channel: Awaited<ReturnType<ChannelModel['createChannel']>>) => Promise<T>,
  ): Promise<T> {
    const channel = await admin.createChannel();
    channel.on('error', () => undefined); // a refused operation closes it; the promise says why
    try {
      return await action(channel);
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  it('delivers every event to every node, own events included, in publish order per publisher', async () => {
    const a = bus('a');
    const b = bus('b');
    const seenByA: TestEvent[] = [];
    const seenByB: TestEvent[] = [];
    a.subscribe((e) => {
      seenByA.push(e);
    });
    b.subscribe(async (e) => {
      await sleep(1); // a slower handler must not change the order
      seenByB.push(e);
    });
    await Promise.all([a.start(), b.start()]);
    expect(a.connected).toBe(true);

    const count = 30;
    await Promise.all([
      ...Array.from({ length: count }, (_, i) => a.publish(event('a', i))),
      ...Array.from({ length: count }, (_, i) => b.publish(event('b', i))),
    ]);

    for (const seen of [seenByA, seenByB]) {
      await waitFor(() => seen.length >= 2 * count, { description: 'all events' });
      for (const origin of ['a', 'b']) {
        expect(seen.filter((e) => e.origin === origin).map((e) => e.seq)).toEqual(
          Array.from({ length: count }, (_, i) => i),
        );
      }
    }
    await sleep(200);
    expect(seenByA).toHaveLength(2 * count);
    expect(seenByB).toHaveLength(2 * count);
  });

  it('resolves publish only once the broker holds the event, even for a node that is away', async () => {
    const a = bus('a');
    const away = bus('away');
    await away.start();
    await away.stop(); // its durable queue stays, bound, with nobody consuming
    await a.start();

    await a.publish(event('a', 1));
    await a.publish(event('a', 2));

    const depth = await withAdminChannel((channel) => channel.checkQueue(away.names.stateQueue));
    expect(depth.messageCount).toBe(2);

    // The node comes back (new process, same node name): it receives what was published meanwhile.
    const back = bus('away');
    const seen: TestEvent[] = [];
    back.subscribe((e) => {
      seen.push(e);
    });
    await back.start();
    await waitFor(() => seen.length >= 2, { description: 'the queued events' });
    expect(seen.map((e) => e.seq)).toEqual([1, 2]);
    await withAdminChannel((channel) => channel.deleteQueue(away.names.stateQueue));
  });

  it('rejects a publish that no queue receives (basic.return), and publishes while stopped', async () => {
    // The test's own cluster: its state exchange has only this node's queue bound to it.
    const a = bus('lonely');
    await expect(a.publish(event('a', 0))).rejects.toBeInstanceOf(RabbitMqNotConnectedError);
    await a.start();
    await a.publish(event('a', 0));
    // Now leave the exchange without any bound queue.
    await withAdminChannel((channel) =>
      channel.unbindQueue(a.names.stateQueue, a.names.stateExchange, ''),
    );

    await expect(a.publish(event('a', 1))).rejects.toBeInstanceOf(RabbitMqUnroutableError);
    expect(a.connected).toBe(true);

    await withAdminChannel((channel) =>
      channel.bindQueue(a.names.stateQueue, a.names.stateExchange, ''),
    );
    await expect(a.publish(event('a', 2))).resolves.toBeUndefined();
  });

  it('redelivers an event whose handler threw, without holding up later events', async () => {
    const a = bus('a');
    const attempts = new Map<number, number>();
    a.subscribe((e) => {
      const n = (attempts.get(e.seq) ?? 0) + 1;
      attempts.set(e.seq, n);
      if (e.seq === 1 && n === 1) {
        throw new Error('handler failed once');
      }
    });
    await a.start();
    await a.publish(event('a', 1));
    await a.publish(event('a', 2));

    await waitFor(() => attempts.get(1) === 2 && attempts.get(2) === 1, {
      description: 'the redelivery',
    });
    expect(errors).toHaveLength(1);
    await sleep(300);
    expect(attempts.get(1)).toBe(2);
  });

  it('redelivers an event whose consumer died before acking it', async () => {
    const a = bus('dies');
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const deliveries: number[] = [];
    a.subscribe(async (e) => {
      deliveries.push(e.seq);
      if (deliveries.length === 1) {
        await gate; // still handling when the connection dies
      }
    });
    await a.start();
    await a.publish(event('a', 7));
    await waitFor(() => deliveries.length === 1, { description: 'the first delivery' });

    expect(await vhost.closeConnections(`${cluster}/dies/`)).toBe(1);
    await waitFor(() => !a.connected, { description: 'the bus to notice' });
    release(); // its ack now goes nowhere
    await waitFor(() => deliveries.length === 2, { description: 'the redelivery' });
    expect(deliveries).toEqual([7, 7]);
  });

  it('reconnects after the broker closed its connection: re-declares, re-consumes, tells the app', async () => {
    const a = bus('phoenix', { connectionOptions: { reconnectInitialDelayMs: 1500 } });
    const b = bus('witness');
    const seenByA: TestEvent[] = [];
    const signalsSeenByA: TestEvent[] = [];
    a.subscribe((e) => {
      seenByA.push(e);
    });
    a.subscribeSignals((s) => {
      signalsSeenByA.push(s);
    });
    const transitions: boolean[] = [];
    a.onConnectionChange((connected) => transitions.push(connected));
    let reconnects = 0;
    a.onReconnected(() => {
      reconnects += 1;
    });
    await Promise.all([a.start(), b.start()]);

    // Remove the state exchange (and with it the bindings) behind the driver's back.
    await withAdminChannel((channel) => channel.deleteExchange(a.names.stateExchange));
    expect(await vhost.closeConnections(`${cluster}/phoenix/`)).toBe(1);

    await waitFor(() => !a.connected, { description: 'connected to turn false' });
    await expect(a.publish(event('a', 0))).rejects.toBeInstanceOf(RabbitMqNotConnectedError);
    expect(() => a.publishSignal(event('a', 0))).not.toThrow();

    await waitFor(() => a.connected, { description: 'the reconnect', timeoutMs: 20_000 });
    expect(transitions).toEqual([true, false, true]);
    expect(reconnects).toBe(1);

    // The exchange, the binding, both queues and both consumers are back.
    await a.publish(event('a', 1));
    await b.publish(event('b', 1));
    b.publishSignal(event('b', 2));
    await waitFor(() => seenByA.length >= 2 && signalsSeenByA.length >= 1, {
      description: 'events and signals after the reconnect',
    });
    expect(seenByA.map((e) => `${e.origin}${e.seq}`).sort()).toEqual(['a1', 'b1']);
    expect(signalsSeenByA.map((s) => s.seq)).toEqual([2]);
  });

  it('fans signals out to every node, separately from events; drops them when stopped', async () => {
    const a = bus('a');
    const b = bus('b');
    const events: TestEvent[] = [];
    const signals: Array<[string, TestEvent]> = [];
    for (const [name, node] of [
      ['a', a],
      ['b', b],
    ] as const) {
      node.subscribe((e) => {
        events.push(e);
      });
      node.subscribeSignals((s) => {
        signals.push([name, s]);
      });
    }
    expect(() => a.publishSignal(event('a', 0))).not.toThrow(); // not started: dropped
    await Promise.all([a.start(), b.start()]);
    a.publishSignal(event('a', 1));
    await waitFor(() => signals.length >= 2, { description: 'the signal on both nodes' });
    expect(signals.map(([name, s]) => `${name}:${s.seq}`).sort()).toEqual(['a:1', 'b:1']);
    await sleep(200);
    expect(events).toEqual([]);
  });

  it('routes a copy of every event into the bound work queues with the same confirmed publish', async () => {
    const queues = new RabbitMqWorkQueue({ url: vhost.url, prefix: `${PREFIX}${cluster}.` });
    const received: QueuedItem[] = [];
    const a = bus('a', { boundWorkQueues: [queues.queueName('persist')] });
    await a.start();
    // Nothing consumes the work queue yet: the copies must wait there, durably.
    const sent = [event('a', 1), event('a', 2), event('a', 3)];
    for (const e of sent) await a.publish(e);
    await a.stop();
    try {
      queues.consume('persist', { batchSize: 10, lingerMs: 0 }, (batch) => {
        received.push(...batch);
        return Promise.resolve();
      });
      await queues.start(); // declares the queue with the same arguments the bus used
      await waitFor(() => received.length === 3);
      expect(received.map((item) => [item.uniqueId, item.payload])).toEqual(
        sent.map((e) => [e.id, e]),
      );
    } finally {
      await queues.stop();
    }
  });

  it('refuses a second running process with the same node name', async () => {
    const first = bus('twin');
    await first.start();
    const second = bus('twin', { connectionOptions: { initialConnectRetries: 0 } });
    await expect(second.start()).rejects.toThrow(/exclusive|ACCESS.REFUSED/i);
  });
});
