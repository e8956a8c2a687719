import {
  type BusErrorReporter,
  type BusEvent,
  type BusHandler,
  type BusMessage,
  type BusSignal,
  ClusterBus,
} from './cluster-bus';
import { cloneThroughJson } from './json-clone';

export interface InProcessClusterBusOptions {
  /** Receives errors thrown by handlers. Default: `console.error`. */
  readonly onError?: BusErrorReporter;
}

interface Subscription<T> {
  readonly handler: BusHandler<T>;
  /** Settles when every delivery scheduled so far to this handler is done. */
  tail: Promise<void>;
}

const defaultOnError: BusErrorReporter = (error, context) => {
  console.error(`ClusterBus ${context.kind} handler failed for ${context.messageId}`, error);
};

/**
 * The single-process {@link ClusterBus}: every subscriber of this instance receives every event.
 *
 * Delivery is asynchronous (never inside `publish`): each handler gets its own ordered chain, so it
 * sees events in publish order, one at a time, the next one after its previous promise settled.
 * Errors thrown by a handler go to `onError`; they affect neither other handlers nor later events.
 * `publish` resolves once delivery to every current subscriber has been scheduled.
 *
 * Each event and signal is copied through JSON once at publish, as a broker would serialise it, so
 * later changes by the publisher are not seen and non-JSON values fail (or degrade) as they would
 * in a cluster. `publish` rejects when the bus is not started; `publishSignal` then drops silently.
 */
export class InProcessClusterBus<
  TEvent extends BusEvent = BusEvent,
  TSignal extends BusSignal = BusSignal,
> extends ClusterBus<TEvent, TSignal> {
  private readonly onError: BusErrorReporter;
  private readonly eventSubscriptions: Subscription<TEvent>[] = [];
  private readonly signalSubscriptions: Subscription<TSignal>[] = [];
  private started = false;

  constructor(options: InProcessClusterBusOptions = {}) {
    super();
    this.onError = options.onError ?? defaultOnError;
  }

  get connected(): boolean {
    return this.started;
  }

  start(): Promise<void> {
    this.started = true;
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    this.started = false;
    await Promise.all([...this.eventSubscriptions, ...this.signalSubscriptions].map((s) => s.tail));
  }

  publish(event: TEvent): Promise<void> {
    if (!this.started) {
      return Promise.reject(
        new Error(`ClusterBus is not started; cannot publish event ${event.id}`),
      );
    }
    try {
      this.deliver(this.eventSubscriptions, cloneThroughJson(event, `Event ${event.id}`), 'event');
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return Promise.resolve();
  }

  subscribe(handler: BusHandler<TEvent>): void {
    this.eventSubscriptions.push({ handler, tail: Promise.resolve() });
  }

  publishSignal(signal: TSignal): void {
    if (!this.started) {
      return;
    }
    try {
      this.deliver(
        this.signalSubscriptions,
        cloneThroughJson(signal, `Signal ${signal.id}`),
        'signal',
      );
    } catch (error) {
      this.report(error, 'signal', signal.id);
    }
  }

  subscribeSignals(handler: BusHandler<TSignal>): void {
    this.signalSubscriptions.push({ handler, tail: Promise.resolve() });
  }

  private deliver<T extends BusMessage>(
    subscriptions: readonly Subscription<T>[],
    message: T,
    kind: 'event' | 'signal',
  ): void {
    for (const subscription of subscriptions) {
      // `then` runs the handler in a later microtask, after the previous delivery settled.
      subscription.tail = subscription.tail.then(async () => {
        try {
          await subscription.handler(message);
        } catch (error) {
          this.report(error, kind, message.id);
        }
      });
    }
  }

  private report(error: unknown, kind: 'event' | 'signal', messageId: string): void {
    try {
      this.onError(error, { kind, messageId });
    } catch {
      // A failing reporter must not break the delivery chain.
    }
  }
}
