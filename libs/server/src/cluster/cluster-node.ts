import { Logger } from '@nestjs/common';
import {
  type AppName,
  type ClusterConfig,
  type Heartbeat,
  HEARTBEAT_SIGNAL,
  isHeartbeat,
  Leadership,
  type LeadershipInput,
  type Member,
  MembershipView,
  type NodeConfig,
  type NodeLoad,
} from '@chat/cluster';
import {
  maxAssignmentEpoch,
  newId,
  snapshotState,
  stateDigest,
  type StateSource,
} from '@chat/domain';
import { type ClusterBus, type NodeRpc } from '@chat/messaging';
import { parseInput } from '../http/parse';
import { type AutoAssigner } from '../runtime/auto-assigner';
import { ApiError } from '../use-cases/api-error';
import { type ChatRuntime } from '../runtime/chat-runtime';
import { type NodeHealth } from '../runtime/node-health';
import { type LiveBroadcaster } from '../ws/live-broadcaster';
import { DECISION_METHODS, takeRequestSchema, transferRequestSchema } from './decision-schemas';
import { LoadSampler } from './load-sampler';

export interface CatchUpResult {
  source: 'peer' | 'database' | 'none';
  peer: string | null;
  /** events that queued up while the snapshot was taken, applied after it */
  queued: number;
  ms: number;
}

export interface NodeStatus {
  node: string;
  role: 'master' | 'slave';
  configuredMaster: boolean;
  alive: boolean;
  ready: boolean | null;
  app: AppName | null;
  instanceId: string | null;
  startedAt: number | null;
  lastHeartbeatAgoMs: number | null;
  load: NodeLoad | null;
  replicationLagMs: number | null;
  appliedRemote: number | null;
  digest: string | null;
  revision: number | null;
  chats: number | null;
  /** why the digest is missing, when a live node did not answer */
  error?: string;
}

export interface ClusterStatus {
  cluster: string;
  reportedBy: string;
  actingMaster: { node: string | null; epoch: number };
  /** true when every live node reported the same state digest */
  converged: boolean;
  /** the reporting node's own part in the election */
  leadership: { phase: string; epoch: number | null };
  nodes: NodeStatus[];
}

interface DigestReply {
  digest: string;
  revision: number;
  chats: number;
}

export interface ClusterNodeDeps {
  config: NodeConfig;
  cluster: ClusterConfig;
  app: AppName;
  instanceId: string;
  runtime: ChatRuntime;
  bus: ClusterBus;
  rpc: NodeRpc;
  stateSource: StateSource;
  broadcaster: LiveBroadcaster;
  health: NodeHealth;
  /** who decides; shared with this node's `AutoAssigner`, which asks it for the epoch */
  leadership: Leadership;
  /** this node's decider: it decides only while `leadership` says this node leads */
  decider: AutoAssigner;
}

/**
 * This node's part in the cluster: heartbeats and the membership view, leadership (take-over and
 * hand-over of the acting master's role), catch-up (a snapshot from a live peer, else the
 * database), the RPC methods peers call (snapshot, digest, decisions), and the cluster status.
 */
