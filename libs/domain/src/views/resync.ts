/**
 * The server's half of the client resync: given the client's position in a chat (its newest
 * message id and a digest of every message id it holds), the messages it lacks. Pure.
 *
 * Messages are ordered by (clock, id), and a message from another node can land *before* a message
 * the client already saw (its clock is older, it just arrived late). "Everything after the
 * client's newest id" would miss it. The digest makes the answer exact: when the client's digest
 * equals the digest of this node's messages up to and including its newest id, the client holds
 * exactly that prefix and lacks only what follows; otherwise the answer is the whole chat, a safe
 * superset the client deduplicates by id.
 */
import type { Message } from '../model/model';
import { messageIndex, messagePosition } from '../state/indexes';
import type { ChatRecord } from '../state/state';

/** Where the client stands in a chat. */
export interface ResyncPosition {
  /** the newest message (by clock, id) the client holds; null when it holds none */
  afterMessageId: string | null;
  /** `messageIdsDigest` of every message id the client holds, in (clock, id) order */
  digest?: string | undefined;
}

export interface ResyncAnswer {
  /** what the client lacks, in (clock, id) order; may repeat what it holds when `from` is 'start' */
  messages: Message[];
  /** 'position': only messages after the client's position; 'start': the whole chat */
  from: 'position' | 'start';
}

const FNV64_OFFSET = 0xcbf29ce484222325n;
const FNV64_PRIME = 0x100000001b3n;
const SEPARATOR = 0x0a;

/**
 * FNV-1a, 64 bits, over each id's UTF-16 code units followed by a line feed (0x0a), as 16
 * lower-case hex digits. Order matters. Clients compute the same function (see docs/protocol.md);
 * the digest of no ids is `cbf29ce484222325`.
 */
export function messageIdsDigest(ids: Iterable<string>): string {
  let hash = FNV64_OFFSET;
  for (const id of ids) {
    for (let i = 0; i < id.length; i += 1) {
      hash = BigInt.asUintN(64, (hash ^ BigInt(id.charCodeAt(i))) * FNV64_PRIME);
    }
    hash = BigInt.asUintN(64, (hash ^ BigInt(SEPARATOR)) * FNV64_PRIME);
  }
  return hash.toString(16).padStart(16, '0');
}

/**
 * What a client at `position` lacks. Exact when the position is known and its digest matches this
 * node's prefix; the whole chat when the client holds nothing, names an unknown message or its
 * digest differs. Without a digest (the older form of the request) only the messages strictly
 * after the position, which can miss a message that arrived late from another node.
 */
export function messagesForResync(chat: ChatRecord, position: ResyncPosition): ResyncAnswer {
  const all = (): ResyncAnswer => ({ messages: [...chat.messages], from: 'start' });
  if (position.afterMessageId === null) return all();
  const after = messageIndex(chat).byId.get(position.afterMessageId);
  const at = after ? messagePosition(chat, after) : -1;
  if (at < 0) return all();
  if (position.digest !== undefined) {
    const prefix = chat.messages.slice(0, at + 1).map((m) => m.id);
    if (messageIdsDigest(prefix) !== position.digest) return all();
  }
  return { messages: chat.messages.slice(at + 1), from: 'position' };
}
