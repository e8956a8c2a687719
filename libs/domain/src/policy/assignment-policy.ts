/**
 * The assignment policy and the checks of the use cases that change a chat. Pure functions: the
 * time comes in through the options, nothing here reads a clock or changes the state.
 */
import { stampWallMs } from '../clock/hlc';
import type { EventDataMap } from '../events/events';
import { DomainError } from '../model/errors';
import type { AssignmentCandidate, Author, OperatorProfile } from '../model/model';
import {
  chatDepartmentId,
  chatStatus,
  isOperatorConnected,
  operatorAbsentSinceMs,
  operatorLoad,
  waitingSinceMs,
} from '../state/queries';
import { compareClockId } from '../state/order';
import type { ChatRecord, ChatState, OperatorRecord } from '../state/state';

export interface PolicyOptions {
  /** the decider's current wall-clock time in ms */
  nowMs: number;
  /** how long an operator may be gone before their chats go back to the queue */
  graceMs: number;
  /** an operator's absence is never counted from before this time (e.g. the master's start) */
  absenceFloorMs: number;
}

/** A decision of the master, without the epoch the master adds when it publishes it. */
export type AssignmentDecision = Omit<EventDataMap['chat.assigned'], 'epoch'>;

interface KnownOperator {
  record: OperatorRecord;
  profile: OperatorProfile;
}

function knownOperator(state: ChatState, operatorId: string): KnownOperator | null {
  const record = state.operators.get(operatorId);
  const profile = record?.profile?.value;
  return record && profile ? { record, profile } : null;
}

