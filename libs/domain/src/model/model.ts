/**
 * Core domain model: the configuration (sites, departments, operators) and the live chat state.
 * Everything here is plain data; the reducer in `../state` is the only code that changes it.
 */
import type { HlcStamp } from '../clock/hlc';

export type OperatorStatus = 'online' | 'away' | 'offline';
export const OPERATOR_STATUSES: readonly OperatorStatus[] = ['online', 'away', 'offline'];

export type ChatStatus = 'waiting' | 'assigned' | 'closed';

export interface Site {
  id: string;
  name: string;
}

export interface Department {
  id: string;
  siteId: string;
  name: string;
}

/** An operator's configuration as the admin set it. The password hash never leaves the server. */
export interface OperatorProfile {
  id: string;
  siteId: string;
  name: string;
  email: string;
  passwordHash: string;
  departmentIds: string[];
  maxChats: number;
  disabled: boolean;
}

export type AuthorKind = 'visitor' | 'operator' | 'system';

export interface Author {
  kind: AuthorKind;
  /** visitor id, operator id, or null for the system */
  id: string | null;
  name: string;
}

export interface Visitor {
  id: string;
  name: string;
  email: string | null;
}

export interface Message {
  /** server id (UUIDv7), made by the node that accepted the message */
  id: string;
  chatId: string;
  /** the sending client's own id, unique per author and chat: the idempotency key */
  clientMessageId: string;
  author: Author;
  text: string;
  clock: HlcStamp;
}

/** Why the assignment policy chose an operator: kept with the chat for audit. */
export interface AssignmentCandidate {
  operatorId: string;
  load: number;
  maxChats: number;
  /** wall-clock ms of the operator's last assignment, or null if never assigned */
  lastAssignedAt: number | null;
  inDepartment: boolean;
}

/**
 * `fence`: a new acting master re-asserts an existing assignment under its own epoch, so that a
 * late decision of a deposed master (lower epoch) can never win over it.
 */
export type AssignmentReason = 'auto' | 'manual' | 'transfer' | 'requeue' | 'fence';

export interface AssignmentAudit {
  reason: AssignmentReason;
  /** human-readable explanation, e.g. "least loaded (1/3) in department Sales" */
  explanation: string;
  /** operators considered, in the order the policy ranked them */
  candidates: AssignmentCandidate[];
  /** operator who asked for this (manual take, transfer), if any */
  requestedBy: string | null;
}

export interface AssignmentAuditEntry extends AssignmentAudit {
  eventId: string;
  clock: HlcStamp;
  operatorId: string | null;
  departmentId: string | null;
}
