/** A listener map: event name -> listener signature. */
export type ListenerMap = { [event: string]: (...args: never[]) => void };

/**
 * A minimal typed event emitter that runs in browsers (no `node:events`). A listener that throws
 * does not break the client's own bookkeeping: the error is rethrown on a fresh task, where the
 * platform reports it as uncaught.
 */
export class Emitter<M extends ListenerMap> {
  private readonly listeners = new Map<keyof M, Set<M[keyof M]>>();

  /** Adds a listener; returns the function that removes it. */
  on<E extends keyof M>(event: E, listener: M[E]): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  emit<E extends keyof M>(event: E, ...args: Parameters<M[E]>): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as (...a: Parameters<M[E]>) => void)(...args);
      } catch (error) {
        setTimeout(() => {
          throw error;
        }, 0);
      }
    }
  }

  clear(): void {
    this.listeners.clear();
  }
}