export class ClusterNode {
  readonly membership: MembershipView;
  private readonly logger = new Logger(ClusterNode.name);
  private readonly sampler = new LoadSampler();
  private readonly startedAt = Date.now();
  private timer: NodeJS.Timeout | null = null;
  private seq = 0;
  private catchingUp: Promise<CatchUpResult> | null = null;
  /** a take-over or hand-over in progress */
  private transition: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly deps: ClusterNodeDeps) {
    const { cluster, instanceId, config } = deps;
    this.membership = new MembershipView(
      { node: cluster.nodeName, instanceId },
      cluster.nodeNames,
      cluster.masterNodeName,
      config.membership.deadlineMs,
    );
  }

  get nodeName(): string {
    return this.deps.cluster.nodeName;
  }

  get isMaster(): boolean {
    return this.deps.cluster.nodeName === this.deps.cluster.masterNodeName;
  }

  /**
   * The node that decides now: the live node announcing the greatest epoch, else the node about
   * to take over (null when no node is ready). See `Leadership`.
   */
  actingMaster(): { node: string | null; epoch: number } {
    return this.deps.leadership.actingMaster(this.leadershipInput(Date.now()));
  }

  /** True while this node leads with a fresh lease (its decisions count). */
  isDeciding(): boolean {
    return this.deps.leadership.decidingEpoch(Date.now()) !== null;
  }

  /** RPC methods and the heartbeat listener; call before the transports start. */
  register(): void {
    const { rpc, bus, runtime } = this.deps;
    bus.subscribeSignals((signal) => {
      if (isHeartbeat(signal)) this.onHeartbeat(signal);
    });
    rpc.handle('state.snapshot', async () => {
      if (runtime.catchingUp || !this.deps.health.checks()['state']) {
        throw new ApiError('UNAVAILABLE', `${this.nodeName} is catching up itself`);
      }
      await runtime.barrier(this.deps.config.membership.catchUpTimeoutMs);
      return snapshotState(runtime.state);
    });
    rpc.handle('state.digest', (): DigestReply => this.digest());
    rpc.handle(DECISION_METHODS.take, (payload) => {
      const request = parseInput(takeRequestSchema, payload);
      return this.requireDecider().take(request);
    });
    rpc.handle(DECISION_METHODS.transfer, (payload) => {
      const request = parseInput(transferRequestSchema, payload);
      return this.requireDecider().transfer({
        requestedBy: request.requestedBy,
        chatId: request.chatId,
        ...(request.toOperatorId !== undefined ? { toOperatorId: request.toOperatorId } : {}),
        ...(request.toDepartmentId !== undefined ? { toDepartmentId: request.toDepartmentId } : {}),
      });
    });
  }

  startHeartbeats(): void {
    if (this.timer) return;
    this.sampler.start();
    this.beat();
    this.timer = setInterval(() => this.beat(), this.deps.config.membership.heartbeatIntervalMs);
    this.timer.unref();
  }

  stopHeartbeats(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.sampler.stop();
  }

  /**
   * Shutdown: stop deciding and stop announcing leadership at once, so the next node in order
   * takes over without waiting for the deadline (a rolling restart hands over in moments).
   */
  async resign(): Promise<void> {
    const { leadership } = this.deps;
    leadership.abortTakeOver();
    if (leadership.status().phase !== 'leading') return;
    await this.standDown('shutting down');
  }

  /** Waits long enough to have heard every live peer's heartbeat at least once. */
  async discoverPeers(): Promise<Member[]> {
    const waitMs = Math.round(this.deps.config.membership.heartbeatIntervalMs * 1.5);
    await new Promise((resolve) => setTimeout(resolve, waitMs));
    return this.membership.readyPeers(Date.now());
  }

  /**
   * Catch-up: hold arriving events, take a snapshot from the master or another ready peer (the
   * peer first lets everything routed to it before the request through: see
   * `ChatRuntime.barrier`), restore it, then apply what queued meanwhile. With no peer answering,
   * a starting node loads the active state from PostgreSQL; a reconnecting one keeps its own.
   */
  catchUp(reason: 'start' | 'reconnect'): Promise<CatchUpResult> {
    this.catchingUp ??= this.runCatchUp(reason).finally(() => {
      this.catchingUp = null;
    });
    return this.catchingUp;
  }

  /** The cluster as this node sees it, with every live node's digest asked for now. */
  async status(): Promise<ClusterStatus> {
    const now = Date.now();
    const members = this.membership.members(now);
    const acting = this.actingMaster();
    const nodes = await Promise.all(
      members.map(async (member): Promise<NodeStatus> => {
        const base = this.memberStatus(member, now, acting.node);
        if (!member.alive) return base;
        try {
          const reply =
            member.node === this.nodeName
              ? this.digest()
              : await this.deps.rpc.request<DigestReply>(
                  member.node,
                  'state.digest',
                  {},
                  {
                    timeoutMs: 2000,
                  },
                );
          return { ...base, digest: reply.digest, revision: reply.revision, chats: reply.chats };
        } catch (error) {
          return { ...base, error: error instanceof Error ? error.message : String(error) };
        }
      }),
    );
    const live = nodes.filter((node) => node.alive);
    const leading = this.deps.leadership.status();
    const converged =
      live.length > 0 &&
      live.every((node) => node.digest !== null && node.digest === live[0]?.digest);
    return {
      cluster: this.deps.cluster.clusterName,
      reportedBy: this.nodeName,
      actingMaster: acting,
      converged,
      leadership: { phase: leading.phase, epoch: leading.epoch },
      nodes,
    };
  }

  private async runCatchUp(reason: 'start' | 'reconnect'): Promise<CatchUpResult> {
    const { runtime } = this.deps;
    const started = Date.now();
    runtime.holdIncoming();
    let source: Pick<CatchUpResult, 'source' | 'peer'>;
    let queued = 0;
    try {
      source = await this.loadSnapshotOrDatabase(reason);
    } finally {
      // Even when loading failed: never leave the bus's events held for ever.
      queued = runtime.releaseIncoming();
    }
    const result: CatchUpResult = { ...source, queued, ms: Date.now() - started };
    this.logger.log({ reason, ...result, chats: runtime.state.chats.size }, 'caught up');
    return result;
  }

  /** The first peer snapshot that arrives; else, at start, the database; else nothing. */
  private async loadSnapshotOrDatabase(
    reason: 'start' | 'reconnect',
  ): Promise<Pick<CatchUpResult, 'source' | 'peer'>> {
    const { runtime, rpc, config } = this.deps;
    for (const peer of this.snapshotSources()) {
      try {
        const timeoutMs = config.membership.catchUpTimeoutMs;
        runtime.restore(await rpc.request(peer, 'state.snapshot', {}, { timeoutMs }));
        return { source: 'peer', peer };
      } catch (error) {
        this.logger.warn(
          { err: error, peer, reason },
          'snapshot from peer failed; trying the next',
        );
      }
    }
    if (reason === 'reconnect') return { source: 'none', peer: null };
    const events = await this.deps.stateSource.loadEvents({
      closedWithinMs: config.closedChatRetentionMs,
      nowMs: Date.now(),
    });
    runtime.replay(events);
    return { source: 'database', peer: null };
  }

  /** The acting master first, then the other ready peers in failover order. */
  private snapshotSources(): string[] {
    const peers = this.membership.readyPeers(Date.now()).map((member) => member.node);
    const master = this.actingMaster().node;
    return master !== null && peers.includes(master)
      ? [master, ...peers.filter((p) => p !== master)]
      : peers;
  }

  private requireDecider(): AutoAssigner {
    if (!this.isDeciding()) {
      throw new ApiError('UNAVAILABLE', `${this.nodeName} is not the acting master`);
    }
    return this.deps.decider;
  }

  private digest(): DigestReply {
    const state = this.deps.runtime.state;
    return { digest: stateDigest(state), revision: state.revision, chats: state.chats.size };
  }

  /**
   * At start, after catch-up: sessions recorded under this node's name belong to a previous life
   * of it (a crash, a restart quicker than the deadline); nobody else would ever close them.
   */
  async closeOwnStaleSessions(): Promise<number> {
    const stale = this.sessionsOf((node) => node === this.nodeName);
    await Promise.all(stale.map((session) => this.closeSession(session)));
    return stale.length;
  }

  /**
   * The acting master closes the sessions of nodes that stopped sending heartbeats (killed, cut
   * off): their operators then count as disconnected, and the grace period decides what happens
   * to their chats. A node never heard of since this node started counts as gone only once this
   * node has been up for a whole deadline.
   */
  reapSessionsOfDeadNodes(nowMs: number): number {
    if (!this.isDeciding() || this.deps.runtime.catchingUp) return 0;
    const upLongEnough = nowMs - this.startedAt > this.deps.config.membership.deadlineMs;
    const members = new Map(this.membership.members(nowMs).map((m) => [m.node, m]));
    const dead = (node: string): boolean => {
      if (node === this.nodeName) return false;
      const member = members.get(node);
      if (!member) return true; // a name no longer in the cluster file
      return !member.alive && (member.lastSeenAt !== null || upLongEnough);
    };
    const sessions = this.sessionsOf(dead);
    for (const session of sessions) {
      this.logger.warn(session, 'closing the session of a node that stopped sending heartbeats');
      this.closeSession(session).catch((error: unknown) =>
        this.logger.error({ err: error, ...session }, 'closing a dead node session failed'),
      );
    }
    return sessions.length;
  }

  private sessionsOf(
    nodeMatches: (node: string) => boolean,
  ): { operatorId: string; siteId: string; sessionId: string; nodeId: string }[] {
    const found: { operatorId: string; siteId: string; sessionId: string; nodeId: string }[] = [];
    for (const operator of this.deps.runtime.state.operators.values()) {
      const siteId = operator.profile?.value.siteId;
      if (siteId === undefined) continue;
      for (const [sessionId, { nodeId }] of operator.sessionsOpened) {
        if (nodeMatches(nodeId)) found.push({ operatorId: operator.id, siteId, sessionId, nodeId });
      }
    }
    return found;
  }

  private async closeSession(session: {
    operatorId: string;
    siteId: string;
    sessionId: string;
    nodeId: string;
  }): Promise<void> {
    await this.deps.runtime.commit('operator.session.closed', session);
  }

  private beat(): void {
    const { runtime, broadcaster, health, bus, app, instanceId } = this.deps;
    let activeChats = 0;
    for (const chat of runtime.state.chats.values()) if (chat.closed === null) activeChats += 1;
    const replication = runtime.replicationStats();
    const heartbeat: Heartbeat = {
      id: newId(),
      type: HEARTBEAT_SIGNAL,
      node: this.nodeName,
      instanceId,
      app,
      startedAt: this.startedAt,
      sentAt: Date.now(),
      seq: ++this.seq,
      ready: Object.values(health.checks()).every(Boolean),
      load: this.sampler.sample({
        operatorSessions: broadcaster.operatorSessionCount,
        visitorSessions: broadcaster.visitorSessionCount,
        activeChats,
      }),
      replicationLagMs: replication.lagMs,
      appliedRemote: replication.appliedRemote,
      leaderEpoch: this.deps.leadership.status().epoch,
      epoch: this.deps.leadership.status().highestEpochSeen,
    };
    this.membership.record(heartbeat, Date.now());
    bus.publishSignal(heartbeat);
    this.evaluateLeadership();
    if (heartbeat.ready) this.reapSessionsOfDeadNodes(Date.now());
  }

  private onHeartbeat(heartbeat: Heartbeat): void {
    const verdict = this.membership.record(heartbeat, Date.now());
    if (verdict === 'self' && heartbeat.instanceId === this.deps.instanceId) {
      // The lease runs from when the heartbeat was sent, not when it came back: the echo of a
      // heartbeat sent before a pause (SIGSTOP) must not look fresh after it.
      this.deps.leadership.recordEcho(heartbeat.sentAt);
    }
    this.evaluateLeadership();
    if (verdict === 'joined') {
      this.logger.log({ node: heartbeat.node, instanceId: heartbeat.instanceId }, 'node joined');
    } else if (verdict === 'conflict') {
      this.logger.error(
        { node: heartbeat.node, instanceId: heartbeat.instanceId },
        'two processes claim one node name; ignoring the other one',
      );
    }
  }

  private leadershipInput(nowMs: number): LeadershipInput {
    return {
      nowMs,
      members: this.membership.members(nowMs),
      selfReady:
        !this.stopped &&
        !this.deps.runtime.catchingUp &&
        Object.values(this.deps.health.checks()).every(Boolean),
    };
  }

  /** Asks the election what to do and starts it (one take-over or hand-over at a time). */
  private evaluateLeadership(): void {
    if (this.transition || this.stopped) return;
    const action = this.deps.leadership.evaluate(this.leadershipInput(Date.now()));
    if (action.kind === 'none') return;
    const run = action.kind === 'take-over' ? this.takeOver() : this.standDown(action.reason);
    this.transition = run
      .catch((error: unknown) => this.logger.error({ err: error }, 'leadership change failed'))
      .finally(() => {
        this.transition = null;
      });
  }

  /**
   * Become the acting master: first apply everything routed to this node so far (the previous
   * leader's last decisions among it: it announced its hand-over only once they were confirmed),
   * then lead with an epoch above every epoch seen, fence the held chats, and decide.
   */
  private async takeOver(): Promise<void> {
    const { leadership, runtime, decider, config } = this.deps;
    leadership.beginTakeOver();
    const started = Date.now();
    try {
      await runtime.barrier(config.membership.catchUpTimeoutMs);
    } catch (error) {
      leadership.abortTakeOver();
      throw error;
    }
    if (this.stopped || !this.deps.health.checks()['bus']) {
      leadership.abortTakeOver();
      return;
    }
    const epoch = leadership.lead(maxAssignmentEpoch(runtime.state));
    const fenced = decider.fence(epoch);
    decider.kick();
    this.beat();
    this.logger.warn(
      { epoch, fenced: await fenced, ms: Date.now() - started },
      'took over as acting master',
    );
  }

  /** Stop deciding now; announce the hand-over once this node's last decisions are confirmed. */
  private async standDown(reason: string): Promise<void> {
    const { leadership, runtime, config } = this.deps;
    const epoch = leadership.status().epoch;
    leadership.beginStandDown();
    const drained = await runtime.drain(config.membership.catchUpTimeoutMs);
    leadership.handedOver();
    this.beat();
    this.logger.warn({ epoch, reason, drained }, 'stood down as acting master');
  }

  private memberStatus(member: Member, now: number, actingMaster: string | null): NodeStatus {
    const last = member.last;
    return {
      node: member.node,
      role: member.node === actingMaster ? 'master' : 'slave',
      configuredMaster: member.configuredMaster,
      alive: member.alive,
      ready: last?.ready ?? null,
      app: last?.app ?? null,
      instanceId: last?.instanceId ?? null,
      startedAt: last?.startedAt ?? null,
      lastHeartbeatAgoMs: member.lastSeenAt === null ? null : now - member.lastSeenAt,
      load: last?.load ?? null,
      replicationLagMs: last?.replicationLagMs ?? null,
      appliedRemote: last?.appliedRemote ?? null,
      digest: null,
      revision: null,
      chats: null,
    };
  }
}
