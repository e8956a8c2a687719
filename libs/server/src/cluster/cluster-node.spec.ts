import { Leadership, loadNodeConfig, type ClusterConfig } from '@chat/cluster';
import {
  type DomainEvent,
  EventFactory,
  HybridLogicalClock,
  StateSource,
  stateDigest,
  UuidV7IdGenerator,
} from '@chat/domain';
import {
  InProcessClusterBus,
  InProcessRpcHub,
  InProcessWorkQueue,
  type NodeRpc,
  RpcRemoteError,
} from '@chat/messaging';
import { AutoAssigner } from '../runtime/auto-assigner';
import { ChatRuntime, PERSISTENCE_QUEUE } from '../runtime/chat-runtime';
import { NodeHealth } from '../runtime/node-health';
import { LiveBroadcaster } from '../ws/live-broadcaster';
import { ClusterNode } from './cluster-node';
import { DECISION_METHODS } from './decision-schemas';
import { BusAndQueueStatePublisher } from '../runtime/state-publisher';

const SITE = { id: '01900000-0000-7000-8000-000000000001', name: 'S' };

class NoStateSource extends StateSource {
  override loadEvents(): Promise<DomainEvent[]> {
    return Promise.resolve([]);
  }
}

/** One node of an in-process cluster: the real runtime and ClusterNode, in-process transports. */
async function node(name: string, hub: InProcessRpcHub, bus: InProcessClusterBus) {
  const cluster: ClusterConfig = {
    file: 'cluster.json',
    clusterName: 'c',
    nodeNames: ['master', 'slave1'],
    masterNodeName: 'master',
    nodeName: name,
  };
  const config = loadNodeConfig([], { NODE_NAME: name });
  const clock = new HybridLogicalClock(name);
  const queue = new InProcessWorkQueue();
  queue.consume(PERSISTENCE_QUEUE, { batchSize: 100, lingerMs: 0 }, () => Promise.resolve());
  const runtime = new ChatRuntime(
    name,
    clock,
    new EventFactory(name, clock, new UuidV7IdGenerator()),
    bus,
    new BusAndQueueStatePublisher(bus, queue),
  );
  const health = new NodeHealth(name, bus);
  const rpc = hub.node(name);
  const isMaster = name === 'master';
  const leadership = new Leadership(name, { leaseMs: 2500 });
  const decider = new AutoAssigner(runtime, () => leadership.decidingEpoch(Date.now()), {
    graceMs: 0,
    tickMs: 1000,
  });
  const sut = new ClusterNode({
    config,
    cluster,
    app: isMaster ? 'master' : 'slave',
    instanceId: `${name}-1`,
    runtime,
    bus,
    rpc,
    stateSource: new NoStateSource(),
    broadcaster: new LiveBroadcaster(runtime, bus),
    health,
    leadership,
    decider,
  });
  sut.register();
  runtime.attach();
  await Promise.all([queue.start(), rpc.start()]);
  const stop = () => {
    sut.stopHeartbeats();
    return Promise.all([queue.stop(), rpc.stop()]);
  };
  return { sut, runtime, health, rpc, leadership, stop };
}

