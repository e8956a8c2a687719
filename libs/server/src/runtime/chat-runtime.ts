import { Logger } from '@nestjs/common';
import {
  applyEvent,
  createState,
  newId,
  restoreSnapshot,
  stampWallMs,
  type ChatState,
  type DomainEvent,
  type EventDataMap,
  type EventEnvelope,
  type EventFactory,
  type EventType,
  type HybridLogicalClock,
  type StateChange,
} from '@chat/domain';
import { type ClusterBus } from '@chat/messaging';
import { barrierMarkerSchema, domainEventSchema } from '../schemas/event.schemas';
import { type StatePublisher } from './state-publisher';

export { PERSISTENCE_QUEUE } from './state-publisher';

export type ChangeListener = (changes: readonly StateChange[], event: DomainEvent) => void;

/**
 * A marker a node sends through the state fan-out to itself: each node's queue is FIFO, so when
 * its own marker comes back, every event routed to it before the marker has been applied.
 */
interface BarrierMarker {
  id: string;
  type: 'cluster.barrier';
  origin: string;
}

export interface ChatRuntimeOptions {
  /**
   * Called for every message from the bus dropped because it is neither a valid domain event nor a
   * barrier marker (the server counts it as `chat_bus_rejected_total{kind="event",reason="shape"}`).
   */
  onRejected?: (reason: 'shape') => void;
}

/** Dropped wrong-shape events are logged at most this often (with how many were dropped). */
const SHAPE_LOG_INTERVAL_MS = 60_000;

/** How far behind the cluster this node applies others' events (for heartbeats and status). */
export interface ReplicationStats {
  /** events from other nodes applied since start */
  appliedRemote: number;
  /** max of (apply time - event clock) over the last window, ms; 0 when nothing arrived */
  lagMs: number;
}

/**
 * This node's replica of the live state. Every change goes through `commit`: the event is applied
 * locally at once (synchronously, so a decision and its effect cannot interleave with another
 * request), then handed to the {@link StatePublisher}, which makes it reach every node and the
 * journal. The returned promise resolves only when both are assured: that is when a client may be
 * told "ok".
 */
export class ChatRuntime {
  readonly state: ChatState = createState();
  private readonly listeners: ChangeListener[] = [];
  /** ids of events this node committed recently: their echo from the bus is skipped cheaply */
  private readonly ownRecent = new Set<string>();
  /** publishes not yet confirmed, for a clean shutdown */
  private readonly inFlight = new Set<Promise<void>>();
  private readonly logger = new Logger(ChatRuntime.name);
  private readonly replacedListeners: (() => void)[] = [];
  private readonly barriers = new Map<string, () => void>();
  /** while set, arriving events wait here (catch-up in progress) */
  private held: DomainEvent[] | null = null;
  private appliedRemote = 0;
  private lagWindowMax = 0;
  private shapeLoggedAt = -Infinity;
  private shapeDropsUnlogged = 0;

  constructor(
    readonly nodeName: string,
    private readonly clock: HybridLogicalClock,
    private readonly events: EventFactory,
    private readonly bus: ClusterBus,
    private readonly publisher: StatePublisher,
    private readonly options: ChatRuntimeOptions = {},
  ) {}

  /**
   * Wires the bus subscription; call once before serving. What arrives is checked first: only a
   * valid domain event (or barrier marker) is held or applied; anything else is dropped, counted
   * and logged (at most once a minute), so that it can neither throw halfway through an apply nor
   * corrupt the replica.
   */
  attach(): void {
    this.bus.subscribe((message) => {
      if ((message as { type?: unknown }).type === 'cluster.barrier') {
        if (!barrierMarkerSchema.safeParse(message).success) {
          this.dropWrongShape(message, 'malformed barrier marker');
          return;
        }
        const marker = message as unknown as BarrierMarker;
        if (marker.origin === this.nodeName) this.barriers.get(marker.id)?.();
        return;
      }
      // Own events (their echo) were made here: only others' are checked, saving the parse.
      const checked = this.ownRecent.has(message.id)
        ? { success: true as const }
        : domainEventSchema.safeParse(message);
      if (!checked.success) {
        const issue = checked.error.issues[0];
        this.dropWrongShape(
          message,
          issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'not a domain event',
        );
        return;
      }
      // The original, not zod's copy: fields a newer node added travel on with the event.
      if (this.held) {
        this.held.push(message as DomainEvent);
        return;
      }
      this.receive(message as DomainEvent);
    });
  }

  onChanges(listener: ChangeListener): void {
    this.listeners.push(listener);
  }

  /** Called after the whole state was replaced by a snapshot (clients need a full update). */
  onStateReplaced(listener: () => void): void {
    this.replacedListeners.push(listener);
  }

  /** Catch-up begins: events arriving from the bus wait until {@link releaseIncoming}. */
  holdIncoming(): void {
    this.held ??= [];
  }

  /** Catch-up is over: applies what waited (duplicates of the snapshot change nothing). */
  releaseIncoming(): number {
    const held = this.held ?? [];
    this.held = null;
    for (const event of held) this.receive(event);
    return held.length;
  }

  get catchingUp(): boolean {
    return this.held !== null;
  }

