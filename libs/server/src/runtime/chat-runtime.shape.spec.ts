import {
  type BusEvent,
  ClusterBus,
  InProcessClusterBus,
  InProcessWorkQueue,
} from '@chat/messaging';
import { EventFactory, HybridLogicalClock, UuidV7IdGenerator, formatStamp } from '@chat/domain';
import { ChatRuntime } from './chat-runtime';
import { BusAndQueueStatePublisher } from './state-publisher';

const SITE = '01900000-0000-7000-8000-000000000001';
const clock = formatStamp(1_700_000_000_000, 0, 'other');

function valid(id: string, name = 'S'): BusEvent {
  return {
    id,
    type: 'site.upserted',
    origin: 'other',
    clock,
    data: { site: { id: SITE, name } },
  } as BusEvent;
}

function makeRuntime() {
  const hlc = new HybridLogicalClock('n1');
  const bus = new InProcessClusterBus();
  const rejected: string[] = [];
  const sut = new ChatRuntime(
    'n1',
    hlc,
    new EventFactory('n1', hlc, new UuidV7IdGenerator()),
    bus,
    new BusAndQueueStatePublisher(bus, new InProcessWorkQueue()),
    { onRejected: (reason) => rejected.push(reason) },
  );
  sut.attach();
  return { sut, bus: bus as ClusterBus, rejected };
}

/** Bus messages that carry an id (they got past the transport) but are no valid event. */
const WRONG: BusEvent[] = [
  { id: 'w1' },
  { id: 'w2', type: 'site.upserted', origin: 'other', clock, data: { site: null } },
  {
    id: 'w3',
    type: 'site.upserted',
    origin: 'other',
    clock: 'not a stamp',
    data: { site: { id: SITE, name: 'S' } },
  },
  { id: 'w4', type: 'chat.message.added', origin: 'other', clock, data: { chatId: 'c1' } },
  { id: 'w5', type: 'chat.exploded', origin: 'other', clock, data: {} },
  { id: 'w6', type: 'cluster.barrier' }, // a marker without origin
] as unknown as BusEvent[];

describe(`${ChatRuntime.name} on wrong-shape bus events`, () => {
  it('drops and counts them without touching the replica, and applies the valid ones', async () => {
    const { sut, bus, rejected } = makeRuntime();
    await bus.start();
    for (const message of WRONG) await bus.publish(message);
    await bus.publish(valid('ok-1'));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(rejected).toEqual(WRONG.map(() => 'shape'));
    expect([...sut.state.sites.values()].map((s) => s.value)).toEqual([{ id: SITE, name: 'S' }]);
    expect(sut.state.chats.size).toBe(0);
    await bus.stop();
  });

  it('never holds them during a catch-up, and barriers still come back', async () => {
    const { sut, bus, rejected } = makeRuntime();
    await bus.start();
    sut.holdIncoming();
    for (const message of WRONG) await bus.publish(message);
    await bus.publish(valid('ok-2', 'Held'));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(sut.releaseIncoming()).toBe(1);
    expect(rejected).toHaveLength(WRONG.length);
    expect(sut.state.sites.get(SITE)?.value.name).toBe('Held');
    await expect(sut.barrier(1000)).resolves.toBeUndefined();
    await bus.stop();
  });

  it('survives a failing counter', async () => {
    const hlc = new HybridLogicalClock('n1');
    const bus = new InProcessClusterBus();
    const sut = new ChatRuntime(
      'n1',
      hlc,
      new EventFactory('n1', hlc, new UuidV7IdGenerator()),
      bus,
      new BusAndQueueStatePublisher(bus, new InProcessWorkQueue()),
      {
        onRejected: () => {
          throw new Error('metrics broken');
        },
      },
    );
    sut.attach();
    await bus.start();
    await bus.publish({ id: 'w' });
    await bus.publish(valid('ok-3'));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(sut.state.sites.size).toBe(1);
    await bus.stop();
  });
});
