/**
 * Who decides: the acting master. Pure bookkeeping over the membership view (time is passed in),
 * so every rule is unit-tested without a broker; `ClusterNode` carries out what it returns.
 *
 * The rules (reasons in docs/decisions.md, "Failover"):
 * - The **candidate** is the first node in `chat_server_node_names` order that is alive and ready.
 *   For this node, "alive" also needs a fresh lease: its own heartbeat came back through the
 *   broker recently. A node that was paused (SIGSTOP) or cut off has no fresh lease, so it can
 *   neither take over nor keep deciding when it resumes, until it has heard the cluster again.
 * - A candidate **takes over** only when no other live node still announces that it leads, with
 *   an epoch greater than every epoch it has seen (heartbeats and the chats' decisions).
 * - A leader **stands down** as soon as it is no longer the candidate (a better ranked node is back,
 *   or its own lease went stale) or a live node announces a greater epoch. It keeps announcing its
 *   epoch until its last decisions are confirmed by the broker, so the next leader, which waits
 *   for that announcement to stop, sees them before it decides anything.
 */
import { type Member } from './membership';

export type LeadershipPhase = 'follower' | 'taking-over' | 'leading' | 'standing-down';

export type LeadershipAction =
  { kind: 'none' } | { kind: 'take-over' } | { kind: 'stand-down'; reason: string };

export interface LeadershipInput {
  nowMs: number;
  /** the membership view's members, in failover order (this node included) */
  members: readonly Member[];
  /** this node's own checks: state loaded, bus connected, not draining */
  selfReady: boolean;
}

export interface LeadershipStatus {
  phase: LeadershipPhase;
  /** the epoch this node leads (or is handing over) with; null for a follower */
  epoch: number | null;
  /** the greatest epoch this node has seen anywhere */
  highestEpochSeen: number;
}

export class Leadership {
  private phase: LeadershipPhase = 'follower';
  private epoch: number | null = null;
  private highestSeen = 0;
  private lastEchoAt: number | null = null;

  constructor(
    private readonly self: string,
    private readonly options: {
      /** how long this node's own heartbeat echo stays a valid lease */
      leaseMs: number;
    },
  ) {}

  /** This node's own heartbeat came back through the broker at `nowMs`. */
  recordEcho(nowMs: number): void {
    this.lastEchoAt = nowMs;
  }

  /** An epoch seen in a heartbeat, a snapshot or a chat's decision. */
  observeEpoch(epoch: number | null | undefined): void {
    if (typeof epoch === 'number' && epoch > this.highestSeen) this.highestSeen = epoch;
  }

  /** True while this node's own heartbeats reach the broker and come back. */
  leaseFresh(nowMs: number): boolean {
    return this.lastEchoAt !== null && nowMs - this.lastEchoAt <= this.options.leaseMs;
  }

  /** May this node make a decision now, and with which epoch? Null: it must not decide. */
  decidingEpoch(nowMs: number): number | null {
    return this.phase === 'leading' && this.leaseFresh(nowMs) ? this.epoch : null;
  }

  status(): LeadershipStatus {
    return { phase: this.phase, epoch: this.epoch, highestEpochSeen: this.highestSeen };
  }

  /** What this node should do now; call on every heartbeat sent or received. */
  evaluate(input: LeadershipInput): LeadershipAction {
    for (const member of input.members) {
      this.observeEpoch(member.last?.epoch);
      this.observeEpoch(member.last?.leaderEpoch);
    }
    const candidate = this.candidate(input);
    if (this.phase === 'leading') {
      if (candidate !== this.self) {
        return {
          kind: 'stand-down',
          reason: candidate === null ? 'lease expired' : `${candidate} ranks higher`,
        };
      }
      const rival = this.otherLeaders(input).find((m) => (m.last?.leaderEpoch ?? 0) > this.own());
      if (rival) return { kind: 'stand-down', reason: `${rival.node} leads a greater epoch` };
      return { kind: 'none' };
    }
    if (this.phase !== 'follower' || candidate !== this.self) return { kind: 'none' };
    // Wait for the previous leader to hand over (or to be declared dead).
    return this.otherLeaders(input).length === 0 ? { kind: 'take-over' } : { kind: 'none' };
  }

  /** Take-over begins: no decisions yet, nothing announced. */
  beginTakeOver(): void {
    this.phase = 'taking-over';
  }

  /**
   * Take-over is done (everything the previous leader decided is applied here): lead with an
   * epoch above every epoch seen, including `stateMaxEpoch`, the greatest among the chats.
   */
  lead(stateMaxEpoch: number): number {
    this.observeEpoch(stateMaxEpoch);
    this.epoch = this.highestSeen + 1;
    this.highestSeen = this.epoch;
    this.phase = 'leading';
    return this.epoch;
  }

  /** Take-over failed (barrier timed out, broker lost): back to follower. */
  abortTakeOver(): void {
    if (this.phase === 'taking-over') this.phase = 'follower';
  }

  /** Stop deciding at once; keep announcing the epoch until {@link handedOver}. */
  beginStandDown(): void {
    if (this.phase === 'leading') this.phase = 'standing-down';
  }

  /** The last decisions are confirmed: stop announcing the epoch. */
  handedOver(): void {
    if (this.phase === 'standing-down') {
      this.phase = 'follower';
      this.epoch = null;
    }
  }

  /**
   * The node clients' decisions go to: the live node announcing the greatest epoch (this node
   * while it leads), else the candidate that is about to take over.
   */
  actingMaster(input: LeadershipInput): { node: string | null; epoch: number } {
    let best: { node: string; epoch: number } | null =
      this.phase === 'leading' && this.epoch !== null
        ? { node: this.self, epoch: this.epoch }
        : null;
    for (const member of this.otherLeaders(input)) {
      const epoch = member.last?.leaderEpoch ?? 0;
      if (!best || epoch > best.epoch) best = { node: member.node, epoch };
    }
    return best ?? { node: this.candidate(input), epoch: this.highestSeen };
  }

  private own(): number {
    return this.epoch ?? 0;
  }

  private candidate(input: LeadershipInput): string | null {
    for (const member of input.members) {
      if (member.node === this.self) {
        if (input.selfReady && this.leaseFresh(input.nowMs)) return this.self;
      } else if (member.alive && member.last?.ready === true) {
        return member.node;
      }
    }
    return null;
  }

  /** Live peers whose latest heartbeat announces a leadership epoch. */
  private otherLeaders(input: LeadershipInput): Member[] {
    return input.members.filter(
      (member) =>
        member.node !== this.self && member.alive && typeof member.last?.leaderEpoch === 'number',
    );
  }
}
