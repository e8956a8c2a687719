/**
 * The chaos suite's bookkeeping, pure (times are passed in): every message sent with its
 * acknowledgement and its delivery to the other side, what each client received, the chats and
 * when they were assigned, and what the operators held at each sample.
 */
import type { MessageView } from '@chat/domain';

export type Side = 'visitor' | 'operator';

export interface SentMessage {
  /** The clientMessageId: unique over the whole run. */
  readonly cmid: string;
  readonly side: Side;
  readonly siteId: string;
  readonly chatId: string;
  /** When the sender's client was asked to send it (the first attempt). */
  readonly sentAt: number;
  /** When the sender's client resolved it as acknowledged by the server; null: never. */
  ackedAt: number | null;
  /** The server's id, from the acknowledgement. */
  messageId: string | null;
  /** Why the client gave up on it (an error code), when it did. */
  error: string | null;
  /** First time a client of the other side received it; null: never. */
  deliveredAt: number | null;
}

export interface Receiver {
  readonly side: Side;
  /** One per client, e.g. `operator:<id>`, `visitor:<chatId>`. */
  readonly key: string;
}

export interface DuplicateDelivery {
  readonly receiver: string;
  /** `id <messageId>` (the same message twice) or `cmid <author>:<cmid>` (two server ids). */
  readonly what: string;
  readonly count: number;
}

export interface ChatRecord {
  readonly chatId: string;
  readonly siteId: string;
  readonly startedAt: number;
  assignedAt: number | null;
  operatorIds: Set<string>;
  closedAt: number | null;
}

export class Ledger {
  readonly sent = new Map<string, SentMessage>();
  readonly chats = new Map<string, ChatRecord>();
  /** chat id → the messages sent into it */
  private readonly byChat = new Map<string, SentMessage[]>();
  /** receiver → server message id → times received */
  private readonly receipts = new Map<string, Map<string, number>>();
  /** receiver → `author kind:author id:cmid` → server ids received under it */
  private readonly receiptsByClientId = new Map<string, Map<string, Set<string>>>();
  /** receipts of messages this run never sent (another test's, or a bug) */
  unknownReceipts = 0;
  /** failed attempts to start a chat: when, and the answer (status code or error) */
  readonly chatStartFailures: { at: number; why: string }[] = [];

  recordSend(
    message: Pick<SentMessage, 'cmid' | 'side' | 'siteId' | 'chatId' | 'sentAt'>,
  ): SentMessage {
    if (this.sent.has(message.cmid)) throw new Error(`clientMessageId ${message.cmid} reused`);
    const record: SentMessage = {
      ...message,
      ackedAt: null,
      messageId: null,
      error: null,
      deliveredAt: null,
    };
    this.sent.set(message.cmid, record);
    mapOf(this.byChat, message.chatId, () => []).push(record);
    return record;
  }

  /** The messages sent into one chat, both sides. */
  sentTo(chatId: string): readonly SentMessage[] {
    return this.byChat.get(chatId) ?? [];
  }

  recordAck(cmid: string, view: MessageView, at: number): void {
    const record = this.sent.get(cmid);
    if (!record) return;
    record.ackedAt ??= at;
    record.messageId ??= view.id;
  }

  recordError(cmid: string, code: string): void {
    const record = this.sent.get(cmid);
    if (record && record.ackedAt === null) record.error = code;
  }

  recordReceipt(receiver: Receiver, message: MessageView, at: number): void {
    const byId = mapOf(this.receipts, receiver.key, () => new Map<string, number>());
    byId.set(message.id, (byId.get(message.id) ?? 0) + 1);
    const byClientId = mapOf(
      this.receiptsByClientId,
      receiver.key,
      () => new Map<string, Set<string>>(),
    );
    const clientKey = `${message.author.kind}:${message.author.id ?? ''}:${message.clientMessageId}`;
    mapOf(byClientId, clientKey, () => new Set<string>()).add(message.id);

    const record = this.sent.get(message.clientMessageId);
    if (!record) {
      if (message.author.kind !== 'system') this.unknownReceipts += 1;
      return;
    }
    if (record.side !== receiver.side && message.author.kind === record.side) {
      record.deliveredAt = record.deliveredAt === null ? at : Math.min(record.deliveredAt, at);
    }
  }

