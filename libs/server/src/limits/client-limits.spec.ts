import { Logger } from '@nestjs/common';
import { loadNodeConfig, type NodeConfig } from '@chat/cluster';
import { Metrics } from '../metrics/metrics';
import { ApiError } from '../use-cases/api-error';
import { ClientIpResolver } from './client-ip';
import { ClientLimits, type ConnectionLease, isRefusal, type Refusal } from './client-limits';
import { limitBudgets } from './rate-limits';

const OFF: NodeConfig['limits'] = {
  socketEventsPerSecond: 0,
  ipEventsPerSecond: 0,
  chatMessagesPerMinute: 0,
  ipConnections: 0,
  ipConnectionCountTtlSeconds: 60,
  chatStartsPerMinute: 0,
  offlineMessagesPerMinute: 0,
  loginsPerMinute: 0,
};

function limitsWith(
  budgets: Partial<NodeConfig['limits']>,
  metrics: Metrics | null = null,
): ClientLimits {
  return new ClientLimits({
    budgets: limitBudgets({ ...OFF, ...budgets }),
    ips: new ClientIpResolver(['loopback']),
    metrics,
  });
}

async function consumeTimes(
  limits: ClientLimits,
  name: Parameters<ClientLimits['consume']>[0],
  key: string,
  times: number,
): Promise<(Refusal | null)[]> {
  const results: (Refusal | null)[] = [];
  for (let i = 0; i < times; i++) results.push(await limits.consume(name, key));
  return results;
}

function leaseOf(result: ConnectionLease | Refusal): ConnectionLease {
  if (isRefusal(result)) throw new Error(`refused: ${result.message}`);
  return result;
}

