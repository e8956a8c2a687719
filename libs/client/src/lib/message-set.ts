import { messageIdsDigest } from './digest';
import type { MessageView, ResyncPosition } from './protocol';

/** Orders (clock, id) pairs: clock stamps compare as plain strings, then ids. */
export function compareMessages(a: MessageView, b: MessageView): number {
  if (a.clock !== b.clock) return a.clock < b.clock ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function clientKey(m: MessageView): string {
  return `${m.author.kind}\u0000${m.author.id ?? ''}\u0000${m.clientMessageId}`;
}

/**
 * The messages of one chat as the client knows them: ordered by (clock, id), with the server's
 * deduplication rules. One server id is one message (it keeps its earliest stamp), and two server
 * ids for one (author, client message id) are one message, the smaller (clock, id) kept. That
 * second case happens when a node showed a message and died before it was confirmed: its author
 * re-sends it and it gets a new server id.
 */
export class MessageSet {
  private readonly list: MessageView[] = [];
  private readonly byId = new Map<string, MessageView>();
  private readonly byClientKey = new Map<string, MessageView>();

  /** Every message, ordered by (clock, id). */
  get all(): readonly MessageView[] {
    return this.list;
  }

  get size(): number {
    return this.list.length;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /**
   * Adds a message the server sent. Returns true when the message is new to the client (announce
   * it), false when the client already held it under this id or under its client message id.
   */
  add(message: MessageView): boolean {
    const sameId = this.byId.get(message.id);
    if (sameId) {
      if (message.clock < sameId.clock) this.replace(sameId, message);
      return false;
    }
    const key = clientKey(message);
    const rival = this.byClientKey.get(key);
    if (rival) {
      if (compareMessages(message, rival) < 0) this.replace(rival, message);
      return false;
    }
    this.insert(message);
    return true;
  }

  /** Where the client stands: its newest message and the digest of every id, for `chat.sync`. */
  position(): ResyncPosition {
    const newest = this.list[this.list.length - 1];
    return {
      afterMessageId: newest?.id ?? null,
      digest: messageIdsDigest(this.list.map((m) => m.id)),
    };
  }

  private replace(old: MessageView, next: MessageView): void {
    const at = this.indexOf(old);
    if (at >= 0) this.list.splice(at, 1);
    this.byId.delete(old.id);
    this.byClientKey.delete(clientKey(old));
    this.insert(next);
  }

  private insert(message: MessageView): void {
    const last = this.list[this.list.length - 1];
    if (!last || compareMessages(last, message) < 0) {
      this.list.push(message);
    } else {
      this.list.splice(this.lowerBound(message), 0, message);
    }
    this.byId.set(message.id, message);
    this.byClientKey.set(clientKey(message), message);
  }

  private indexOf(message: MessageView): number {
    const at = this.lowerBound(message);
    return this.list[at]?.id === message.id ? at : -1;
  }

  /** First index whose message is not before `message`. */
  private lowerBound(message: MessageView): number {
    let lo = 0;
    let hi = this.list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareMessages(this.list[mid] as MessageView, message) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
