/**
 * The limits of a cluster against the real Redis: two nodes draw on one budget, the connection
 * count carries an expiry, and an unreachable or silent Redis never stops a node from answering
 * (it counts in memory until Redis is back).
 */
import { Logger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { loadNodeConfig, type NodeConfig } from '@chat/cluster';
import { requireService, TcpProxy } from '@chat/testing';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { ClientIpResolver } from './client-ip';
import {
  ClientLimits,
  type ConnectionLease,
  connectLimitsRedis,
  isRefusal,
  type Refusal,
} from './client-limits';
import { limitBudgets } from './rate-limits';

const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const RUN = `rltest-${randomBytes(4).toString('hex')}`;

const BUDGETS: NodeConfig['limits'] = {
  socketEventsPerSecond: 2,
  ipEventsPerSecond: 0,
  chatMessagesPerMinute: 0,
  ipConnections: 3,
  ipConnectionCountTtlSeconds: 600,
  chatStartsPerMinute: 5,
  offlineMessagesPerMinute: 0,
  loginsPerMinute: 0,
};

describe('ClientLimits over Redis (two nodes)', () => {
  let admin: Redis;
  const owned: ClientLimits[] = [];
  const proxies: TcpProxy[] = [];
  const quiet = new Logger('limits-int');

  /** One "node": its own ioredis client, the cluster's key prefix. */
  function node(url = REDIS_URL, prefix = `chat:${RUN}:rl`): ClientLimits {
    const limits = new ClientLimits({
      budgets: limitBudgets(BUDGETS),
      ips: new ClientIpResolver(['loopback']),
      redis: { client: connectLimitsRedis(url, quiet), keyPrefix: prefix },
      logger: quiet,
    });
    owned.push(limits);
    return limits;
  }

  async function ready(limits: ClientLimits): Promise<void> {
    // ioredis connects on its own; the limits answer from memory until it is ready.
    const client = (limits as unknown as { redis: Redis }).redis;
    if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve));
  }

  beforeAll(async () => {
    await requireService('redis', async () => {
      const probe = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 2000 });
      try {
        await probe.connect();
        await probe.ping();
      } finally {
        probe.disconnect();
      }
    });
    admin = new Redis(REDIS_URL);
    jest.spyOn(quiet, 'warn').mockImplementation(() => undefined);
    jest.spyOn(quiet, 'log').mockImplementation(() => undefined);
  });

  afterAll(async () => {
    await Promise.all(proxies.map((proxy) => proxy.close()));
    await Promise.all(owned.map((limits) => limits.close()));
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `*${RUN}*`, 'COUNT', 1000);
      if (keys.length > 0) await admin.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    await admin.quit();
  });

  it('makes two nodes draw on one budget per key', async () => {
    const a = node();
    const b = node();
    await Promise.all([ready(a), ready(b)]);
    const results: (Refusal | null)[] = [];
    for (let i = 0; i < 6; i++) {
      results.push(await (i % 2 === 0 ? a : b).consume('chatStarts', '203.0.113.10'));
    }
    expect(results.slice(0, 5)).toEqual([null, null, null, null, null]);
    expect(results[5]).toMatchObject({ limit: 'chatStarts' });
    expect(results[5]?.retryAfterMs).toBeGreaterThan(50_000);
    await expect(a.consume('chatStarts', '203.0.113.10')).resolves.toMatchObject({
      limit: 'chatStarts',
    });
    // another address: its own budget, on both nodes
    await expect(b.consume('chatStarts', '203.0.113.11')).resolves.toBeNull();
    const ttl = await admin.pttl(`chat:${RUN}:rl:chatStarts:203.0.113.10`);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('keeps per-socket budgets on each node (nothing to share, no round trip)', async () => {
    const a = node();
    const b = node();
    await Promise.all([ready(a), ready(b)]);
    for (const limits of [a, b]) {
      await expect(limits.consume('socketEvents', 'socket-1')).resolves.toBeNull();
      await expect(limits.consume('socketEvents', 'socket-1')).resolves.toBeNull();
      await expect(limits.consume('socketEvents', 'socket-1')).resolves.toMatchObject({
        limit: 'socketEvents',
      });
    }
    expect(await admin.exists(`chat:${RUN}:rl:socketEvents:socket-1`)).toBe(0);
  });

  it('shares the connection count of an IP, with an expiry, and gives places back', async () => {
    const a = node();
    const b = node();
    await Promise.all([ready(a), ready(b)]);
    const ip = '203.0.113.20';
    const lease = (r: ConnectionLease | Refusal): ConnectionLease => {
      if (isRefusal(r)) throw new Error(r.message);
      return r;
    };
    lease(await a.acquireConnection(ip));
    lease(await a.acquireConnection(ip));
    const onB = lease(await b.acquireConnection(ip));
    await expect(a.acquireConnection(ip)).resolves.toMatchObject({ limit: 'ipConnections' });
    await expect(b.acquireConnection(ip)).resolves.toMatchObject({ limit: 'ipConnections' });

    const key = `chat:${RUN}:rl:ipConnections:${ip}`;
    expect(await admin.get(key)).toBe('3'); // refused attempts were given back
    const ttl = await admin.pttl(key);
    expect(ttl).toBeGreaterThan(590_000);
    expect(ttl).toBeLessThanOrEqual(600_000);

    await onB.release();
    lease(await a.acquireConnection(ip));
    expect(await admin.get(key)).toBe('3');
  });

  it('answers from memory when Redis is unreachable from the start, without throwing', async () => {
    const closed = await TcpProxy.start({ targetHost: '127.0.0.1', targetPort: 6379 });
    proxies.push(closed);
    closed.cut('reset');
    const limits = node(`redis://127.0.0.1:${closed.port}`);
    const started = Date.now();
    const results: (Refusal | null)[] = [];
    for (let i = 0; i < 6; i++) results.push(await limits.consume('chatStarts', '203.0.113.30'));
    expect(Date.now() - started).toBeLessThan(1000);
    // the insurance limiter counts this node's own budget
    expect(results.slice(0, 5)).toEqual([null, null, null, null, null]);
    expect(results[5]).toMatchObject({ limit: 'chatStarts' });
    const connection = await limits.acquireConnection('203.0.113.30');
    expect(isRefusal(connection)).toBe(false);
    await expect((connection as ConnectionLease).release()).resolves.toBeUndefined();
  });

  it('falls back to memory when the link is cut or goes silent, and shares again once back', async () => {
    const proxy = await TcpProxy.start({ targetHost: '127.0.0.1', targetPort: 6379 });
    proxies.push(proxy);
    const limits = node(`redis://127.0.0.1:${proxy.port}`);
    await ready(limits);
    await expect(limits.consume('chatStarts', '203.0.113.40')).resolves.toBeNull();
    expect(await admin.get(`chat:${RUN}:rl:chatStarts:203.0.113.40`)).toBe('1');

    // Silent: packets vanish, ioredis still thinks it is connected; the command time-out answers.
    proxy.cut('blackhole');
    let started = Date.now();
    await expect(limits.consume('chatStarts', '203.0.113.40')).resolves.toBeNull();
    expect(Date.now() - started).toBeLessThan(2000);

    // Reset: the connection drops; not ready means the insurance answers at once.
    proxy.restore();
    proxy.cut('reset');
    const client = (limits as unknown as { redis: Redis }).redis;
    if (client.status === 'ready') await new Promise((resolve) => client.once('close', resolve));
    started = Date.now();
    await expect(limits.consume('chatStarts', '203.0.113.40')).resolves.toBeNull();
    expect(Date.now() - started).toBeLessThan(100);

    proxy.restore();
    await ready(limits);
    // (the command that timed out may have reached Redis after all: count from what is there)
    const key = `chat:${RUN}:rl:chatStarts:203.0.113.40`;
    const before = Number(await admin.get(key));
    await expect(limits.consume('chatStarts', '203.0.113.40')).resolves.toBeNull();
    expect(Number(await admin.get(key))).toBe(before + 1);
  });

  it('closes its Redis connection when the Nest application shuts down', async () => {
    const limits = node();
    await ready(limits);
    const client = (limits as unknown as { redis: Redis }).redis;
    const app = await Test.createTestingModule({
      providers: [{ provide: ClientLimits, useFactory: () => limits }],
    }).compile();
    await app.init();
    const ended = new Promise((resolve) => client.once('end', resolve));
    await app.close();
    await ended;
    expect(client.status).toBe('end');
    // after the close, a late disconnect's release or a count still answers, from memory
    await expect(limits.consume('chatStarts', '203.0.113.60')).resolves.toBeNull();
  });

  it('prefixes the keys with the cluster name from the node configuration', async () => {
    const warn = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    const config = loadNodeConfig(
      ['--node_name', 'a', '--cluster_config', 'cluster.json'],
      {
        DATABASE_URL: 'postgres://u@h/db',
        JWT_SECRET: 'x'.repeat(32),
        CLUSTER_SECRET: 'c'.repeat(32),
        ADMIN_API_KEY: 'k'.repeat(16),
        MQ_NODE_ID_PREFIX: 'p.',
        REDIS_URL,
      },
      {
        readFile: () =>
          JSON.stringify({
            cluster_name: RUN,
            chat_server_node_names: ['a'],
            chat_server_master_node_name: 'a',
          }),
      },
    );
    const limits = ClientLimits.fromConfig(config, null);
    owned.push(limits);
    await ready(limits);
    await expect(limits.consume('logins', '203.0.113.50')).resolves.toBeNull();
    expect(await admin.get(`chat:p.${RUN}:rl:logins:203.0.113.50`)).toBe('1');
    warn.mockRestore();
  });
});