/** Online, connected and not disabled: may be given chats (capacity permitting). */
function isOnlineAndConnected({ record, profile }: KnownOperator): boolean {
  return !profile.disabled && record.status?.value === 'online' && isOperatorConnected(record);
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)}s`;
}

/**
 * Why the operator holding a chat counts as gone (their chats go back to the queue), or null if
 * they do not: profile missing or disabled (at once); status offline for longer than the grace
 * period; or not connected for longer than the grace period, counted from no earlier than
 * `absenceFloorMs`.
 */
export function operatorGoneReason(
  state: ChatState,
  operatorId: string,
  options: PolicyOptions,
): string | null {
  const known = knownOperator(state, operatorId);
  if (!known) {
    return `operator ${operatorId} no longer exists`;
  }
  const { record, profile } = known;
  if (profile.disabled) {
    return `operator "${profile.name}" is disabled`;
  }
  if (record.status?.value === 'offline') {
    const offlineFor = options.nowMs - stampWallMs(record.status.clock);
    if (offlineFor > options.graceMs) {
      return `operator "${profile.name}" offline for ${seconds(offlineFor)} (grace ${seconds(options.graceMs)})`;
    }
  }
  if (!isOperatorConnected(record)) {
    const since = Math.max(
      operatorAbsentSinceMs(record) ?? options.absenceFloorMs,
      options.absenceFloorMs,
    );
    const absentFor = options.nowMs - since;
    if (absentFor > options.graceMs) {
      return `operator "${profile.name}" disconnected for ${seconds(absentFor)} (grace ${seconds(options.graceMs)})`;
    }
  }
  return null;
}

function compareCandidates(a: AssignmentCandidate, b: AssignmentCandidate): number {
  const aFree = a.load < a.maxChats;
  const bFree = b.load < b.maxChats;
  if (aFree !== bFree) {
    return aFree ? -1 : 1;
  }
  if (a.load !== b.load) {
    return a.load - b.load;
  }
  if (a.lastAssignedAt !== b.lastAssignedAt) {
    if (a.lastAssignedAt === null) {
      return -1;
    }
    if (b.lastAssignedAt === null) {
      return 1;
    }
    return a.lastAssignedAt - b.lastAssignedAt;
  }
  return a.operatorId < b.operatorId ? -1 : a.operatorId > b.operatorId ? 1 : 0;
}

/** Names the rule that made `ranked[0]` win over the runner-up. */
function decidingRule(ranked: AssignmentCandidate[]): string {
  const [first, second] = ranked;
  if (!first || !second || second.load >= second.maxChats) {
    return 'only operator with free capacity';
  }
  if (first.load !== second.load) {
    return 'least loaded';
  }
  if (first.lastAssignedAt !== second.lastAssignedAt) {
    return 'longest idle among least loaded';
  }
  return 'lowest operator id among least loaded and equally idle';
}

function departmentLabel(state: ChatState, departmentId: string): string {
  return `department "${state.departments.get(departmentId)?.value.name ?? departmentId}"`;
}

/**
 * One pass of the master's automatic assignment: (a) requeue the chats of operators gone for
 * longer than the grace period, then (b) give waiting chats, longest waiting first, to the least
 * loaded available operator (department first, else the whole site). Loads are counted within
 * the pass, so a pass never exceeds an operator's limit.
 */
/**
 * The open chats each operator holds beyond their limit, the most recently assigned first to go.
 * One decider never assigns past a limit, but two leaders of different epochs may each fill the
 * same operator's free slots around a change of master (each deciding from its own replica); the
 * acting master then sends the excess back to the queue, so a limit is broken for moments, not
 * for the rest of the chats.
 */
export function overCapacityChats(state: ChatState): ChatRecord[] {
  const byHolder = new Map<string, ChatRecord[]>();
  for (const chat of state.chats.values()) {
    const holder = chat.assignment?.operatorId ?? null;
    if (!chat.started || chat.closed !== null || holder === null) continue;
    byHolder.set(holder, [...(byHolder.get(holder) ?? []), chat]);
  }
  const excess: ChatRecord[] = [];
  for (const [holder, chats] of byHolder) {
    const maxChats = state.operators.get(holder)?.profile?.value.maxChats;
    if (maxChats === undefined || chats.length <= maxChats) continue;
    const byAssignment = [...chats].sort((a, b) =>
      compareClockId(
        a.assignment?.clock ?? '',
        a.assignment?.eventId ?? '',
        b.assignment?.clock ?? '',
        b.assignment?.eventId ?? '',
      ),
    );
    excess.push(...byAssignment.slice(maxChats));
  }
  return excess;
}

export function planAutoAssignments(
  state: ChatState,
  options: PolicyOptions,
): AssignmentDecision[] {
  const decisions: AssignmentDecision[] = [];
  const loads = new Map<string, number>();
  const lastAssigned = new Map<string, number | null>();
  const requeuedFrom = new Map<string, string>();
  const waiting: { chat: ChatRecord; since: number; departmentId: string | null }[] = [];

  const loadOf = (operatorId: string): number => {
    let load = loads.get(operatorId);
    if (load === undefined) {
      load = operatorLoad(state, operatorId);
      loads.set(operatorId, load);
    }
    return load;
  };
  const lastAssignedOf = (record: OperatorRecord): number | null =>
    lastAssigned.has(record.id) ? (lastAssigned.get(record.id) ?? null) : record.lastAssignedAt;

  // (a) requeue: what an operator holds beyond their limit, then the chats of operators gone
  const excess = new Set(overCapacityChats(state).map((chat) => chat.id));
  for (const chat of state.chats.values()) {
    if (!chat.started || chat.closed !== null) {
      continue;
    }
    const departmentId = chatDepartmentId(chat);
    const holder = chat.assignment?.operatorId ?? null;
    if (holder === null) {
      waiting.push({ chat, since: waitingSinceMs(chat) ?? options.nowMs, departmentId });
      continue;
    }
    const gone = excess.has(chat.id)
      ? `over the chat limit of its operator after a change of master (${loadOf(holder)} held)`
      : operatorGoneReason(state, holder, options);
    if (gone === null) {
      continue;
    }
    decisions.push({
      chatId: chat.id,
      siteId: chat.siteId,
      operatorId: null,
      departmentId,
      audit: { reason: 'requeue', explanation: gone, candidates: [], requestedBy: null },
    });
    requeuedFrom.set(chat.id, holder);
    loads.set(holder, loadOf(holder) - 1);
    waiting.push({ chat, since: options.nowMs, departmentId });
  }

  // (b) assign
  const eligibleBySite = new Map<string, KnownOperator[]>();
  const eligibleOf = (siteId: string): KnownOperator[] => {
    let eligible = eligibleBySite.get(siteId);
    if (!eligible) {
      eligible = [];
      for (const record of state.operators.values()) {
        const profile = record.profile?.value;
        if (profile && profile.siteId === siteId && isOnlineAndConnected({ record, profile })) {
          eligible.push({ record, profile });
        }
      }
      eligibleBySite.set(siteId, eligible);
    }
    return eligible;
  };

  waiting.sort((a, b) =>
    a.since !== b.since
      ? a.since - b.since
      : a.chat.id < b.chat.id
        ? -1
        : a.chat.id > b.chat.id
          ? 1
          : 0,
  );
  for (const { chat, departmentId } of waiting) {
    const siteOperators = eligibleOf(chat.siteId);
    const inDepartment =
      departmentId === null
        ? []
        : siteOperators.filter((op) => op.profile.departmentIds.includes(departmentId));
    const pool = inDepartment.length > 0 ? inDepartment : siteOperators;
    const excluded = requeuedFrom.get(chat.id);
    const ranked = pool
      .filter((op) => op.record.id !== excluded)
      .map((op): AssignmentCandidate => ({
        operatorId: op.record.id,
        load: loadOf(op.record.id),
        maxChats: op.profile.maxChats,
        lastAssignedAt: lastAssignedOf(op.record),
        inDepartment: departmentId !== null && op.profile.departmentIds.includes(departmentId),
      }))
      .sort(compareCandidates);
    const chosen = ranked[0];
    if (!chosen || chosen.load >= chosen.maxChats) {
      continue; // nobody free: the chat keeps waiting
    }
    const scope =
      departmentId === null
        ? 'in site'
        : inDepartment.length > 0
          ? `in ${departmentLabel(state, departmentId)}`
          : `in site (nobody online in ${departmentLabel(state, departmentId)})`;
    const count = `${ranked.length} candidate${ranked.length === 1 ? '' : 's'}`;
    decisions.push({
      chatId: chat.id,
      siteId: chat.siteId,
      operatorId: chosen.operatorId,
      departmentId,
      audit: {
        reason: 'auto',
        explanation: `${decidingRule(ranked)} (${chosen.load}/${chosen.maxChats}) ${scope}; ${count}`,
        candidates: ranked,
        requestedBy: null,
      },
    });
    loads.set(chosen.operatorId, chosen.load + 1);
    lastAssigned.set(chosen.operatorId, options.nowMs);
  }
  return decisions;
}

function requireChat(state: ChatState, chatId: string): ChatRecord {
  const chat = state.chats.get(chatId);
  if (!chat || !chat.started) {
    throw new DomainError('CHAT_NOT_FOUND', `chat ${chatId} not found`);
  }
  return chat;
}

function requireOperator(state: ChatState, operatorId: string): KnownOperator {
  const known = knownOperator(state, operatorId);
  if (!known) {
    throw new DomainError('OPERATOR_NOT_FOUND', `operator ${operatorId} not found`);
  }
  return known;
}

function requireSameSite(chat: ChatRecord, siteId: string): void {
  if (chat.siteId !== siteId) {
    throw new DomainError('FORBIDDEN', `chat ${chat.id} belongs to another site`);
  }
}

function candidateOf(
  state: ChatState,
  op: KnownOperator,
  departmentId: string | null,
): AssignmentCandidate {
  return {
    operatorId: op.record.id,
    load: operatorLoad(state, op.record.id),
    maxChats: op.profile.maxChats,
    lastAssignedAt: op.record.lastAssignedAt,
    inDepartment: departmentId !== null && op.profile.departmentIds.includes(departmentId),
  };
}

function requireCapacity(candidate: AssignmentCandidate, name: string): void {
  if (candidate.load >= candidate.maxChats) {
    throw new DomainError(
      'OPERATOR_AT_CAPACITY',
      `operator "${name}" already has ${candidate.load}/${candidate.maxChats} chats`,
    );
  }
}

/** The greatest leadership epoch among the chats' decisions (0 when none). */
export function maxAssignmentEpoch(state: ChatState): number {
  let max = 0;
  for (const chat of state.chats.values()) {
    if (chat.assignment && chat.assignment.epoch > max) max = chat.assignment.epoch;
  }
  return max;
}

/**
 * What a new acting master re-asserts under its epoch when it takes over: every open chat that
 * an operator holds keeps its operator. A decision of the deposed master still on its way (a
 * paused process resuming, a publish in flight) then loses on every node, whatever the order of
 * arrival. Waiting chats are not fenced (it would move them back in the queue); a stale decision
 * about one is overruled when it arrives (see `overruleStaleDecision`). Chats an operator holds
 * beyond their limit are not fenced either: the first pass of the new master requeues them.
 */
export function planEpochFence(state: ChatState): AssignmentDecision[] {
  const decisions: AssignmentDecision[] = [];
  // Not re-asserted: what an operator holds beyond their limit (the next pass requeues it).
  const excess = new Set(overCapacityChats(state).map((chat) => chat.id));
  for (const chat of state.chats.values()) {
    const operatorId = chat.assignment?.operatorId ?? null;
    if (!chat.started || chat.closed !== null || operatorId === null || excess.has(chat.id)) {
      continue;
    }
    decisions.push({
      chatId: chat.id,
      siteId: chat.siteId,
      operatorId,
      departmentId: chatDepartmentId(chat),
      audit: {
        reason: 'fence',
        explanation: 'kept by the new acting master',
        candidates: [],
        requestedBy: null,
      },
    });
  }
  return decisions;
}

/**
 * A decision of a lower epoch than the deciding master's won a chat's register (it came from a
 * deposed master): the acting master puts the chat back in the queue under its own epoch, and the
 * policy assigns it again with the current loads. Null when the chat's register is not held by a
 * stale decision (already overruled, closed, or the decision lost anyway).
 */
export function overruleStaleDecision(
  state: ChatState,
  decision: { chatId: string; eventId: string; epoch: number },
  currentEpoch: number,
): AssignmentDecision | null {
  const chat = state.chats.get(decision.chatId);
  if (!chat?.started || chat.closed !== null || decision.epoch >= currentEpoch) return null;
  if (chat.assignment?.eventId !== decision.eventId || chat.assignment.operatorId === null) {
    return null;
  }
  return {
    chatId: chat.id,
    siteId: chat.siteId,
    operatorId: null,
    departmentId: chatDepartmentId(chat),
    audit: {
      reason: 'requeue',
      explanation: `decision of a deposed master (epoch ${decision.epoch}) overruled by epoch ${currentEpoch}`,
      candidates: [],
      requestedBy: null,
    },
  };
}

/** An operator takes a waiting chat of their site from the queue. */
export function planTake(
  state: ChatState,
  input: { operatorId: string; chatId: string },
): AssignmentDecision {
  const chat = requireChat(state, input.chatId);
  const op = requireOperator(state, input.operatorId);
  requireSameSite(chat, op.profile.siteId);
  const status = chatStatus(chat);
  if (status === 'closed') {
    throw new DomainError('CHAT_CLOSED', `chat ${chat.id} is closed`);
  }
  if (status !== 'waiting') {
    throw new DomainError('CHAT_NOT_WAITING', `chat ${chat.id} is already assigned`);
  }
  if (op.profile.disabled) {
    throw new DomainError('OPERATOR_DISABLED', `operator "${op.profile.name}" is disabled`);
  }
  const departmentId = chatDepartmentId(chat);
  const candidate = candidateOf(state, op, departmentId);
  requireCapacity(candidate, op.profile.name);
  return {
    chatId: chat.id,
    siteId: chat.siteId,
    operatorId: op.record.id,
    departmentId,
    audit: {
      reason: 'manual',
      explanation: `taken from the queue by "${op.profile.name}" (${candidate.load}/${candidate.maxChats})`,
      candidates: [candidate],
      requestedBy: op.record.id,
    },
  };
}

/**
 * The chat's operator hands it to another operator of the site (online, connected, with free
 * capacity) or back to the queue of a department of the site. Exactly one target.
 */
export function planTransfer(
  state: ChatState,
  input: { requestedBy: string; chatId: string; toOperatorId?: string; toDepartmentId?: string },
): AssignmentDecision {
  const { toOperatorId, toDepartmentId } = input;
  if ((toOperatorId === undefined) === (toDepartmentId === undefined)) {
    throw new DomainError(
      'INVALID_TRANSFER',
      'a transfer needs exactly one target: toOperatorId or toDepartmentId',
    );
  }
  const chat = requireChat(state, input.chatId);
  const requester = requireOperator(state, input.requestedBy);
  requireSameSite(chat, requester.profile.siteId);
  if (chat.closed !== null) {
    throw new DomainError('CHAT_CLOSED', `chat ${chat.id} is closed`);
  }
  if (chat.assignment?.operatorId !== requester.record.id) {
    throw new DomainError(
      'NOT_CHAT_OPERATOR',
      `operator "${requester.profile.name}" does not hold chat ${chat.id}`,
    );
  }
  const by = `transferred by "${requester.profile.name}"`;

  if (toOperatorId !== undefined) {
    if (toOperatorId === requester.record.id) {
      throw new DomainError('INVALID_TRANSFER', 'cannot transfer a chat to its own operator');
    }
    const target = knownOperator(state, toOperatorId);
    if (!target || target.profile.siteId !== chat.siteId) {
      throw new DomainError('OPERATOR_NOT_FOUND', `operator ${toOperatorId} not found`);
    }
    if (target.profile.disabled) {
      throw new DomainError('OPERATOR_DISABLED', `operator "${target.profile.name}" is disabled`);
    }
    if (!isOnlineAndConnected(target)) {
      throw new DomainError(
        'OPERATOR_UNAVAILABLE',
        `operator "${target.profile.name}" is not online`,
      );
    }
    const departmentId = chatDepartmentId(chat);
    const candidate = candidateOf(state, target, departmentId);
    requireCapacity(candidate, target.profile.name);
    return {
      chatId: chat.id,
      siteId: chat.siteId,
      operatorId: target.record.id,
      departmentId,
      audit: {
        reason: 'transfer',
        explanation: `${by} to "${target.profile.name}" (${candidate.load}/${candidate.maxChats})`,
        candidates: [candidate],
        requestedBy: requester.record.id,
      },
    };
  }

  const department = state.departments.get(toDepartmentId ?? '')?.value;
  if (!department || department.siteId !== chat.siteId) {
    throw new DomainError('DEPARTMENT_NOT_FOUND', `department ${toDepartmentId} not found`);
  }
  return {
    chatId: chat.id,
    siteId: chat.siteId,
    operatorId: null,
    departmentId: department.id,
    audit: {
      reason: 'transfer',
      explanation: `${by} to the queue of department "${department.name}"`,
      candidates: [],
      requestedBy: requester.record.id,
    },
  };
}

function requireParticipant(chat: ChatRecord, author: Author): void {
  if (author.kind === 'visitor' && chat.visitor?.id !== author.id) {
    throw new DomainError('FORBIDDEN', `chat ${chat.id} is not this visitor's chat`);
  }
  if (author.kind === 'operator' && chat.assignment?.operatorId !== author.id) {
    throw new DomainError('NOT_CHAT_OPERATOR', `chat ${chat.id} is not assigned to this operator`);
  }
}

