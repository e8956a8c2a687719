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
import {
  NodeNameInUseError,
  type RpcCaller,
  RpcNodeUnreachableError,
  RpcRemoteError,
  RpcTimeoutError,
} from '../node-rpc';
import {
  RabbitMqConnection,
  type RabbitMqConnectionOptions,
  RabbitMqNotConnectedError,
} from './rabbitmq-connection';
import { RabbitMqClusterBus } from './rabbitmq-cluster-bus';
import { RabbitMqNodeRpc, type RabbitMqNodeRpcOptions } from './rabbitmq-node-rpc';

const PREFIX = 'chat.';

class CodedError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** One "process": its own connection and its NodeRpc. */
interface TestNode {
  readonly rpc: RabbitMqNodeRpc;
  readonly connection: RabbitMqConnection;
  readonly instanceId: string;
  /** Everything reported to the NodeRpc's onError, with its context. */
  readonly errors: Array<{ error: unknown; context: string }>;
  /** The changes of the connection's `connected`. */
  readonly transitions: boolean[];
}

describe(`${RabbitMqNodeRpc.name} (real RabbitMQ)`, () => {
  let vhost: TestVhost;
  let admin: ChannelModel;
  const nodes: TestNode[] = [];
  /** A cluster of its own per test. */
  let cluster = '';

  beforeAll(async () => {
    await requireService('rabbitmq', checkBroker);
    vhost = await createTestVhost('rpc');
    admin = await connect(vhost.url);
    admin.on('error', () => undefined);
  });

  beforeEach(() => {
    cluster = `c${randomUUID().slice(0, 8)}`;
  });

  afterEach(async () => {
    const created = nodes.splice(0);
    await Promise.all(created.map((node) => node.rpc.stop()));
    await Promise.all(created.map((node) => node.connection.close()));
  });

  afterAll(async () => {
    await admin?.close().catch(() => undefined);
    await vhost?.delete();
  });

  function node(
    nodeName: string,
    overrides: Partial<Omit<RabbitMqNodeRpcOptions, 'connection'>> = {},
    connectionOptions: Partial<RabbitMqConnectionOptions> = {},
  ): TestNode {
    const instanceId = randomUUID();
    const errors: TestNode['errors'] = [];
    const transitions: boolean[] = [];
    const connection = new RabbitMqConnection({
      url: vhost.url,
      connectionName: `${cluster}/${nodeName}/${instanceId}`,
      onError: () => undefined, // connection losses are provoked on purpose here
      ...connectionOptions,
    });
    connection.onConnectionChange((connected) => transitions.push(connected));
    const rpc = new RabbitMqNodeRpc({
      connection,
      prefix: PREFIX,
      clusterName: cluster,
      nodeName,
      instanceId,
      onError: (error, context) => errors.push({ error, context }),
      ...overrides,
    });
    const created: TestNode = { rpc, connection, instanceId, errors, transitions };
    nodes.push(created);
    return created;
  }

  function bus(owner: TestNode): RabbitMqClusterBus {
    return new RabbitMqClusterBus({
      connection: owner.connection,
      prefix: PREFIX,
      clusterName: cluster,
      nodeName: owner.rpc.nodeName,
      instanceId: owner.instanceId,
      onError: (error) => owner.errors.push({ error, context: 'bus' }),
    });
  }

  /** Milliseconds `promise` took to settle, and its rejection reason (undefined if it resolved). */
  async function timed(promise: Promise<unknown>): Promise<{ ms: number; error: unknown }> {
    const started = Date.now();
    try {
      await promise;
      return { ms: Date.now() - started, error: undefined };
    } catch (error) {
      return { ms: Date.now() - started, error };
    }
  }

  async function queueExists(name: string): Promise<boolean> {
    const channel = await admin.createChannel();
    channel.on('error', () => undefined); // a missing queue closes the channel (404)
    try {
      await channel.checkQueue(name);
      return true;
    } catch {
      return false;
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  it('answers requests both ways and to itself, telling the handler who called', async () => {
    const master = node('master');
    const slave = node('slave1');
    const callers: RpcCaller[] = [];
    slave.rpc.handle('sum', (payload, caller) => {
      callers.push(caller);
      const { a, b } = payload as { a: number; b: number };
      return { sum: a + b };
    });
    master.rpc.handle('ping', async (payload) => {
      await sleep(5);
      return { pong: payload };
    });
    slave.rpc.handle('nothing', () => undefined);
    await Promise.all([master.rpc.start(), slave.rpc.start()]);
    expect(master.rpc.connected).toBe(true);

    await expect(master.rpc.request('slave1', 'sum', { a: 2, b: 3 })).resolves.toEqual({
      sum: 5,
    });
    await expect(slave.rpc.request('master', 'ping', [1, 'x'])).resolves.toEqual({
      pong: [1, 'x'],
    });
    await expect(slave.rpc.request('slave1', 'sum', { a: 1, b: 1 })).resolves.toEqual({ sum: 2 });
    await expect(master.rpc.request('slave1', 'nothing', undefined)).resolves.toBeUndefined();
    const many = await Promise.all(
      Array.from({ length: 50 }, (_, i) => master.rpc.request('slave1', 'sum', { a: i, b: 1 })),
    );
    expect(many).toEqual(Array.from({ length: 50 }, (_, i) => ({ sum: i + 1 })));
    expect(callers[0]).toEqual({ node: 'master', instanceId: master.instanceId });
    expect(callers[1]).toEqual({ node: 'slave1', instanceId: slave.instanceId });
    expect([...master.errors, ...slave.errors]).toEqual([]);
  });

  it('rejects with the remote error code, message and details', async () => {
    const master = node('master');
    const slave = node('slave1');
    slave.rpc.handle('coded', () => {
      throw new CodedError('NOT_FOUND', 'chat 42 not found', { chatId: 42 });
    });
    slave.rpc.handle('crash', () => Promise.reject(new Error('kaputt')));
    await Promise.all([master.rpc.start(), slave.rpc.start()]);

    const coded = await timed(master.rpc.request('slave1', 'coded', {}));
    expect(coded.error).toBeInstanceOf(RpcRemoteError);
    expect(coded.error).toMatchObject({
      code: 'NOT_FOUND',
      message: 'chat 42 not found',
      details: { chatId: 42 },
    });
    await expect(master.rpc.request('slave1', 'crash', {})).rejects.toMatchObject({
      name: 'RpcRemoteError',
      code: 'INTERNAL',
      message: 'kaputt',
    });
    await expect(master.rpc.request('slave1', 'missing', {})).rejects.toMatchObject({
      name: 'RpcRemoteError',
      code: 'UNKNOWN_METHOD',
    });
  });

  it('rejects at once with RpcNodeUnreachableError when no live process holds the name', async () => {
    const master = node('master');
    await master.rpc.start();

    const outcome = await timed(master.rpc.request('ghost', 'ping', {}, { timeoutMs: 5000 }));

    expect(outcome.error).toBeInstanceOf(RpcNodeUnreachableError);
    expect(outcome.error).toMatchObject({ node: 'ghost' });
    expect(outcome.ms).toBeLessThan(1000);
  });

  it('rejects with RpcTimeoutError when the handler never answers', async () => {
    const master = node('master');
    const slave = node('slave1');
    let calls = 0;
    slave.rpc.handle('hang', () => {
      calls += 1;
      return new Promise(() => undefined);
    });
    await Promise.all([master.rpc.start(), slave.rpc.start()]);

    const outcome = await timed(master.rpc.request('slave1', 'hang', {}, { timeoutMs: 300 }));

    expect(outcome.error).toBeInstanceOf(RpcTimeoutError);
    expect(outcome.error).toMatchObject({ node: 'slave1', method: 'hang', timeoutMs: 300 });
    expect(outcome.ms).toBeGreaterThanOrEqual(290);
    expect(calls).toBe(1);
  });

  it('refuses a second process with the same node name, while the first keeps answering', async () => {
    const master = node('master');
    const first = node('slave1');
    first.rpc.handle('who', () => 'first');
    await Promise.all([master.rpc.start(), first.rpc.start()]);

    // A second process: its own connection, started by the NodeRpc.
    const second = node('slave1');
    second.rpc.handle('who', () => 'second');
    const refused = await timed(second.rpc.start());

    expect(refused.error).toBeInstanceOf(NodeNameInUseError);
    expect(refused.error).toMatchObject({ nodeName: 'slave1', clusterName: cluster });
    expect((refused.error as Error).message).toBe(
      `node name "slave1" is already in use by a live node of cluster "${cluster}"; ` +
        'stop that process or choose another --node_name',
    );
    expect(refused.ms).toBeLessThan(1000);
    expect(second.rpc.connected).toBe(false);

    // A third process whose connection was already up (e.g. started by its bus): same answer.
    const third = node('slave1');
    await third.connection.start();
    await expect(third.rpc.start()).rejects.toBeInstanceOf(NodeNameInUseError);
    expect(third.connection.connected).toBe(true); // the shared connection is left alone

    // The first process noticed nothing and keeps answering.
    for (let i = 0; i < 5; i += 1) {
      await expect(master.rpc.request('slave1', 'who', {})).resolves.toBe('first');
    }
    expect(first.errors).toEqual([]);
    expect(first.transitions).toEqual([true]);
    expect(first.rpc.connected).toBe(true);
  });

  it('started before the bus on a shared connection, refuses a duplicate before its bus starts', async () => {
    const master = node('master');
    const first = node('slave1');
    first.rpc.handle('who', () => 'first');
    const firstBus = bus(first);
    const seen: string[] = [];
    firstBus.subscribe((event) => {
      seen.push(event.id);
    });
    await master.rpc.start();
    await first.rpc.start();
    await firstBus.start();
    const second = node('slave1');
    const secondBus = bus(second);
    try {
      // The order a node starts in: claim the name, then start the bus on the same connection.
      await expect(second.rpc.start().then(() => secondBus.start())).rejects.toBeInstanceOf(
        NodeNameInUseError,
      );
      expect(secondBus.connected).toBe(false);

      await firstBus.publish({ id: 'e1' });
      await waitFor(() => seen.includes('e1'), { description: "the first node's bus" });
      await expect(master.rpc.request('slave1', 'who', {})).resolves.toBe('first');
      expect(first.transitions).toEqual([true]);
    } finally {
      await Promise.all([firstBus.stop(), secondBus.stop()]);
    }
  });

  it('frees the name on stop, even with the connection still open, so it can be claimed again', async () => {
    const master = node('master');
    const first = node('slave1');
    first.rpc.handle('who', () => 'first');
    await Promise.all([master.rpc.start(), first.rpc.start()]);
    const second = node('slave1');
    second.rpc.handle('who', () => 'second');
    await expect(second.rpc.start()).rejects.toBeInstanceOf(NodeNameInUseError);

    await first.rpc.stop();
    await first.rpc.stop(); // idempotent
    expect(first.connection.connected).toBe(true);
    await expect(queueExists(first.rpc.queueName)).resolves.toBe(false);
    await expect(master.rpc.request('slave1', 'who', {})).rejects.toBeInstanceOf(
      RpcNodeUnreachableError,
    );

    await second.rpc.start(); // the refused instance may simply try again
    await expect(master.rpc.request('slave1', 'who', {})).resolves.toBe('second');

    // And the first one can take it back once the second lets go.
    await second.rpc.stop();
    await first.rpc.start();
    await expect(master.rpc.request('slave1', 'who', {})).resolves.toBe('first');
  });

  it('rejects pending requests on stop and requests while stopped', async () => {
    const master = node('master');
    const slave = node('slave1');
    slave.rpc.handle('hang', () => new Promise(() => undefined));
    await expect(master.rpc.request('slave1', 'hang', {})).rejects.toBeInstanceOf(
      RabbitMqNotConnectedError,
    );
    await Promise.all([master.rpc.start(), slave.rpc.start()]);
    const pending = timed(master.rpc.request('slave1', 'hang', {}));
    await sleep(100);

    await master.rpc.stop();

    const outcome = await pending;
    expect(outcome.error).toEqual(
      new Error(`NodeRpc of node "master" stopped before node "slave1" answered "hang"`),
    );
    expect(outcome.ms).toBeLessThan(1000);
    await expect(master.rpc.request('slave1', 'hang', {})).rejects.toBeInstanceOf(
      RabbitMqNotConnectedError,
    );
  });

  it('serves again after its connection was cut; a request it was handling times out', async () => {
    const master = node('master');
    const slave = node('slave1', {}, { reconnectInitialDelayMs: 500 });
    slave.rpc.handle('who', () => 'slave1');
    slave.rpc.handle('hang', () => new Promise(() => undefined));
    master.rpc.handle('who', () => 'master');
    await Promise.all([master.rpc.start(), slave.rpc.start()]);
    const lost = timed(master.rpc.request('slave1', 'hang', {}, { timeoutMs: 1500 }));
    await sleep(100);

    expect(await vhost.closeConnections(`${cluster}/slave1/`)).toBe(1);
    await waitFor(() => !slave.rpc.connected, { description: 'the slave to notice' });

    await expect(slave.rpc.request('master', 'who', {})).rejects.toBeInstanceOf(
      RabbitMqNotConnectedError,
    );
    // While the slave is away its name is free: unreachable at once, not a time-out.
    await expect(master.rpc.request('slave1', 'who', {})).rejects.toBeInstanceOf(
      RpcNodeUnreachableError,
    );
    // The request the slave was handling when it died is never answered.
    expect((await lost).error).toBeInstanceOf(RpcTimeoutError);

    await waitFor(() => slave.rpc.connected, { description: 'the reconnect', timeoutMs: 20_000 });
    expect(slave.transitions).toEqual([true, false, true]);
    await expect(master.rpc.request('slave1', 'who', {})).resolves.toBe('slave1');
    await expect(slave.rpc.request('master', 'who', {})).resolves.toBe('master');
    await expect(slave.rpc.request('slave1', 'who', {})).resolves.toBe('slave1');
    expect(slave.errors).toEqual([]);
  });

  it('rejects its pending requests with RabbitMqNotConnectedError when its connection dies', async () => {
    const master = node('master', {}, { reconnectInitialDelayMs: 500 });
    const slave = node('slave1');
    slave.rpc.handle('hang', () => new Promise(() => undefined));
    await Promise.all([master.rpc.start(), slave.rpc.start()]);
    const pending = timed(master.rpc.request('slave1', 'hang', {}, { timeoutMs: 20_000 }));
    await sleep(100);

    expect(await vhost.closeConnections(`${cluster}/master/`)).toBe(1);

    const outcome = await pending;
    expect(outcome.error).toBeInstanceOf(RabbitMqNotConnectedError);
    expect(outcome.ms).toBeLessThan(5000);
    await waitFor(() => master.rpc.connected, { description: 'the reconnect', timeoutMs: 20_000 });
  });

  it('reports a name taken over while it was disconnected, and claims it back once free', async () => {
    const master = node('master');
    const old = node('slave1', { reclaimIntervalMs: 200 }, { reconnectInitialDelayMs: 1500 });
    old.rpc.handle('who', () => 'old');
    await Promise.all([master.rpc.start(), old.rpc.start()]);

    expect(await vhost.closeConnections(`${cluster}/slave1/${old.instanceId}`)).toBe(1);
    await waitFor(() => !old.connection.connected, { description: 'the old process to notice' });
    const successor = node('slave1');
    successor.rpc.handle('who', () => 'successor');
    await successor.rpc.start();

    await waitFor(() => old.connection.connected, {
      description: 'the old process to reconnect',
      timeoutMs: 20_000,
    });
    // Its connection is back for everything else, but the name belongs to the successor.
    expect(old.rpc.connected).toBe(false);
    expect(old.errors.map((e) => e.error)).toEqual([expect.any(NodeNameInUseError)]);
    await expect(old.rpc.request('master', 'who', {})).rejects.toBeInstanceOf(NodeNameInUseError);
    await expect(master.rpc.request('slave1', 'who', {})).resolves.toBe('successor');
    await sleep(500);
    expect(old.errors).toHaveLength(1); // reported once, not on every retry

    await successor.rpc.stop();
    await waitFor(() => old.rpc.connected, { description: 'the old process to reclaim its name' });
    await expect(master.rpc.request('slave1', 'who', {})).resolves.toBe('old');
  });
});
