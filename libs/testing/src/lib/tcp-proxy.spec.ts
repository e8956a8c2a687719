import { createServer, type Server, type Socket, connect } from 'node:net';
import { TcpProxy } from './tcp-proxy';
import { waitFor } from './wait-for';

/** An echo server on a free port of 127.0.0.1. */
async function startEcho(): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => sockets.delete(socket));
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { server, port: address.port, sockets };
}

/** A client that collects what it receives and notes when it closes. */
class Client {
  received = '';
  closed = false;
  readonly socket: Socket;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (this.received += chunk));
    socket.on('error', () => undefined);
    socket.once('close', () => (this.closed = true));
  }

  static open(port: number): Promise<Client> {
    const socket = connect({ host: '127.0.0.1', port });
    const client = new Client(socket);
    return new Promise<Client>((resolve, reject) => {
      socket.once('connect', () => resolve(client));
      socket.once('error', reject);
    });
  }

  async echo(text: string, timeoutMs = 2000): Promise<void> {
    const before = this.received.length;
    this.socket.write(text);
    await waitFor(() => this.received.slice(before).includes(text), {
      timeoutMs,
      intervalMs: 5,
      description: `the echo of "${text}"`,
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

describe('TcpProxy', () => {
  let echo: Awaited<ReturnType<typeof startEcho>>;
  let proxy: TcpProxy;
  const clients: Client[] = [];

  const open = async (): Promise<Client> => {
    const client = await Client.open(proxy.port);
    clients.push(client);
    return client;
  };

  beforeEach(async () => {
    echo = await startEcho();
    proxy = await TcpProxy.start({ targetHost: '127.0.0.1', targetPort: echo.port });
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await proxy.close();
    for (const socket of echo.sockets) socket.destroy();
    await new Promise((resolve) => echo.server.close(resolve));
  });

  it('listens on a free port of 127.0.0.1 and forwards both ways', async () => {
    expect(proxy.port).toBeGreaterThan(0);
    expect(proxy.address).toBe(`127.0.0.1:${proxy.port}`);
    const a = await open();
    const b = await open();
    await a.echo('hello');
    await b.echo('world');
    await a.echo('again');
    expect(a.received).toBe('helloagain');
    expect(b.received).toBe('world');
    expect(proxy.stats).toMatchObject({ accepted: 2, refused: 0, open: 2 });
    expect(proxy.stats.bytesUp).toBe(15);
    expect(proxy.stats.bytesDown).toBe(15);
  });

  it('cut() closes every open connection and refuses new ones; restore() forwards again', async () => {
    const a = await open();
    await a.echo('before');
    proxy.cut();
    expect(proxy.isCut).toBe(true);
    await waitFor(() => a.closed, { timeoutMs: 2000, description: 'the open client to close' });
    await waitFor(() => echo.sockets.size === 0, { description: 'the upstream side to close' });

    // While cut, a new connection is reset at once (the client may see the connect fail, or the
    // socket close right after it), never forwarded.
    const refused = await Client.open(proxy.port).then(
      async (client) => {
        clients.push(client);
        await waitFor(() => client.closed, { timeoutMs: 2000, description: 'the refused close' });
        return 'closed';
      },
      (error: NodeJS.ErrnoException) => error.code,
    );
    expect(['closed', 'ECONNRESET']).toContain(refused);
    expect(echo.sockets.size).toBe(0);
    expect(proxy.stats.refused).toBe(1);

    proxy.restore();
    expect(proxy.isCut).toBe(false);
    const b = await open();
    await b.echo('after');
    expect(b.received).toBe('after');
    expect(echo.sockets.size).toBe(1);
  });

  it('blackhole cut keeps connections open but drops every byte; restore() drops them', async () => {
    const a = await open();
    await a.echo('one');
    proxy.cut('blackhole');
    a.socket.write('lost');
    const held = await open();
    held.socket.write('also lost');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(a.received).toBe('one');
    expect(a.closed).toBe(false);
    expect(held.closed).toBe(false);
    expect(held.received).toBe('');

    proxy.restore();
    await waitFor(() => a.closed && held.closed, { description: 'the blackholed to close' });
    const b = await open();
    await b.echo('back');
  });

  it('adds latency to each direction and keeps the order', async () => {
    const a = await open();
    proxy.setLatencyMs(150);
    const started = Date.now();
    await a.echo('slow', 3000);
    // One delay up and one down.
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);

    // Lowering the latency must not let later chunks overtake earlier ones.
    a.socket.write('1');
    proxy.setLatencyMs(0);
    a.socket.write('2');
    await waitFor(() => a.received.endsWith('12'), { timeoutMs: 3000, description: '"12"' });
    expect(a.received).toBe('slow12');

    proxy.setLatencyMs(0);
    await a.echo('fast', 500);
  });

  it('closes the client side when the target refuses the connection', async () => {
    const dead = await startEcho();
    const port = dead.port;
    await new Promise((resolve) => dead.server.close(resolve));
    const toNowhere = await TcpProxy.start({ targetHost: '127.0.0.1', targetPort: port });
    try {
      const client = await Client.open(toNowhere.port);
      clients.push(client);
      await waitFor(() => client.closed, { description: 'the client to close' });
      expect(toNowhere.stats.open).toBe(0);
    } finally {
      await toNowhere.close();
    }
  });
});
