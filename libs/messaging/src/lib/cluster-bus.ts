/**
 * Anything carried by the bus: a JSON-serialisable object with a unique `id` (a GUID made by the
 * sender). The id lets receivers drop duplicates, which a broker may deliver after a reconnect.
 */
export interface BusMessage {
  readonly id: string;
}

/** A state change every node must apply (durable fan-out). */
export type BusEvent = BusMessage;

/** An ephemeral notification (e.g. "visitor is typing"); losing one is harmless. */
export type BusSignal = BusMessage;

/** Receives one event or signal; a returned promise is awaited before the next one is delivered. */
export type BusHandler<T> = (message: T) => void | Promise<void>;

/** Where a driver reports errors thrown by handlers; it never rethrows them. */
export type BusErrorReporter = (error: unknown, context: BusErrorContext) => void;

export interface BusErrorContext {
  readonly kind: 'event' | 'signal';
  readonly messageId: string;
}

/**
 * The state fan-out between the nodes of a cluster.
 *
 * Contract for every driver:
 * - every node receives every event, including the events it published itself;
 * - each handler receives events one at a time, in publish order (per publisher); the next event
 *   is delivered once the handler's returned promise settled (for RabbitMQ: manual ack after the
 *   handler, so an event is redelivered when the node dies while handling it);
 * - a throwing handler is reported and does not stop other handlers or later events;
 * - events are JSON-serialisable (they cross process boundaries in the RabbitMQ driver).
 *
 * Handlers should be registered before {@link ClusterBus.start}; a driver may ignore handlers
 * registered later.
 */
export abstract class ClusterBus<
  TEvent extends BusEvent = BusEvent,
  TSignal extends BusSignal = BusSignal,
> {
  /** True between a successful {@link start} and {@link stop} while the transport is usable. */
  abstract readonly connected: boolean;

  /** Connects to the transport and begins delivering to the registered handlers. */
  abstract start(): Promise<void>;

  /** Stops delivering and disconnects; waits for deliveries that are in progress. Idempotent. */
  abstract stop(): Promise<void>;

  /**
   * Publishes a state change to every node. Resolves only once the transport accepted it
   * (RabbitMQ: the publisher confirm of a mandatory, persistent publish); rejects otherwise,
   * including when the bus is not started.
   */
  abstract publish(event: TEvent): Promise<void>;

  /** Registers a handler that receives every event of the cluster, own events included. */
  abstract subscribe(handler: BusHandler<TEvent>): void;

  /**
   * Sends an ephemeral signal to every node, fire-and-forget: never throws, never waits,
   * silently dropped when the bus is not connected.
   */
  abstract publishSignal(signal: TSignal): void;

  /** Registers a handler that receives every signal of the cluster, own signals included. */
  abstract subscribeSignals(handler: BusHandler<TSignal>): void;
}
