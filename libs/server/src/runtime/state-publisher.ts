import { EPHEMERAL_EVENT_TYPES, type DomainEvent } from '@chat/domain';
import { type ClusterBus, type WorkQueue } from '@chat/messaging';

/** The work queue the journal writers consume (competing consumers on every node). */
export const PERSISTENCE_QUEUE = 'chat.persistence';

/**
 * How a committed event reaches every node and the journal. Resolving means both are assured:
 * that is what lets a client be told "ok". Chosen once, at registration, per transport.
 */
export abstract class StatePublisher {
  /** Publishes (again) one event; safe to repeat, receivers and the journal drop duplicates by id. */
  abstract publish(event: DomainEvent): Promise<void>;
}

/**
 * Cluster: ONE confirmed publish to the durable state fan-out. The persistence queue is bound to
 * that exchange (see `RabbitMqClusterBus` `boundWorkQueues`), so the broker routes a copy of every
 * event into it atomically with the copies for the nodes: no node can die between "every node has
 * it" and "the journal will get it", and the confirm covers both.
 */
export class FanoutStatePublisher extends StatePublisher {
  constructor(private readonly bus: ClusterBus) {
    super();
  }

  publish(event: DomainEvent): Promise<void> {
    return this.bus.publish(event);
  }
}

/**
 * Standalone: the in-process bus, and the in-process work queue for what is persisted. The
 * in-process queue resolves once the journal wrote the event, so an acknowledgement means written.
 */
export class BusAndQueueStatePublisher extends StatePublisher {
  constructor(
    private readonly bus: ClusterBus,
    private readonly queue: WorkQueue,
  ) {
    super();
  }

  publish(event: DomainEvent): Promise<void> {
    const published = this.bus.publish(event);
    if (EPHEMERAL_EVENT_TYPES.has(event.type)) return published;
    const queued = this.queue.publish(PERSISTENCE_QUEUE, event.id, event);
    return Promise.all([published, queued]).then(() => undefined);
  }
}
