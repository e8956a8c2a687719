/** One message the client sent and the server has not confirmed yet. */
export interface PendingMessage {
  readonly clientMessageId: string;
  readonly text: string;
  /** the operator's target chat; absent on the visitor's channel (one chat) */
  readonly chatId?: string;
}

interface Entry<T extends PendingMessage, R> {
  readonly item: T;
  readonly promise: Promise<R>;
  resolve(value: R): void;
  reject(error: unknown): void;
}

function keyOf(item: PendingMessage): string {
  return `${item.chatId ?? ''}\u0000${item.clientMessageId}`;
}

/**
 * The messages a client sent and the server has not acknowledged yet, in the order they were
 * sent. Each keeps one promise, settled exactly once: with the server's answer when it is
 * acknowledged, with an error when it is refused for good. Adding a message that is already
 * pending (same chat and client message id) returns the first one's promise.
 */
export class Outbox<T extends PendingMessage, R> {
  private readonly entries = new Map<string, Entry<T, R>>();

  get size(): number {
    return this.entries.size;
  }

  /** The pending messages, oldest first. */
  items(): T[] {
    return [...this.entries.values()].map((e) => e.item);
  }

  /** The oldest pending message: the next to (re-)send. */
  head(): T | undefined {
    return this.entries.values().next().value?.item;
  }

  add(item: T): Promise<R> {
    const key = keyOf(item);
    const existing = this.entries.get(key);
    if (existing) return existing.promise;
    let resolve!: (value: R) => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<R>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // A caller that drops the promise must not turn a refusal into an unhandled rejection.
    promise.catch(() => undefined);
    this.entries.set(key, { item, promise, resolve, reject });
    return promise;
  }

  /** The server acknowledged it: forget it and settle its promise. False if it was not pending. */
  confirm(item: PendingMessage, value: R): boolean {
    const entry = this.take(item);
    entry?.resolve(value);
    return entry !== undefined;
  }

  /** The server refused it for good: forget it and reject its promise. */
  refuse(item: PendingMessage, error: unknown): boolean {
    const entry = this.take(item);
    entry?.reject(error);
    return entry !== undefined;
  }

  /** Rejects and forgets every pending message (the client closed or was refused for good). */
  refuseAll(error: unknown): void {
    const all = [...this.entries.values()];
    this.entries.clear();
    for (const entry of all) entry.reject(error);
  }

  private take(item: PendingMessage): Entry<T, R> | undefined {
    const key = keyOf(item);
    const entry = this.entries.get(key);
    if (entry) this.entries.delete(key);
    return entry;
  }
}