  recordChatStarted(chatId: string, siteId: string, at: number): ChatRecord {
    const record: ChatRecord = {
      chatId,
      siteId,
      startedAt: at,
      assignedAt: null,
      operatorIds: new Set(),
      closedAt: null,
    };
    this.chats.set(chatId, record);
    return record;
  }

  recordChatStartFailure(at: number, why: string): void {
    this.chatStartFailures.push({ at, why });
  }

  recordChatAssigned(chatId: string, operatorId: string, at: number): void {
    const record = this.chats.get(chatId);
    if (!record) return;
    record.assignedAt ??= at;
    record.operatorIds.add(operatorId);
  }

  recordChatClosed(chatId: string, at: number): void {
    const record = this.chats.get(chatId);
    if (record) record.closedAt ??= at;
  }

  /** Acknowledged to the sender, never received by the other side. */
  ackedNotDelivered(): SentMessage[] {
    return [...this.sent.values()].filter((m) => m.ackedAt !== null && m.deliveredAt === null);
  }

  /** Sent, still neither acknowledged nor given up on by the client. */
  unsettled(): SentMessage[] {
    return [...this.sent.values()].filter((m) => m.ackedAt === null && m.error === null);
  }

  acked(): SentMessage[] {
    return [...this.sent.values()].filter((m) => m.ackedAt !== null);
  }

  /**
   * Messages a client was shown twice: the same server id received more than once by one client,
   * or one author's clientMessageId received under two server ids.
   */
  duplicates(): DuplicateDelivery[] {
    const found: DuplicateDelivery[] = [];
    for (const [receiver, byId] of this.receipts) {
      for (const [id, count] of byId) {
        if (count > 1) found.push({ receiver, what: `id ${id}`, count });
      }
    }
    for (const [receiver, byClientId] of this.receiptsByClientId) {
      for (const [key, ids] of byClientId) {
        if (ids.size > 1) found.push({ receiver, what: `cmid ${key}`, count: ids.size });
      }
    }
    return found;
  }
}

function mapOf<K, V>(map: Map<K, V>, key: K, create: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = create();
    map.set(key, value);
  }
  return value;
}

/** What the operators held at one moment, from their clients' snapshots. */
export interface HoldingSample {
  readonly operatorId: string;
  readonly maxChats: number;
  readonly chatIds: readonly string[];
}

export interface DoubleHold {
  readonly chatId: string;
  readonly operatorIds: string[];
  readonly firstAt: number;
  samples: number;
}

export interface CapacityExcess {
  readonly operatorId: string;
  readonly maxChats: number;
  held: number;
  readonly firstAt: number;
  samples: number;
}

/**
 * Samples what every operator's client holds (every 100 ms in the suite): a chat in two
 * operators' lists at the same sample is held twice; an operator listing more than `maxChats`
 * chats is over capacity.
 */
export class HoldingSampler {
  samples = 0;
  readonly doubleHolds = new Map<string, DoubleHold>();
  readonly capacityExcesses = new Map<string, CapacityExcess>();

  sample(holdings: readonly HoldingSample[], at: number): void {
    this.samples += 1;
    const holders = new Map<string, string[]>();
    for (const holding of holdings) {
      for (const chatId of new Set(holding.chatIds)) {
        mapOf(holders, chatId, () => []).push(holding.operatorId);
      }
      if (holding.chatIds.length > holding.maxChats) {
        const excess = this.capacityExcesses.get(holding.operatorId);
        if (excess) {
          excess.samples += 1;
          excess.held = Math.max(excess.held, holding.chatIds.length);
        } else {
          this.capacityExcesses.set(holding.operatorId, {
            operatorId: holding.operatorId,
            maxChats: holding.maxChats,
            held: holding.chatIds.length,
            firstAt: at,
            samples: 1,
          });
        }
      }
    }
    for (const [chatId, operatorIds] of holders) {
      if (operatorIds.length < 2) continue;
      const hold = this.doubleHolds.get(chatId);
      if (hold) {
        hold.samples += 1;
        for (const id of operatorIds) if (!hold.operatorIds.includes(id)) hold.operatorIds.push(id);
      } else {
        this.doubleHolds.set(chatId, { chatId, operatorIds, firstAt: at, samples: 1 });
      }
    }
  }
}

