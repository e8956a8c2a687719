import {
  EventFactory,
  HybridLogicalClock,
  snapshotState,
  stateDigest,
  UuidV7IdGenerator,
} from '@chat/domain';
import { InProcessClusterBus, InProcessWorkQueue } from '@chat/messaging';
import { ChatRuntime, PERSISTENCE_QUEUE } from './chat-runtime';
import { BusAndQueueStatePublisher } from './state-publisher';

const site = (n: number) => ({ id: `01900000-0000-7000-8000-00000000000${n}`, name: `S${n}` });

/** Two nodes on one in-process bus (every handler is a node's queue). */
async function twoNodes() {
  const bus = new InProcessClusterBus();
  const make = (node: string) => {
    const clock = new HybridLogicalClock(node);
    const queue = new InProcessWorkQueue();
    // The in-process queue confirms a publish once consumed: a consumer that accepts everything.
    queue.consume(PERSISTENCE_QUEUE, { batchSize: 100, lingerMs: 0 }, () => Promise.resolve());
    return {
      queue,
      runtime: new ChatRuntime(
        node,
        clock,
        new EventFactory(node, clock, new UuidV7IdGenerator()),
        bus,
        new BusAndQueueStatePublisher(bus, queue),
      ),
    };
  };
  const a = make('a');
  const b = make('b');
  a.runtime.attach();
  b.runtime.attach();
  await Promise.all([bus.start(), a.queue.start(), b.queue.start()]);
  const stop = () => Promise.all([bus.stop(), a.queue.stop(), b.queue.stop()]);
  return { a: a.runtime, b: b.runtime, stop };
}

const throughWire = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

describe(`${ChatRuntime.name} catch-up`, () => {
  it('holds arriving events during catch-up and applies them after the snapshot', async () => {
    const { a, b, stop } = await twoNodes();
    await a.commit('site.upserted', { site: site(1) });
    b.holdIncoming();
    const snapshot = throughWire(snapshotState(a.state));
    // Published after the snapshot was taken: must reach b through what was held.
    await a.commit('site.upserted', { site: site(2) });
    expect(b.state.sites.has(site(2).id)).toBe(false);
    expect(b.catchingUp).toBe(true);
    b.restore(snapshot);
    expect(b.releaseIncoming()).toBeGreaterThan(0);
    expect(b.catchingUp).toBe(false);
    expect(stateDigest(b.state)).toBe(stateDigest(a.state));
    await stop();
  });

  it('keeps its own events that the snapshot missed', async () => {
    const { a, b, stop } = await twoNodes();
    await a.commit('site.upserted', { site: site(1) });
    const snapshot = throughWire(snapshotState(a.state));
    b.holdIncoming();
    // b's own event, sent while it waited for the (older) snapshot.
    await b.commit('site.upserted', { site: site(3) });
    b.restore(snapshot);
    expect(b.state.sites.has(site(3).id)).toBe(false);
    b.releaseIncoming();
    expect(b.state.sites.has(site(3).id)).toBe(true);
    expect(stateDigest(b.state)).toBe(stateDigest(a.state));
    await stop();
  });

  it('tells listeners when the whole state was replaced', async () => {
    const { a, b, stop } = await twoNodes();
    await a.commit('site.upserted', { site: site(1) });
    let replaced = 0;
    b.onStateReplaced(() => (replaced += 1));
    b.restore(throughWire(snapshotState(a.state)));
    expect(replaced).toBe(1);
    expect(() => b.restore({ version: 99 })).toThrow(/not a state snapshot/);
    expect(replaced).toBe(1);
    await stop();
  });

  it('passes a barrier only after what was published before it', async () => {
    const { a, b, stop } = await twoNodes();
    const pending = a.commit('site.upserted', { site: site(4) });
    await b.barrier(1000);
    expect(b.state.sites.has(site(4).id)).toBe(true);
    await pending;
    await stop();
  });

  it('reports how far behind it applies other nodes events', async () => {
    const { a, b, stop } = await twoNodes();
    await a.commit('site.upserted', { site: site(5) });
    const stats = b.replicationStats();
    expect(stats.appliedRemote).toBe(1);
    expect(stats.lagMs).toBeGreaterThanOrEqual(0);
    expect(a.replicationStats().appliedRemote).toBe(0);
    await stop();
  });
});
