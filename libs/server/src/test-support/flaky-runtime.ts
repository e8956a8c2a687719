import {
  EventFactory,
  HybridLogicalClock,
  UuidV7IdGenerator,
  type DomainEvent,
} from '@chat/domain';
import { type Consumer, InProcessClusterBus, WorkQueue } from '@chat/messaging';
import { ChatRuntime } from '../runtime/chat-runtime';
import { BusAndQueueStatePublisher } from '../runtime/state-publisher';

/** A persistence queue that refuses while `down` is true, as a broker or database outage would. */
export class FlakyQueue extends WorkQueue {
  down = false;
  readonly accepted: DomainEvent[] = [];
  start(): Promise<void> {
    return Promise.resolve();
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }
  publish(_queue: string, _id: string, payload: unknown): Promise<void> {
    if (this.down) return Promise.reject(new Error('unavailable'));
    this.accepted.push(payload as DomainEvent);
    return Promise.resolve();
  }
  consume(): Consumer {
    throw new Error('not used');
  }
}

/** A standalone node's runtime (node `n1`, a started in-process bus) over a {@link FlakyQueue}. */
export async function runtimeOverFlakyQueue(): Promise<{
  runtime: ChatRuntime;
  queue: FlakyQueue;
}> {
  const clock = new HybridLogicalClock('n1');
  const bus = new InProcessClusterBus();
  await bus.start();
  const queue = new FlakyQueue();
  const runtime = new ChatRuntime(
    'n1',
    clock,
    new EventFactory('n1', clock, new UuidV7IdGenerator()),
    bus,
    new BusAndQueueStatePublisher(bus, queue),
  );
  return { runtime, queue };
}