/** One row of the journal (`chat_events`). */
export interface JournalRow {
  readonly id: string;
  readonly chatId: string;
  readonly type: string;
  readonly clock: string;
  readonly data: {
    operatorId?: string | null;
    epoch?: number;
    audit?: { reason?: string };
  };
}

export interface JournalFindings {
  /** Chats given to a second operator without a transfer or a requeue in between. */
  readonly doubleAssigned: { chatId: string; operatorIds: string[] }[];
  /** Moments, replaying the journal in clock order, when an operator held more than allowed. */
  readonly capacityExceeded: {
    operatorId: string;
    held: number;
    maxChats: number;
    clock: string;
  }[];
  readonly assignments: number;
}

type Decision = { epoch: number; clock: string; id: string; operatorId: string | null };

function later(a: Decision, b: Decision): boolean {
  if (a.epoch !== b.epoch) return a.epoch > b.epoch;
  if (a.clock !== b.clock) return a.clock > b.clock;
  return a.id > b.id;
}

/**
 * Checks the whole assignment history in the journal. A chat is "held by two operators" when,
 * in the order the reducer uses ((epoch, clock, id)), an assignment names another operator than
 * the current holder and is neither a transfer nor preceded by a requeue (operator null).
 * Capacity: the journal is replayed in clock order with the same register rule, a chat counting
 * for its holder until it is closed.
 */
export function analyseJournal(
  rows: readonly JournalRow[],
  maxChats: ReadonlyMap<string, number>,
): JournalFindings {
  const byChat = new Map<string, JournalRow[]>();
  for (const row of rows) {
    if (row.type === 'chat.assigned') mapOf(byChat, row.chatId, () => []).push(row);
  }
  const decision = (row: JournalRow): Decision => ({
    epoch: row.data.epoch ?? 0,
    clock: row.clock,
    id: row.id,
    operatorId: row.data.operatorId ?? null,
  });
  const doubleAssigned: JournalFindings['doubleAssigned'] = [];
  let assignments = 0;
  for (const [chatId, assigned] of byChat) {
    assignments += assigned.length;
    const ordered = [...assigned].sort((a, b) => (later(decision(a), decision(b)) ? 1 : -1));
    let holder: string | null = null;
    const operators = new Set<string>();
    let double = false;
    for (const row of ordered) {
      const next = row.data.operatorId ?? null;
      const reason = row.data.audit?.reason;
      if (next !== null && holder !== null && next !== holder && reason !== 'transfer') {
        double = true;
      }
      if (next !== null) operators.add(next);
      holder = next;
    }
    if (double) doubleAssigned.push({ chatId, operatorIds: [...operators] });
  }

  // Capacity: replay in clock order, with the register rule per chat.
  const current = new Map<string, Decision>();
  const closed = new Set<string>();
  const load = new Map<string, number>();
  const capacityExceeded: JournalFindings['capacityExceeded'] = [];
  const change = (operatorId: string | null, delta: number, clock: string): void => {
    if (operatorId === null) return;
    const held = (load.get(operatorId) ?? 0) + delta;
    load.set(operatorId, held);
    const max = maxChats.get(operatorId);
    if (delta > 0 && max !== undefined && held > max) {
      capacityExceeded.push({ operatorId, held, maxChats: max, clock });
    }
  };
  const inClockOrder = [...rows].sort((a, b) =>
    a.clock === b.clock ? (a.id < b.id ? -1 : 1) : a.clock < b.clock ? -1 : 1,
  );
  for (const row of inClockOrder) {
    if (row.type === 'chat.closed') {
      if (!closed.has(row.chatId)) {
        closed.add(row.chatId);
        change(current.get(row.chatId)?.operatorId ?? null, -1, row.clock);
      }
    } else if (row.type === 'chat.assigned' && !closed.has(row.chatId)) {
      const next = decision(row);
      const previous = current.get(row.chatId);
      if (previous === undefined || later(next, previous)) {
        current.set(row.chatId, next);
        change(previous?.operatorId ?? null, -1, row.clock);
        change(next.operatorId, +1, row.clock);
      }
    }
  }
  return { doubleAssigned, capacityExceeded, assignments };
}

