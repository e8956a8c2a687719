import {
  EventFactory,
  HybridLogicalClock,
  UuidV7IdGenerator,
  type DomainEvent,
} from '@chat/domain';
import { InProcessClusterBus, InProcessWorkQueue, type QueuedItem } from '@chat/messaging';
import { ChatRuntime, PERSISTENCE_QUEUE } from './chat-runtime';
import { BusAndQueueStatePublisher } from './state-publisher';

const site = { id: '01900000-0000-7000-8000-000000000001', name: 'S' };

function makeRuntime(node = 'n1') {
  const clock = new HybridLogicalClock(node);
  const bus = new InProcessClusterBus();
  const queue = new InProcessWorkQueue();
  const sut = new ChatRuntime(
    node,
    clock,
    new EventFactory(node, clock, new UuidV7IdGenerator()),
    bus,
    new BusAndQueueStatePublisher(bus, queue),
  );
  return { sut, bus, queue };
}

describe(`${ChatRuntime.name}`, () => {
  it('applies a commit synchronously, before any confirmation', async () => {
    const { sut, bus, queue } = makeRuntime();
    sut.attach();
    await Promise.all([bus.start(), queue.start()]);
    const persisted: QueuedItem[][] = [];
    queue.consume(PERSISTENCE_QUEUE, { batchSize: 10, lingerMs: 0 }, (batch) => {
      persisted.push(batch);
      return Promise.resolve();
    });
    const pending = sut.commit('site.upserted', { site });
    expect(sut.state.sites.get(site.id)?.value).toEqual(site);
    await expect(pending).resolves.toMatchObject({ type: 'site.upserted', origin: 'n1' });
    expect(persisted.flat().map((i) => (i.payload as DomainEvent).type)).toEqual(['site.upserted']);
    await Promise.all([bus.stop(), queue.stop()]);
  });

  it('confirms only once the persistence consumer has handled the event', async () => {
    const { sut, bus, queue } = makeRuntime();
    await Promise.all([bus.start(), queue.start()]);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    queue.consume(PERSISTENCE_QUEUE, { batchSize: 10, lingerMs: 0 }, () => gate);
    let confirmed = false;
    const pending = sut.commit('site.upserted', { site }).then(() => (confirmed = true));
    await new Promise((r) => setTimeout(r, 30));
    expect(confirmed).toBe(false);
    release();
    await pending;
    expect(confirmed).toBe(true);
    await Promise.all([bus.stop(), queue.stop()]);
  });

  it('does not queue ephemeral session events for persistence', async () => {
    const { sut, bus, queue } = makeRuntime();
    await Promise.all([bus.start(), queue.start()]);
    const persisted: unknown[] = [];
    queue.consume(PERSISTENCE_QUEUE, { batchSize: 10, lingerMs: 0 }, (batch) => {
      persisted.push(...batch);
      return Promise.resolve();
    });
    await sut.commit('operator.session.opened', {
      operatorId: 'o',
      siteId: site.id,
      sessionId: 's',
      nodeId: 'n1',
    });
    expect(persisted).toEqual([]);
    expect(sut.state.operators.get('o')?.sessionsOpened.has('s')).toBe(true);
    await Promise.all([bus.stop(), queue.stop()]);
  });

  it("applies other nodes' events from the bus and tells its listeners once", async () => {
    const a = makeRuntime('a');
    const b = makeRuntime('b');
    // Two replicas sharing one bus, like two nodes on one fanout exchange.
    const shared = a.bus;
    const bRuntime = new ChatRuntime(
      'b',
      new HybridLogicalClock('b'),
      new EventFactory('b', new HybridLogicalClock('b'), new UuidV7IdGenerator()),
      shared,
      new BusAndQueueStatePublisher(shared, b.queue),
    );
    a.sut.attach();
    bRuntime.attach();
    const seenByB: string[] = [];
    bRuntime.onChanges((changes) => seenByB.push(...changes.map((c) => c.kind)));
    await Promise.all([shared.start(), a.queue.start()]);
    a.queue.consume(PERSISTENCE_QUEUE, { batchSize: 10, lingerMs: 0 }, () => Promise.resolve());
    await a.sut.commit('site.upserted', { site });
    await new Promise((r) => setImmediate(r));
    expect(bRuntime.state.sites.get(site.id)?.value).toEqual(site);
    expect(seenByB).toEqual(['site']);
    await Promise.all([shared.stop(), a.queue.stop()]);
  });
});
