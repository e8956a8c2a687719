import { Leadership, type LeadershipInput } from './leadership';
import { type Heartbeat, HEARTBEAT_SIGNAL, type Member } from './membership';

const NAMES = ['master', 'slave1', 'slave2'];
const LEASE = 1500;
const NOW = 100_000;

interface Peer {
  alive?: boolean;
  ready?: boolean;
  leaderEpoch?: number | null;
  epoch?: number;
}

function heartbeat(node: string, peer: Peer): Heartbeat {
  return {
    id: `${node}-hb`,
    type: HEARTBEAT_SIGNAL,
    node,
    instanceId: `${node}-1`,
    app: node === 'master' ? 'master' : 'slave',
    startedAt: 0,
    sentAt: NOW,
    seq: 1,
    ready: peer.ready ?? true,
    load: {
      operatorSessions: 0,
      visitorSessions: 0,
      activeChats: 0,
      eventLoopLagMs: 0,
      eventLoopLagMaxMs: 0,
      rssBytes: 0,
      heapUsedBytes: 0,
    },
    replicationLagMs: 0,
    appliedRemote: 0,
    leaderEpoch: peer.leaderEpoch ?? null,
    epoch: peer.epoch ?? peer.leaderEpoch ?? 0,
  };
}

/** The view of `self`: peers as given (absent = never heard of), self always alive. */
function input(self: string, peers: Record<string, Peer>, selfReady = true): LeadershipInput {
  const members: Member[] = NAMES.map((node, rank) => {
    const peer = peers[node];
    const alive = node === self || (peer?.alive ?? peer !== undefined);
    return {
      node,
      rank,
      configuredMaster: node === 'master',
      alive,
      last: peer ? heartbeat(node, peer) : null,
      lastSeenAt: peer ? NOW : null,
    };
  });
  return { nowMs: NOW, members, selfReady };
}

/** A node that heard its own heartbeat come back just now. */
function node(name: string): Leadership {
  const sut = new Leadership(name, { leaseMs: LEASE });
  sut.recordEcho(NOW);
  return sut;
}

function elected(sut: Leadership, stateMaxEpoch = 0): number {
  sut.beginTakeOver();
  return sut.lead(stateMaxEpoch);
}

describe(`${Leadership.name}`, () => {
  it('makes the first ready node in the configured order the acting master', () => {
    const all = { master: {}, slave1: {}, slave2: {} };
    const master = node('master');
    expect(master.evaluate(input('master', all))).toEqual({ kind: 'take-over' });
    expect(node('slave1').evaluate(input('slave1', all))).toEqual({ kind: 'none' });
    expect(node('slave1').actingMaster(input('slave1', all)).node).toBe('master');
  });

  it('lets the next node in order take over when the master is dead, with a greater epoch', () => {
    const slave1 = node('slave1');
    const view = input('slave1', { master: { alive: false, leaderEpoch: 4 }, slave2: {} });
    expect(slave1.evaluate(view)).toEqual({ kind: 'take-over' });
    expect(node('slave2').evaluate(input('slave2', { slave1: {} }))).toEqual({ kind: 'none' });
    // Above every epoch seen: the dead master's 4 in its last heartbeat, 6 among the chats.
    expect(elected(slave1, 6)).toBe(7);
    expect(slave1.decidingEpoch(NOW)).toBe(7);
  });

  it('skips a live node that is not ready (still catching up)', () => {
    const slave2 = node('slave2');
    const view = input('slave2', { master: { alive: false }, slave1: { ready: false } });
    expect(slave2.evaluate(view)).toEqual({ kind: 'take-over' });
  });

  it('does not take over while another live node still announces that it leads', () => {
    const master = node('master');
    const view = input('master', { slave1: { leaderEpoch: 2 }, slave2: {} });
    expect(master.evaluate(view)).toEqual({ kind: 'none' });
    expect(master.actingMaster(view)).toEqual({ node: 'slave1', epoch: 2 });
    // Once slave1 has handed over (its heartbeat no longer announces an epoch), it does.
    const after = input('master', { slave1: { epoch: 2 }, slave2: {} });
    expect(master.evaluate(after)).toEqual({ kind: 'take-over' });
    expect(elected(master)).toBe(3);
  });

  it('hands the role back when a better ranked node returns, and stops deciding at once', () => {
    const slave1 = node('slave1');
    expect(elected(slave1, 1)).toBe(2);
    const back = input('slave1', { master: { epoch: 1 }, slave2: {} });
    expect(slave1.evaluate(back)).toEqual({ kind: 'stand-down', reason: 'master ranks higher' });
    slave1.beginStandDown();
    expect(slave1.decidingEpoch(NOW)).toBeNull();
    // Still announced until its last decisions are confirmed, then follower.
    expect(slave1.status()).toMatchObject({ phase: 'standing-down', epoch: 2 });
    slave1.handedOver();
    expect(slave1.status()).toEqual({ phase: 'follower', epoch: null, highestEpochSeen: 2 });
  });

  it('stands down when a live node announces a greater epoch', () => {
    const master = node('master');
    elected(master);
    const action = master.evaluate(input('master', { slave1: { leaderEpoch: 5 } }));
    expect(action).toEqual({ kind: 'stand-down', reason: 'slave1 leads a greater epoch' });
  });

  it('never decides on a stale lease: a paused leader is silent until its heartbeat comes back', () => {
    const master = node('master');
    elected(master);
    expect(master.decidingEpoch(NOW + LEASE)).toBe(1);
    // SIGSTOP for longer than the lease, then SIGCONT: timers fire before any echo arrived.
    const resumed = NOW + 10_000;
    expect(master.decidingEpoch(resumed)).toBeNull();
    // The echo of a heartbeat sent before the pause proves nothing (the lease runs from sentAt).
    master.recordEcho(NOW);
    expect(master.decidingEpoch(resumed)).toBeNull();
    // Meanwhile slave1 took over with epoch 2: the first fresh echo comes with that news.
    master.recordEcho(resumed);
    const view = { ...input('master', { slave1: { leaderEpoch: 2 } }), nowMs: resumed };
    expect(master.evaluate(view)).toMatchObject({ kind: 'stand-down' });
  });

  it('stands down when its own lease expires or it is not ready, and cannot take over then', () => {
    const master = node('master');
    elected(master);
    const late = { ...input('master', { slave1: {} }), nowMs: NOW + LEASE + 1 };
    expect(master.evaluate(late)).toMatchObject({ kind: 'stand-down' });
    const follower = node('master');
    expect(follower.evaluate(input('master', {}, false))).toEqual({ kind: 'none' });
    const noEcho = new Leadership('master', { leaseMs: LEASE });
    expect(noEcho.evaluate(input('master', {}))).toEqual({ kind: 'none' });
  });

  it('returns to follower when a take-over is aborted, and names no master when none is ready', () => {
    const master = node('master');
    master.beginTakeOver();
    expect(master.decidingEpoch(NOW)).toBeNull();
    master.abortTakeOver();
    expect(master.status().phase).toBe('follower');
    const lonely = input('slave2', { master: { alive: false }, slave1: { ready: false } }, false);
    expect(node('slave2').actingMaster(lonely)).toEqual({ node: null, epoch: 0 });
  });
});
