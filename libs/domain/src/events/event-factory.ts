import type { HybridLogicalClock } from '../clock/hlc';
import type { IdGenerator } from '../ids';
import type { EventDataMap, EventEnvelope, EventType } from './events';

/** Stamps new events of this node: a fresh id, this node as origin and the next clock value. */
export class EventFactory {
  constructor(
    readonly nodeId: string,
    private readonly clock: HybridLogicalClock,
    private readonly ids: IdGenerator,
  ) {}

  create<T extends EventType>(type: T, data: EventDataMap[T]): EventEnvelope<T> {
    return { id: this.ids.next(), type, origin: this.nodeId, clock: this.clock.now(), data };
  }
}