  /**
   * Replaces the replicated state with a peer's snapshot (parsed JSON); throws
   * `SnapshotFormatError` and changes nothing if it is not one.
   */
  restore(snapshot: unknown): void {
    restoreSnapshot(this.state, snapshot);
    // Own events may be missing from the snapshot (sent after the peer's barrier): their echoes,
    // still on the way, must be applied again rather than skipped as "already applied here".
    this.ownRecent.clear();
    for (const listener of this.replacedListeners) {
      try {
        listener();
      } catch (error) {
        this.logger.error({ err: error }, 'state-replaced listener failed');
      }
    }
  }

  /**
   * Resolves once every event routed to this node before the call has been applied: sends a
   * marker through the state fan-out and waits for it to come back (queues are FIFO).
   */
  async barrier(timeoutMs: number): Promise<void> {
    const marker: BarrierMarker = { id: newId(), type: 'cluster.barrier', origin: this.nodeName };
    let timer: NodeJS.Timeout | undefined;
    const arrived = new Promise<void>((resolve, reject) => {
      this.barriers.set(marker.id, resolve);
      timer = setTimeout(
        () => reject(new Error(`barrier not back within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      await this.bus.publish(marker);
      await arrived;
    } finally {
      clearTimeout(timer);
      this.barriers.delete(marker.id);
    }
  }

  /** Applies an event another node decided and sent back directly (e.g. the master's decision). */
  applyRemote(event: DomainEvent): void {
    this.clock.observe(event.clock);
    this.applyAndNotify(event);
  }

  /** Lag over the last window (since the previous call), for the once-a-second heartbeat. */
  replicationStats(): ReplicationStats {
    const lagMs = this.lagWindowMax;
    this.lagWindowMax = 0;
    return { appliedRemote: this.appliedRemote, lagMs };
  }

  /** Applies events loaded from storage at start, without publishing them again. */
  replay(events: readonly DomainEvent[]): number {
    let changed = 0;
    for (const event of events) {
      this.clock.observe(event.clock);
      if (applyEvent(this.state, event).changed) changed++;
    }
    return changed;
  }

  /** Creates, applies and publishes an event; resolves when the bus and the journal confirmed it. */
  async commit<T extends EventType>(type: T, data: EventDataMap[T]): Promise<EventEnvelope<T>> {
    const { event, confirmation } = this.emit(type, data);
    await confirmation;
    return event;
  }

  /**
   * Applies a new event now and starts publishing it. The caller gets the event at once (to
   * re-publish it later if the confirmation fails) and the confirmation to await.
   */
  emit<T extends EventType>(
    type: T,
    data: EventDataMap[T],
  ): { event: EventEnvelope<T>; confirmation: Promise<void> } {
    const event = this.events.create(type, data);
    this.applyAndNotify(event as DomainEvent);
    this.rememberOwn(event.id);
    return { event, confirmation: this.publish(event as DomainEvent) };
  }

  /**
   * Publishes an event (again) to every node and to persistence. Safe to repeat: receivers and the
   * journal drop what they already have by event id.
   */
  publish(event: DomainEvent): Promise<void> {
    const confirmation = this.publisher.publish(event);
    this.inFlight.add(confirmation);
    const forget = (): void => void this.inFlight.delete(confirmation);
    confirmation.then(forget, forget);
    return confirmation;
  }

  /** Waits until every published event is confirmed (or `timeoutMs` passed); true when none is left. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight.size > 0 && Date.now() < deadline) {
      const timeout = new Promise((resolve) =>
        setTimeout(resolve, Math.max(0, deadline - Date.now())).unref(),
      );
      await Promise.race([Promise.allSettled([...this.inFlight]), timeout]);
    }
    return this.inFlight.size === 0;
  }

  private receive(event: DomainEvent): void {
    if (this.ownRecent.has(event.id)) return;
    this.clock.observe(event.clock);
    if (event.origin !== this.nodeName) {
      this.appliedRemote += 1;
      const lag = Date.now() - stampWallMs(event.clock);
      if (lag > this.lagWindowMax) this.lagWindowMax = lag;
    }
    this.applyAndNotify(event);
  }

  private applyAndNotify(event: DomainEvent): void {
    const result = applyEvent(this.state, event);
    if (!result.changed) return;
    for (const listener of this.listeners) {
      try {
        listener(result.changes, event);
      } catch (error) {
        this.logger.error({ err: error, eventId: event.id }, 'change listener failed');
      }
    }
  }

  private dropWrongShape(message: unknown, problem: string): void {
    try {
      this.options.onRejected?.('shape');
    } catch {
      // Counting must not break the subscription.
    }
    this.shapeDropsUnlogged += 1;
    const now = Date.now();
    if (now - this.shapeLoggedAt < SHAPE_LOG_INTERVAL_MS) return;
    const { id, type, origin } = message as { id?: unknown; type?: unknown; origin?: unknown };
    this.logger.warn(
      {
        eventId: String(id).slice(0, 100),
        type: String(type).slice(0, 100),
        origin: String(origin).slice(0, 100),
        problem: problem.slice(0, 300),
        dropped: this.shapeDropsUnlogged,
      },
      'dropped a message from the bus that is not a valid event (next report in a minute at most)',
    );
    this.shapeLoggedAt = now;
    this.shapeDropsUnlogged = 0;
  }

  private rememberOwn(id: string): void {
    this.ownRecent.add(id);
    // Bounded: the echo of an own event arrives within moments; old ids are simply forgotten
    // (applying a forgotten echo again is harmless, the reducer is idempotent).
    if (this.ownRecent.size > 10_000) {
      const oldest = this.ownRecent.values().next().value;
      if (oldest !== undefined) this.ownRecent.delete(oldest);
    }
  }
}