/** The chat's visitor, its assigned operator or the system may close it, once. */
export function assertCanClose(
  state: ChatState,
  input: { chatId: string; by: Author; siteId: string },
): void {
  const chat = requireChat(state, input.chatId);
  requireSameSite(chat, input.siteId);
  requireParticipant(chat, input.by);
  if (chat.closed !== null) {
    throw new DomainError('CHAT_CLOSED', `chat ${chat.id} is already closed`);
  }
}

/** Only the chat's visitor rates it, once, after it was closed. */
export function assertCanRate(
  state: ChatState,
  input: { chatId: string; visitorId: string },
): void {
  const chat = requireChat(state, input.chatId);
  if (chat.visitor?.id !== input.visitorId) {
    throw new DomainError('FORBIDDEN', `chat ${chat.id} is not this visitor's chat`);
  }
  if (chat.closed === null) {
    throw new DomainError('CHAT_NOT_CLOSED', `chat ${chat.id} is not closed yet`);
  }
  if (chat.rating !== null) {
    throw new DomainError('ALREADY_RATED', `chat ${chat.id} was already rated`);
  }
}

/**
 * The chat's visitor and its assigned operator may post while it is open; the system may always
 * post (e.g. a closing notice).
 */
export function assertCanPostMessage(
  state: ChatState,
  input: { chatId: string; author: Author },
): void {
  const chat = requireChat(state, input.chatId);
  requireParticipant(chat, input.author);
  if (input.author.kind !== 'system' && chat.closed !== null) {
    throw new DomainError('CHAT_CLOSED', `chat ${chat.id} is closed`);
  }
}
