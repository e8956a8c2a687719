import { type Heartbeat, HEARTBEAT_SIGNAL, isHeartbeat, MembershipView } from './membership';

const LOAD = {
  operatorSessions: 0,
  visitorSessions: 0,
  activeChats: 0,
  eventLoopLagMs: 0,
  eventLoopLagMaxMs: 0,
  rssBytes: 0,
  heapUsedBytes: 0,
};

function heartbeat(node: string, instanceId: string, extra: Partial<Heartbeat> = {}): Heartbeat {
  return {
    id: `${node}-${instanceId}-${extra.seq ?? 1}`,
    type: HEARTBEAT_SIGNAL,
    node,
    instanceId,
    app: node === 'master' ? 'master' : 'slave',
    startedAt: 1000,
    sentAt: 2000,
    seq: 1,
    ready: true,
    load: LOAD,
    replicationLagMs: 0,
    appliedRemote: 0,
    ...extra,
  };
}

describe(`${MembershipView.name}`, () => {
  const view = (): MembershipView =>
    new MembershipView(
      { node: 'slave1', instanceId: 'me' },
      ['master', 'slave1', 'slave2'],
      'master',
      3000,
    );

  it('knows a node alive from its first heartbeat until the deadline passes', () => {
    const membership = view();
    expect(membership.record(heartbeat('master', 'a'), 10_000)).toBe('joined');
    expect(membership.record(heartbeat('master', 'a', { seq: 2 }), 11_000)).toBe('alive');
    const alive = (now: number) => membership.members(now).find((m) => m.node === 'master')?.alive;
    expect(alive(14_000)).toBe(true);
    expect(alive(14_001)).toBe(false);
    // back after the deadline: joined again
    expect(membership.record(heartbeat('master', 'b', { startedAt: 13_000 }), 20_000)).toBe(
      'joined',
    );
  });

  it('lists members in failover order with the configured master marked; self is always alive', () => {
    const members = view().members(0);
    expect(members.map((m) => [m.node, m.rank, m.configuredMaster, m.alive])).toEqual([
      ['master', 0, true, false],
      ['slave1', 1, false, true],
      ['slave2', 2, false, false],
    ]);
  });

  it('flags its own name from another process as a conflict and ignores it', () => {
    const membership = view();
    expect(membership.record(heartbeat('slave1', 'me'), 1)).toBe('self');
    expect(membership.record(heartbeat('slave1', 'intruder'), 2)).toBe('conflict');
    expect(membership.members(3).find((m) => m.node === 'slave1')?.last?.instanceId).toBe('me');
  });

  it('keeps the newer instance of a peer when an older one still talks', () => {
    const membership = view();
    membership.record(heartbeat('slave2', 'new', { startedAt: 5000 }), 10_000);
    expect(membership.record(heartbeat('slave2', 'old', { startedAt: 1000 }), 10_500)).toBe(
      'conflict',
    );
    expect(membership.members(10_600).find((m) => m.node === 'slave2')?.last?.instanceId).toBe(
      'new',
    );
  });

  it('ignores node names that are not in the cluster file', () => {
    const membership = view();
    expect(membership.record(heartbeat('stranger', 'x'), 1)).toBe('unknown-node');
    expect(membership.members(1).map((m) => m.node)).not.toContain('stranger');
  });

  it('offers only live, ready peers as snapshot sources, in failover order', () => {
    const membership = view();
    membership.record(heartbeat('slave2', 'b'), 1000);
    membership.record(heartbeat('master', 'a', { ready: false }), 1000);
    expect(membership.readyPeers(1500).map((m) => m.node)).toEqual(['slave2']);
    membership.record(heartbeat('master', 'a', { seq: 2, ready: true }), 2000);
    expect(membership.readyPeers(2500).map((m) => m.node)).toEqual(['master', 'slave2']);
    expect(membership.readyPeers(4500).map((m) => m.node)).toEqual(['master']);
  });

  it('recognises heartbeats among other signals', () => {
    expect(isHeartbeat(heartbeat('master', 'a'))).toBe(true);
    expect(isHeartbeat({ id: 'x', type: 'typing', chatId: 'c' })).toBe(false);
    expect(isHeartbeat(null)).toBe(false);
  });
});