/** A fault as it happened: injected, undone (for faults that last), and the end of its window. */
export interface FaultWindow {
  readonly name: string;
  readonly injectedAt: number;
  readonly undoneAt: number | null;
  /** The next fault's injection, or the end of the traffic. */
  readonly endsAt: number;
  readonly notes: string[];
  /** What was wrong once the fault was over and the cluster had settled (must stay empty). */
  readonly problems: string[];
}

export interface FaultResult {
  readonly name: string;
  /** ms from the start of the traffic */
  readonly injectedAtMs: number;
  /** how long the fault lasted (injected → undone); null for instantaneous faults */
  readonly durationMs: number | null;
  /**
   * Time to resume: from the injection to the first message sent after it that was acknowledged
   * to its sender AND delivered to the other side; the earliest over the sites, and the latest
   * (every site resumed). null: nothing resumed.
   */
  readonly resumeFirstMs: number | null;
  readonly resumeAllSitesMs: number | null;
  /** Longest gap between two completed (acknowledged + delivered) messages of one site in the window. */
  readonly longestStallMs: number;
  readonly messagesSent: number;
  readonly messagesCompleted: number;
  readonly chatsStarted: number;
  readonly chatsAssigned: number;
  /** Longest wait from a chat's start to its assignment, over the chats of the window assigned. */
  readonly maxAssignWaitMs: number | null;
  /** Refused or failed `POST /l/v/chats` in the window, by answer. */
  readonly chatStartFailures: Record<string, number>;
  readonly notes: string[];
  readonly problems: string[];
}

function completion(message: SentMessage): number | null {
  if (message.ackedAt === null || message.deliveredAt === null) return null;
  return Math.max(message.ackedAt, message.deliveredAt);
}

export function measureFault(
  ledger: Ledger,
  sites: readonly string[],
  window: FaultWindow,
  trafficStartedAt: number,
): FaultResult {
  const { injectedAt, endsAt } = window;
  const messages = [...ledger.sent.values()];
  const inWindow = messages.filter((m) => m.sentAt >= injectedAt && m.sentAt < endsAt);
  const perSite: number[] = [];
  let resumedSites = 0;
  let longestStallMs = 0;
  for (const site of sites) {
    const firsts = messages
      .filter((m) => m.siteId === site && m.sentAt >= injectedAt)
      .map(completion)
      .filter((c): c is number => c !== null);
    if (firsts.length > 0) {
      perSite.push(Math.min(...firsts) - injectedAt);
      resumedSites += 1;
    }
    const done = messages
      .filter((m) => m.siteId === site)
      .map(completion)
      .filter((c): c is number => c !== null && c > injectedAt && c <= endsAt)
      .sort((a, b) => a - b);
    let previous = injectedAt;
    for (const at of [...done, endsAt]) {
      longestStallMs = Math.max(longestStallMs, at - previous);
      previous = at;
    }
  }
  const started = [...ledger.chats.values()].filter(
    (c) => c.startedAt >= injectedAt && c.startedAt < endsAt,
  );
  const assigned = started.filter((c) => c.assignedAt !== null);
  const waits = assigned.map((c) => (c.assignedAt ?? c.startedAt) - c.startedAt);
  const startFailures: Record<string, number> = {};
  for (const failure of ledger.chatStartFailures) {
    if (failure.at >= injectedAt && failure.at < endsAt) {
      startFailures[failure.why] = (startFailures[failure.why] ?? 0) + 1;
    }
  }
  return {
    name: window.name,
    injectedAtMs: injectedAt - trafficStartedAt,
    durationMs: window.undoneAt === null ? null : window.undoneAt - injectedAt,
    resumeFirstMs: perSite.length > 0 ? Math.min(...perSite) : null,
    resumeAllSitesMs: resumedSites === sites.length ? Math.max(...perSite) : null,
    longestStallMs,
    messagesSent: inWindow.length,
    messagesCompleted: inWindow.filter((m) => completion(m) !== null).length,
    chatsStarted: started.length,
    chatsAssigned: assigned.length,
    maxAssignWaitMs: waits.length === 0 ? null : Math.max(...waits),
    chatStartFailures: startFailures,
    notes: window.notes,
    problems: window.problems,
  };
}