async function until(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Both nodes ready and beating; the configured master (first in order) is elected. */
async function elect(...nodes: Awaited<ReturnType<typeof node>>[]): Promise<void> {
  for (const n of nodes) {
    n.health.markStateLoaded();
    n.sut.startHeartbeats();
  }
  await until(() => nodes.some((n) => n.sut.isDeciding()));
}

describe(`${ClusterNode.name} RPC methods`, () => {
  let hub: InProcessRpcHub;
  let bus: InProcessClusterBus;
  let master: Awaited<ReturnType<typeof node>>;
  let slave: Awaited<ReturnType<typeof node>>;
  let caller: NodeRpc;

  beforeEach(async () => {
    hub = new InProcessRpcHub();
    bus = new InProcessClusterBus();
    master = await node('master', hub, bus);
    slave = await node('slave1', hub, bus);
    await bus.start();
    caller = hub.node('probe');
    await caller.start();
  });

  afterEach(async () => {
    await Promise.all([master.stop(), slave.stop(), caller.stop(), bus.stop()]);
  });

  it('refuses a malformed decision request and changes nothing', async () => {
    master.health.markStateLoaded();
    const revision = master.runtime.state.revision;
    const attempt = caller.request('master', DECISION_METHODS.take, { chatId: 7, extra: true });
    await expect(attempt).rejects.toBeInstanceOf(RpcRemoteError);
    await expect(attempt).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(master.runtime.state.revision).toBe(revision);
  });

  it('lets only the acting master decide', async () => {
    await elect(master, slave);
    await expect(
      caller.request('slave1', DECISION_METHODS.take, { operatorId: 'o', chatId: 'c' }),
    ).rejects.toMatchObject({ code: 'UNAVAILABLE', message: 'slave1 is not the acting master' });
    // The master does decide (and refuses by the domain's rule: there is no such chat).
    await expect(
      caller.request('master', DECISION_METHODS.take, { operatorId: 'o', chatId: 'c' }),
    ).rejects.toMatchObject({ code: 'CHAT_NOT_FOUND' });
  });

  it('serves snapshots only once its own state is loaded and caught up', async () => {
    await master.runtime.commit('site.upserted', { site: SITE });
    await expect(caller.request('master', 'state.snapshot', {})).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    });
    master.health.markStateLoaded();
    master.runtime.holdIncoming();
    await expect(caller.request('master', 'state.snapshot', {})).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    });
    master.runtime.releaseIncoming();
    const snapshot = await caller.request('master', 'state.snapshot', {});
    slave.runtime.restore(snapshot);
    expect(stateDigest(slave.runtime.state)).toBe(stateDigest(master.runtime.state));
  });

  it('answers its digest, equal on two nodes that saw the same events', async () => {
    await master.runtime.commit('site.upserted', { site: SITE });
    const [a, b] = await Promise.all([
      caller.request<{ digest: string }>('master', 'state.digest', {}),
      caller.request<{ digest: string }>('slave1', 'state.digest', {}),
    ]);
    expect(a.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(b.digest).toBe(a.digest);
  });
});

describe(`${ClusterNode.name} sessions of gone nodes`, () => {
  const OPERATOR = {
    id: '01900000-0000-7000-8000-0000000000a1',
    siteId: SITE.id,
    name: 'Ann',
    email: 'ann@s.test',
    passwordHash: 'x',
    departmentIds: [],
    maxChats: 3,
    disabled: false,
  };
  const openSession = (runtime: ChatRuntime, sessionId: string, nodeId: string) =>
    runtime.commit('operator.session.opened', {
      operatorId: OPERATOR.id,
      siteId: SITE.id,
      sessionId,
      nodeId,
    });
  const open = (runtime: ChatRuntime): string[] => [
    ...(runtime.state.operators.get(OPERATOR.id)?.sessionsOpened.keys() ?? []),
  ];

  let hub: InProcessRpcHub;
  let bus: InProcessClusterBus;
  let master: Awaited<ReturnType<typeof node>>;
  let slave: Awaited<ReturnType<typeof node>>;

  beforeEach(async () => {
    hub = new InProcessRpcHub();
    bus = new InProcessClusterBus();
    master = await node('master', hub, bus);
    slave = await node('slave1', hub, bus);
    await bus.start();
    await master.runtime.commit('operator.upserted', { operator: OPERATOR });
  });

  afterEach(async () => {
    await Promise.all([master.stop(), slave.stop(), bus.stop()]);
  });

  it('a restarted node closes the sessions of its previous life, and only those', async () => {
    await openSession(master.runtime, 'old-life', 'slave1');
    await openSession(master.runtime, 'on-master', 'master');
    await expect(slave.sut.closeOwnStaleSessions()).resolves.toBe(1);
    expect(open(master.runtime)).toEqual(['on-master']);
    expect(open(slave.runtime)).toEqual(['on-master']);
  });

  it('the master closes sessions of a node silent past the deadline, not of live ones', async () => {
    await openSession(master.runtime, 'on-slave', 'slave1');
    await elect(master);
    // Within the deadline after the master's start, a node not yet heard of is not dead.
    expect(master.sut.reapSessionsOfDeadNodes(Date.now())).toBe(0);
    // A slave that sends heartbeats keeps its sessions...
    slave.health.markStateLoaded();
    slave.sut.startHeartbeats();
    const later = Date.now() + 60_000;
    slave.sut.stopHeartbeats();
    expect(slave.sut.reapSessionsOfDeadNodes(later)).toBe(0); // only the master reaps
    expect(master.sut.reapSessionsOfDeadNodes(Date.now())).toBe(0);
    // ...until its heartbeats have been missing for longer than the deadline.
    expect(master.sut.reapSessionsOfDeadNodes(later)).toBe(1);
    expect(open(master.runtime)).toEqual([]);
  });
});
