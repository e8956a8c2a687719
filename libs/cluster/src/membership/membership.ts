/**
 * Who is in the cluster right now, as this node sees it: every node sends a heartbeat every
 * second over the signal fan-out; a node is alive while its latest heartbeat is younger than the
 * deadline. Pure bookkeeping (time is passed in), so it is tested without a broker.
 */

/** A node's load, sampled when it sends its heartbeat. */
export interface NodeLoad {
  operatorSessions: number;
  visitorSessions: number;
  /** chats waiting or assigned in this node's replica */
  activeChats: number;
  /** mean event-loop delay over the last interval, ms */
  eventLoopLagMs: number;
  /** worst event-loop delay over the last interval, ms */
  eventLoopLagMaxMs: number;
  rssBytes: number;
  heapUsedBytes: number;
}

export const HEARTBEAT_SIGNAL = 'node.heartbeat';

export interface Heartbeat {
  /** unique per heartbeat (signals carry ids) */
  id: string;
  type: typeof HEARTBEAT_SIGNAL;
  node: string;
  /** unique per process start: tells a restarted node from the one before */
  instanceId: string;
  /** the app the process runs */
  app: 'master' | 'slave';
  /** wall ms when the process started */
  startedAt: number;
  /** wall ms when the heartbeat was sent */
  sentAt: number;
  /** 1, 2, 3, ... per instance */
  seq: number;
  /** state loaded and caught up, bus connected, not draining */
  ready: boolean;
  load: NodeLoad;
  /** worst delay between an event's clock and its application here over the last interval, ms */
  replicationLagMs: number;
  /** events from other nodes applied since start */
  appliedRemote: number;
  /**
   * The leadership epoch this node decides with (or is still handing over), null when it does not
   * lead. Optional so that a node of the previous version is understood during a rolling upgrade.
   */
  leaderEpoch?: number | null;
  /** the greatest leadership epoch this node has seen */
  epoch?: number;
}

export function isHeartbeat(value: unknown): value is Heartbeat {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<Heartbeat>;
  return (
    candidate.type === HEARTBEAT_SIGNAL &&
    typeof candidate.node === 'string' &&
    typeof candidate.instanceId === 'string' &&
    typeof candidate.sentAt === 'number' &&
    typeof candidate.load === 'object' &&
    candidate.load !== null
  );
}

export interface Member {
  node: string;
  /** position in `chat_server_node_names` (failover order) */
  rank: number;
  configuredMaster: boolean;
  alive: boolean;
  /** the latest heartbeat, or null if none was seen since this node started */
  last: Heartbeat | null;
  /** wall ms when the latest heartbeat arrived here */
  lastSeenAt: number | null;
}

export type HeartbeatVerdict =
  /** a configured node we had not seen alive (first heartbeat, or back after the deadline) */
  | 'joined'
  | 'alive'
  /** the same node name under another instance id while the previous one is still alive */
  | 'conflict'
  /** a node name that is not in the cluster file (another cluster sharing the prefix?) */
  | 'unknown-node'
  /** a heartbeat of this very process (own echo) */
  | 'self';

export class MembershipView {
  private readonly heartbeats = new Map<string, { heartbeat: Heartbeat; seenAt: number }>();
  private readonly ranks: Map<string, number>;

  constructor(
    private readonly self: { node: string; instanceId: string },
    private readonly nodeNames: readonly string[],
    private readonly masterNodeName: string,
    /** a node whose latest heartbeat is older than this is considered gone */
    private readonly deadlineMs: number,
  ) {
    this.ranks = new Map(nodeNames.map((name, index) => [name, index]));
  }

  /** Records a heartbeat that arrived at `nowMs` and says what it means. */
  record(heartbeat: Heartbeat, nowMs: number): HeartbeatVerdict {
    if (!this.ranks.has(heartbeat.node)) return 'unknown-node';
    if (heartbeat.node === this.self.node && heartbeat.instanceId === this.self.instanceId) {
      this.heartbeats.set(heartbeat.node, { heartbeat, seenAt: nowMs });
      return 'self';
    }
    const previous = this.heartbeats.get(heartbeat.node);
    const wasAlive = previous !== undefined && nowMs - previous.seenAt <= this.deadlineMs;
    if (
      heartbeat.node === this.self.node ||
      (wasAlive &&
        previous.heartbeat.instanceId !== heartbeat.instanceId &&
        previous.heartbeat.startedAt >= heartbeat.startedAt)
    ) {
      // Our own name from another process, or an older instance still talking while a newer one
      // runs: never let it replace what we know.
      return 'conflict';
    }
    this.heartbeats.set(heartbeat.node, { heartbeat, seenAt: nowMs });
    return wasAlive ? 'alive' : 'joined';
  }

  /** Every configured node in failover order, alive or not. */
  members(nowMs: number): Member[] {
    return this.nodeNames.map((node, rank) => {
      const seen = this.heartbeats.get(node);
      return {
        node,
        rank,
        configuredMaster: node === this.masterNodeName,
        alive:
          node === this.self.node || (seen !== undefined && nowMs - seen.seenAt <= this.deadlineMs),
        last: seen?.heartbeat ?? null,
        lastSeenAt: seen?.seenAt ?? null,
      };
    });
  }

  /** Live peers (not this node) that report themselves ready, in failover order. */
  readyPeers(nowMs: number): Member[] {
    return this.members(nowMs).filter(
      (member) => member.node !== this.self.node && member.alive && member.last?.ready === true,
    );
  }
}
