/** Local housekeeping (not events): forgets what no longer needs to be held in memory. */
import { compareStamps, stampWallMs } from '../clock/hlc';
import type { ChatState } from './state';

/**
 * Removes closed chats whose close stamp's wall time is before `olderThanMs`, an absolute
 * wall-clock cutoff in ms (e.g. `Date.now() - retentionMs`). Returns how many were removed.
 */
export function evictClosedChats(state: ChatState, olderThanMs: number): number {
  let evicted = 0;
  for (const [chatId, chat] of state.chats) {
    if (chat.closed !== null && stampWallMs(chat.closed.clock) < olderThanMs) {
      state.chats.delete(chatId);
      evicted += 1;
    }
  }
  // Closed chats hold no load, so the load index stays valid; nothing else to reset.
  return evicted;
}

/**
 * Forgets closed-session tombstones closed before `olderThanMs` (absolute wall ms), keeping the
 * latest one of each operator (it dates their absence). Returns how many were removed.
 */
export function pruneSessionTombstones(state: ChatState, olderThanMs: number): number {
  let pruned = 0;
  for (const op of state.operators.values()) {
    let latestId: string | null = null;
    let latestClock: string | null = null;
    for (const [sessionId, clock] of op.sessionsClosed) {
      if (latestClock === null || compareStamps(clock, latestClock) > 0) {
        latestId = sessionId;
        latestClock = clock;
      }
    }
    for (const [sessionId, clock] of op.sessionsClosed) {
      if (sessionId !== latestId && stampWallMs(clock) < olderThanMs) {
        op.sessionsClosed.delete(sessionId);
        pruned += 1;
      }
    }
  }
  return pruned;
}
