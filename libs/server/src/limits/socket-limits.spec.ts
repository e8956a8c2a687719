import { type NodeConfig } from '@chat/cluster';
import { waitFor } from '@chat/testing';
import { createServer, type Server as HttpServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { io, type Socket as ClientSocket } from 'socket.io-client';
import { Metrics } from '../metrics/metrics';
import { type SocketReply } from '../ws/socket-reply';
import { ClientIpResolver } from './client-ip';
import { ClientLimits } from './client-limits';
import { limitSockets } from './socket-limits';
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

/** A real socket.io server with the limits and one `work` event that counts its runs. */
class Harness {
  readonly http: HttpServer = createServer();
  readonly server: Server;
  readonly metrics = new Metrics('test');
  readonly limits: ClientLimits;
  runs = 0;
  private readonly clients: ClientSocket[] = [];

  constructor(budgets: Partial<NodeConfig['limits']>) {
    this.limits = new ClientLimits({
      budgets: limitBudgets({ ...OFF, ...budgets }),
      ips: new ClientIpResolver(['loopback']),
      metrics: this.metrics,
    });
    this.server = new Server(this.http, { path: '/ws/test' });
    limitSockets(this.server, this.limits);
    this.server.on('connection', (socket) => {
      socket.on('work', (_payload: unknown, ack: (reply: SocketReply<number>) => void) => {
        this.runs += 1;
        ack({ ok: true, data: this.runs });
      });
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.http.listen(0, '127.0.0.1', resolve));
  }

  /** Resolves with the socket once connected, or with the `connect_error`. */
  connect(ip: string): Promise<ClientSocket | (Error & { data?: unknown })> {
    const { port } = this.http.address() as AddressInfo;
    const socket = io(`http://127.0.0.1:${port}`, {
      path: '/ws/test',
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      extraHeaders: { 'x-forwarded-for': ip },
    });
    this.clients.push(socket);
    return new Promise((resolve) => {
      socket.once('connect', () => resolve(socket));
      socket.once('connect_error', (error: Error) => resolve(error));
    });
  }

  async close(): Promise<void> {
    for (const client of this.clients) client.close();
    await this.server.close();
  }
}

function connected(result: ClientSocket | Error): ClientSocket {
  if (result instanceof Error) throw result;
  return result;
}

describe(`${limitSockets.name}`, () => {
  let harness: Harness;

  afterEach(async () => {
    await harness.close();
  });

  it('refuses the handshake over the connection budget of an IP, and takes a place back on disconnect', async () => {
    harness = new Harness({ ipConnections: 2 });
    await harness.start();
    const first = connected(await harness.connect('198.51.100.1'));
    connected(await harness.connect('198.51.100.1'));

    const refused = await harness.connect('198.51.100.1');
    expect(refused).toBeInstanceOf(Error);
    expect(refused).toMatchObject({
      message: 'RATE_LIMITED',
      data: { code: 'RATE_LIMITED', details: { limit: 'ipConnections' } },
    });
    // another client address is not affected
    connected(await harness.connect('198.51.100.2'));

    first.close();
    await waitFor(() => harness.server.sockets.sockets.size === 2, {
      description: 'the server to see the disconnect',
    });
    // the disconnect gave its place back: one more fits, and only one
    connected(await harness.connect('198.51.100.1'));
    expect(harness.server.sockets.sockets.size).toBe(3);
    expect(isRefusedAgain(await harness.connect('198.51.100.1'))).toBe(true);
    expect(
      await harness.metrics.registry.getSingleMetricAsString('chat_rate_limited_total'),
    ).toMatch(/limit="ipConnections",node="test"\} 2/);
  });

  it('answers events over the socket budget with RATE_LIMITED, keeps the connection, runs nothing', async () => {
    harness = new Harness({ socketEventsPerSecond: 3 });
    await harness.start();
    const flood = connected(await harness.connect('198.51.100.1'));
    const calm = connected(await harness.connect('198.51.100.1'));

    const replies = (await Promise.all(
      Array.from({ length: 8 }, () => flood.timeout(5000).emitWithAck('work', {})),
    )) as SocketReply<number>[];
    expect(replies.filter((r) => r.ok)).toHaveLength(3);
    const refused = replies.filter((r) => !r.ok);
    expect(refused).toHaveLength(5);
    expect(refused[0]).toMatchObject({
      ok: false,
      error: {
        code: 'RATE_LIMITED',
        details: { limit: 'socketEvents', retryAfterMs: expect.any(Number) as unknown },
      },
    });
    // in order: the first three passed
    expect(replies.slice(0, 3).every((r) => r.ok)).toBe(true);
    expect(harness.runs).toBe(3);
    expect(flood.connected).toBe(true);

    // another socket of the same address has its own budget
    await expect(calm.timeout(5000).emitWithAck('work', {})).resolves.toMatchObject({ ok: true });
  });

  it('shares the per-IP budget over every socket of the address', async () => {
    harness = new Harness({ ipEventsPerSecond: 4 });
    await harness.start();
    const a = connected(await harness.connect('198.51.100.1'));
    const b = connected(await harness.connect('198.51.100.1'));
    const other = connected(await harness.connect('198.51.100.2'));
    const send = (s: ClientSocket): Promise<SocketReply<number>> =>
      s.timeout(5000).emitWithAck('work', {}) as Promise<SocketReply<number>>;
    const replies = await Promise.all([send(a), send(a), send(a), send(b), send(b), send(b)]);
    expect(replies.filter((r) => r.ok)).toHaveLength(4);
    expect(replies.find((r) => !r.ok)).toMatchObject({
      error: { code: 'RATE_LIMITED', details: { limit: 'ipEvents' } },
    });
    await expect(send(other)).resolves.toMatchObject({ ok: true });
  });
});

function isRefusedAgain(result: ClientSocket | Error): boolean {
  return result instanceof Error && result.message === 'RATE_LIMITED';
}
