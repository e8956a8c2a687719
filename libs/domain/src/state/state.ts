/**
 * The whole live state every node holds in memory. Mutated only by `applyEvent` (reducer.ts).
 * Each field is a conflict-free register or set so that applying the same events in any order,
 * any number of times, yields the same state.
 */
import type { HlcStamp } from '../clock/hlc';
import type {
  AssignmentAuditEntry,
  ChatStatus,
  Department,
  Message,
  OperatorProfile,
  OperatorStatus,
  Site,
  Visitor,
} from '../model/model';
import type { Author } from '../model/model';

/** A value with the stamp of the event that set it (last writer wins by (clock, eventId)). */
export interface Stamped<T> {
  value: T;
  clock: HlcStamp;
  eventId: string;
}

export interface OperatorRecord {
  id: string;
  /** null until `operator.upserted` arrives (events may come out of order) */
  profile: Stamped<OperatorProfile> | null;
  status: Stamped<OperatorStatus> | null;
  /** open sessions: sessionId -> node name (a session is open if opened and not closed) */
  sessionsOpened: Map<string, { nodeId: string; clock: HlcStamp }>;
  sessionsClosed: Map<string, HlcStamp>;
  /** wall-clock ms of the latest assignment to this operator (max over events), for idle ties */
  lastAssignedAt: number | null;
}

export interface ChatAssignment {
  operatorId: string | null;
  departmentId: string | null;
  epoch: number;
  clock: HlcStamp;
  eventId: string;
}

export interface ChatRecord {
  id: string;
  siteId: string;
  /** false while only later events of the chat have arrived (out of order) */
  started: boolean;
  startedClock: HlcStamp | null;
  visitor: Visitor | null;
  fields: Record<string, string>;
  /** department the chat was started for */
  initialDepartmentId: string | null;
  /** event id of the `chat.started` kept (the smallest by (clock, eventId)), null until started */
  startedEventId?: string | null;
  /** latest decision by (epoch, clock, eventId) */
  assignment: ChatAssignment | null;
  /** every assignment decision ever applied, sorted by (clock, eventId) */
  audit: AssignmentAuditEntry[];
  closed: { by: Author; reason: string; clock: HlcStamp; eventId: string } | null;
  rating: { rating: number; comment: string | null; clock: HlcStamp; eventId: string } | null;
  /** sorted by (clock, id) */
  messages: Message[];
}

export interface ChatState {
  sites: Map<string, Stamped<Site>>;
  departments: Map<string, Stamped<Department>>;
  operators: Map<string, OperatorRecord>;
  chats: Map<string, ChatRecord>;
  /** incremented on every event that changed something; per node, not replicated */
  revision: number;
}

/** What an applied event changed, for pushing deltas to connected clients. */
export type StateChange =
  | { kind: 'site'; siteId: string }
  | { kind: 'department'; siteId: string; departmentId: string }
  | { kind: 'operator'; siteId: string; operatorId: string }
  | {
      kind: 'chat';
      siteId: string;
      chatId: string;
      /** how the chat stood before this event, so clients that held it can drop it */
      before?: { status: ChatStatus; operatorId: string | null };
    }
  | { kind: 'message'; siteId: string; chatId: string; messageId: string };

export interface ApplyResult {
  /** false when the event changed nothing (a duplicate, or superseded by a later write) */
  changed: boolean;
  changes: StateChange[];
}
