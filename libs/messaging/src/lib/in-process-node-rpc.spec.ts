import { InProcessRpcHub } from './in-process-node-rpc';
import {
  NodeNameInUseError,
  type NodeRpc,
  type RpcCaller,
  RpcNodeUnreachableError,
  RpcRemoteError,
  RpcTimeoutError,
} from './node-rpc';

class CodedError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

describe(`${InProcessRpcHub.name}`, () => {
  let hub: InProcessRpcHub;
  let master: NodeRpc;
  let slave: NodeRpc;

  beforeEach(async () => {
    hub = new InProcessRpcHub({ clusterName: 'c1' });
    master = hub.node('master', 'm-1');
    slave = hub.node('slave1', 's-1');
    await Promise.all([master.start(), slave.start()]);
  });

  afterEach(async () => {
    await Promise.all([master.stop(), slave.stop()]);
  });

  it('answers requests both ways, telling the handler who called', async () => {
    const callers: RpcCaller[] = [];
    slave.handle('sum', (payload, caller) => {
      callers.push(caller);
      const { a, b } = payload as { a: number; b: number };
      return { sum: a + b };
    });
    master.handle('ping', async () => {
      await Promise.resolve();
      return 'pong';
    });

    await expect(master.request('slave1', 'sum', { a: 2, b: 3 })).resolves.toEqual({ sum: 5 });
    await expect(slave.request('master', 'ping', null)).resolves.toBe('pong');
    expect(callers).toEqual([{ node: 'master', instanceId: 'm-1' }]);
  });

  it('serves a request to the node itself', async () => {
    master.handle('echo', (payload) => payload);

    await expect(master.request('master', 'echo', [1, 'two'])).resolves.toEqual([1, 'two']);
  });

  it('copies payloads and replies through JSON and runs handlers outside the caller', async () => {
    const kept = { list: [1] };
    let received: unknown;
    slave.handle('keep', (payload) => {
      received = payload;
      return { at: new Date(0), kept, nothing: undefined };
    });
    const payload = { when: new Date(0), list: [1, 2] };

    const reply = master.request<Record<string, unknown>>('slave1', 'keep', payload);
    expect(received).toBeUndefined(); // not run inside request()
    payload.list.push(3);

    await expect(reply).resolves.toEqual({ at: '1970-01-01T00:00:00.000Z', kept: { list: [1] } });
    expect(received).toEqual({ when: '1970-01-01T00:00:00.000Z', list: [1, 2] });
    expect((await reply)['kept']).not.toBe(kept);
  });

  it('resolves undefined for a handler without a result, and passes an undefined payload', async () => {
    let seen: unknown = 'not called';
    slave.handle('fire', (payload) => {
      seen = payload;
    });

    await expect(master.request('slave1', 'fire', undefined)).resolves.toBeUndefined();
    expect(seen).toBeUndefined();
  });

  it('rejects with the remote code, message and details of a coded error', async () => {
    slave.handle('fail', () => {
      throw new CodedError('NOT_FOUND', 'chat 42 not found', { chatId: 42 });
    });

    const error = await master.request('slave1', 'fail', {}).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RpcRemoteError);
    expect(error).toMatchObject({
      code: 'NOT_FOUND',
      message: 'chat 42 not found',
      details: { chatId: 42 },
    });
  });

  it('rejects with code INTERNAL for any other error, sync or async', async () => {
    slave.handle('boom', () => {
      throw new Error('kaputt');
    });
    slave.handle('reject', () => Promise.reject(new TypeError('bad type')));

    await expect(master.request('slave1', 'boom', {})).rejects.toMatchObject({
      name: 'RpcRemoteError',
      code: 'INTERNAL',
      message: 'kaputt',
    });
    await expect(master.request('slave1', 'reject', {})).rejects.toMatchObject({
      code: 'INTERNAL',
      message: 'bad type',
    });
  });

  it('rejects with code INTERNAL when the reply has no JSON form', async () => {
    slave.handle('bigint', () => ({ n: BigInt(1) }));

    await expect(master.request('slave1', 'bigint', {})).rejects.toMatchObject({
      code: 'INTERNAL',
    });
  });

  it('rejects an unknown method with code UNKNOWN_METHOD', async () => {
    await expect(master.request('slave1', 'nope', {})).rejects.toMatchObject({
      name: 'RpcRemoteError',
      code: 'UNKNOWN_METHOD',
    });
  });

  it('refuses a second handler for the same method', () => {
    slave.handle('once', () => 1);

    expect(() => slave.handle('once', () => 2)).toThrow(/already has a handler/);
  });

  it('rejects at once with RpcNodeUnreachableError for a name no started node holds', async () => {
    const sleeper = hub.node('sleeper');
    sleeper.handle('x', () => 1);

    const unknown = master.request('ghost', 'x', {});
    const notStarted = master.request('sleeper', 'x', {});

    await expect(unknown).rejects.toBeInstanceOf(RpcNodeUnreachableError);
    await expect(notStarted).rejects.toMatchObject({ node: 'sleeper' });
  });

  it('rejects with RpcTimeoutError when the handler does not answer in time', async () => {
    slave.handle('hang', () => new Promise(() => undefined));

    const error = await master
      .request('slave1', 'hang', {}, { timeoutMs: 30 })
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RpcTimeoutError);
    expect(error).toMatchObject({ node: 'slave1', method: 'hang', timeoutMs: 30 });
  });

  it('rejects a request made before start or after stop', async () => {
    const idle = hub.node('idle');

    await expect(idle.request('master', 'x', {})).rejects.toThrow(/not started/);
    await master.stop();
    await expect(master.request('slave1', 'x', {})).rejects.toThrow(/not started/);
  });

  it('rejects the pending requests of a node that stops', async () => {
    slave.handle('hang', () => new Promise(() => undefined));
    const pending = master.request('slave1', 'hang', {}).catch((e: unknown) => e);
    await Promise.resolve();

    await master.stop();

    await expect(pending).resolves.toEqual(new Error('NodeRpc of node "master" stopped'));
  });

  it('refuses a second started node with the same name, leaving the first one serving', async () => {
    slave.handle('who', (_payload) => 'first');
    const twin = hub.node('slave1', 's-2');
    twin.handle('who', () => 'twin');

    const error = await twin.start().catch((e: unknown) => e);

    expect(error).toBeInstanceOf(NodeNameInUseError);
    expect(error).toMatchObject({ nodeName: 'slave1', clusterName: 'c1' });
    expect((error as Error).message).toMatch(/already in use by a live node of cluster "c1"/);
    await expect(master.request('slave1', 'who', {})).resolves.toBe('first');
  });

  it('releases the name on stop, so that another node can claim it', async () => {
    const successor = hub.node('slave1', 's-2');
    successor.handle('who', () => 'successor');

    await slave.stop();
    await slave.stop(); // idempotent
    await expect(master.request('slave1', 'who', {})).rejects.toBeInstanceOf(
      RpcNodeUnreachableError,
    );
    await successor.start();

    await expect(master.request('slave1', 'who', {})).resolves.toBe('successor');
    await successor.stop();
  });

  it('loses a request whose target stops before answering: the caller times out', async () => {
    let release: () => void = () => undefined;
    slave.handle(
      'slow',
      () =>
        new Promise<string>((resolve) => {
          release = () => resolve('late');
        }),
    );
    const reply = master.request('slave1', 'slow', {}, { timeoutMs: 50 });
    await new Promise((resolve) => setImmediate(resolve));

    await slave.stop();
    release();

    await expect(reply).rejects.toBeInstanceOf(RpcTimeoutError);
  });

  it('rejects a payload without JSON form and a non-positive time-out', async () => {
    slave.handle('x', () => 1);

    await expect(master.request('slave1', 'x', { n: BigInt(1) })).rejects.toThrow();
    await expect(master.request('slave1', 'x', {}, { timeoutMs: 0 })).rejects.toBeInstanceOf(
      RangeError,
    );
  });
});
