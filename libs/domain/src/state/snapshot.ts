/**
 * A node's whole replicated state as plain JSON, for catch-up: a node that starts (or comes back
 * after missing events) takes a snapshot from a live peer, restores it, then applies the events
 * that queued up meanwhile. The reducer is idempotent and order-tolerant, so events already in the
 * snapshot change nothing when they arrive again.
 */
import type { HlcStamp } from '../clock/hlc';
import type { Department, OperatorProfile, OperatorStatus, Site } from '../model/model';
import { resetIndexes } from './indexes';
import type { ChatRecord, ChatState, Stamped } from './state';

export const SNAPSHOT_VERSION = 1;

interface OperatorSnapshot {
  id: string;
  profile: Stamped<OperatorProfile> | null;
  status: Stamped<OperatorStatus> | null;
  sessionsOpened: [string, { nodeId: string; clock: HlcStamp }][];
  sessionsClosed: [string, HlcStamp][];
  lastAssignedAt: number | null;
}

export interface StateSnapshot {
  version: typeof SNAPSHOT_VERSION;
  sites: Stamped<Site>[];
  departments: Stamped<Department>[];
  operators: OperatorSnapshot[];
  chats: ChatRecord[];
}

/**
 * The state as JSON-ready data. It shares objects with the live state: serialise it at once
 * (before the next event is applied).
 */
export function snapshotState(state: ChatState): StateSnapshot {
  return {
    version: SNAPSHOT_VERSION,
    sites: [...state.sites.values()],
    departments: [...state.departments.values()],
    operators: [...state.operators.values()].map((operator) => ({
      id: operator.id,
      profile: operator.profile,
      status: operator.status,
      sessionsOpened: [...operator.sessionsOpened.entries()],
      sessionsClosed: [...operator.sessionsClosed.entries()],
      lastAssignedAt: operator.lastAssignedAt,
    })),
    chats: [...state.chats.values()],
  };
}

/** Thrown when a snapshot is not of a version or shape this build understands. */
export class SnapshotFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotFormatError';
  }
}

function isSnapshot(value: unknown): value is StateSnapshot {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const candidate = value as Partial<Record<keyof StateSnapshot, unknown>>;
  return (
    candidate.version === SNAPSHOT_VERSION &&
    Array.isArray(candidate.sites) &&
    Array.isArray(candidate.departments) &&
    Array.isArray(candidate.operators) &&
    Array.isArray(candidate.chats)
  );
}

/**
 * Replaces everything replicated in `target` with the snapshot (parsed JSON from a peer). The
 * node-local revision moves forward so clients see a change; derived indexes are rebuilt lazily.
 */
export function restoreSnapshot(target: ChatState, snapshot: unknown): void {
  if (!isSnapshot(snapshot)) {
    throw new SnapshotFormatError(
      `not a state snapshot of version ${SNAPSHOT_VERSION} (a node of another version?)`,
    );
  }
  target.sites = new Map(snapshot.sites.map((site) => [site.value.id, site]));
  target.departments = new Map(
    snapshot.departments.map((department) => [department.value.id, department]),
  );
  target.operators = new Map(
    snapshot.operators.map((operator) => [
      operator.id,
      {
        id: operator.id,
        profile: operator.profile,
        status: operator.status,
        sessionsOpened: new Map(operator.sessionsOpened),
        sessionsClosed: new Map(operator.sessionsClosed),
        lastAssignedAt: operator.lastAssignedAt,
      },
    ]),
  );
  target.chats = new Map(snapshot.chats.map((chat) => [chat.id, chat]));
  target.revision += 1;
  resetIndexes(target);
}