describe('ClientLimits (memory)', () => {
  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  it('allows each key its own budget, then refuses with the time until the window ends', async () => {
    const sut = limitsWith({ chatStartsPerMinute: 3 });
    const first = await consumeTimes(sut, 'chatStarts', '203.0.113.1', 5);
    expect(first.slice(0, 3)).toEqual([null, null, null]);
    expect(first[3]).toMatchObject({ limit: 'chatStarts' });
    expect(first[3]?.retryAfterMs).toBeGreaterThan(55_000);
    expect(first[3]?.retryAfterMs).toBeLessThanOrEqual(60_000);
    expect(first[3]?.message).toMatch(
      /too many chats started from this address: at most 3 per minute/,
    );
    // another address is not affected
    await expect(consumeTimes(sut, 'chatStarts', '203.0.113.2', 3)).resolves.toEqual([
      null,
      null,
      null,
    ]);
  });

  it('gives the budget back when the window is over', async () => {
    jest.useFakeTimers({ now: 1_000_000 });
    const sut = limitsWith({ socketEventsPerSecond: 2 });
    const burst = await consumeTimes(sut, 'socketEvents', 'socket-a', 3);
    expect(burst.map((r) => r === null)).toEqual([true, true, false]);
    jest.advanceTimersByTime(1001);
    await expect(sut.consume('socketEvents', 'socket-a')).resolves.toBeNull();
  });

  it('turns a limit with budget 0 off: nothing is ever refused or counted', async () => {
    const metrics = new Metrics('test');
    const sut = limitsWith({ chatStartsPerMinute: 1 }, metrics);
    expect(sut.enabled('chatStarts')).toBe(true);
    expect(sut.enabled('socketEvents')).toBe(false);
    expect(sut.enabled('ipConnections')).toBe(false);
    const results = await consumeTimes(sut, 'socketEvents', 'socket-a', 1000);
    expect(results.every((r) => r === null)).toBe(true);
    const leases = await Promise.all(
      Array.from({ length: 100 }, () => sut.acquireConnection('203.0.113.1')),
    );
    expect(leases.some(isRefusal)).toBe(false);
    expect(await metrics.registry.getSingleMetricAsString('chat_rate_limited_total')).not.toMatch(
      /limit="socketEvents"/,
    );
  });

  it('counts each refusal in chat_rate_limited_total by limit', async () => {
    const metrics = new Metrics('test');
    const sut = limitsWith({ loginsPerMinute: 1 }, metrics);
    await consumeTimes(sut, 'logins', '203.0.113.1', 4);
    const text = await metrics.registry.getSingleMetricAsString('chat_rate_limited_total');
    expect(text).toMatch(/chat_rate_limited_total\{limit="logins",node="test"\} 3/);
  });

  it('admit() throws RATE_LIMITED with retryAfterMs in the details', async () => {
    const sut = limitsWith({ chatMessagesPerMinute: 1 });
    await expect(sut.admit('chatMessages', 'chat-1')).resolves.toBeUndefined();
    const refused = await sut.admit('chatMessages', 'chat-1').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({
      code: 'RATE_LIMITED',
      details: { limit: 'chatMessages', retryAfterMs: expect.any(Number) as unknown },
    });
  });

  describe('connection counter', () => {
    it('refuses connections over the budget and takes a place back on release', async () => {
      const metrics = new Metrics('test');
      const sut = limitsWith({ ipConnections: 2 }, metrics);
      const a = leaseOf(await sut.acquireConnection('203.0.113.1'));
      leaseOf(await sut.acquireConnection('203.0.113.1'));
      const third = await sut.acquireConnection('203.0.113.1');
      expect(third).toMatchObject({ limit: 'ipConnections', retryAfterMs: null });
      // refused attempts do not use places up
      expect(isRefusal(await sut.acquireConnection('203.0.113.1'))).toBe(true);
      // another address has its own count
      leaseOf(await sut.acquireConnection('203.0.113.2'));

      await a.release();
      await a.release(); // a second release gives nothing back
      leaseOf(await sut.acquireConnection('203.0.113.1'));
      expect(isRefusal(await sut.acquireConnection('203.0.113.1'))).toBe(true);
      const text = await metrics.registry.getSingleMetricAsString('chat_rate_limited_total');
      expect(text).toMatch(/limit="ipConnections",node="test"\} 3/);
    });

    it('forgets the count when it expires, and does not give back what was counted before', async () => {
      jest.useFakeTimers({ now: 1_000_000 });
      const sut = limitsWith({ ipConnections: 2, ipConnectionCountTtlSeconds: 10 });
      const old = leaseOf(await sut.acquireConnection('203.0.113.1'));
      leaseOf(await sut.acquireConnection('203.0.113.1'));
      expect(isRefusal(await sut.acquireConnection('203.0.113.1'))).toBe(true);

      jest.advanceTimersByTime(10_001);
      // a new count: two places again
      leaseOf(await sut.acquireConnection('203.0.113.1'));
      leaseOf(await sut.acquireConnection('203.0.113.1'));
      // the old connection goes: its count is gone already, so nothing is given back
      await old.release();
      expect(isRefusal(await sut.acquireConnection('203.0.113.1'))).toBe(true);
    });
  });

  describe('fromConfig', () => {
    it('counts in memory on a standalone node, with the documented defaults', async () => {
      const sut = ClientLimits.fromConfig(loadNodeConfig([], {}), null);
      expect(sut.budget('socketEvents')).toMatchObject({ points: 20, durationSeconds: 1 });
      expect(sut.budget('ipEvents')).toMatchObject({ points: 100, durationSeconds: 1 });
      expect(sut.budget('chatMessages')).toMatchObject({ points: 60, durationSeconds: 60 });
      expect(sut.budget('ipConnections')).toMatchObject({ points: 50, durationSeconds: 3600 });
      expect(sut.budget('chatStarts')).toMatchObject({ points: 10, durationSeconds: 60 });
      expect(sut.budget('offlineMessages')).toMatchObject({ points: 5, durationSeconds: 60 });
      expect(sut.budget('logins')).toMatchObject({ points: 20, durationSeconds: 60 });
      await expect(sut.close()).resolves.toBeUndefined();
    });

    it('warns once that a cluster without REDIS_URL counts per node', async () => {
      const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      const config = loadNodeConfig(
        ['--node_name', 'a', '--cluster_config', 'c.json'],
        {
          DATABASE_URL: 'postgres://u@h/db',
          JWT_SECRET: 'x'.repeat(32),
          CLUSTER_SECRET: 'c'.repeat(32),
          ADMIN_API_KEY: 'k'.repeat(16),
        },
        {
          readFile: () =>
            JSON.stringify({
              cluster_name: 'c',
              chat_server_node_names: ['a'],
              chat_server_master_node_name: 'a',
            }),
        },
      );
      const sut = ClientLimits.fromConfig(config, null);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]?.[0])).toMatch(/REDIS_URL is not set/);
      await expect(consumeTimes(sut, 'logins', '203.0.113.1', 20)).resolves.not.toContainEqual(
        expect.objectContaining({ limit: 'logins' }),
      );
      await sut.close();
    });
  });
});
