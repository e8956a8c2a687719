import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server as HttpServer } from 'node:http';
import { join } from 'node:path';
import { Server as SocketServer } from 'socket.io';
import { io, type Socket } from 'socket.io-client';
import { freePort, type NodeProcessHandle, startNodeProcess, waitFor } from '@chat/testing';

// The real nginx, run by tools/cluster/nginx.mjs with the routing of
// docker/nginx/chat.conf.template, in front of stand-in nodes: plain HTTP servers that answer
// with their own name, plus socket.io servers on the nodes' socket paths.

const ROOT = join(__dirname, '..', '..');
const NGINX_SCRIPT = join(ROOT, 'tools', 'cluster', 'nginx.mjs');
const SOCKET_PATHS = ['/ws/o/delta', '/ws/v/chat', '/ws/x/general'] as const;

const which = spawnSync(process.execPath, [NGINX_SCRIPT, '--which'], { encoding: 'utf8' });
const nginxFound = which.status === 0;

interface Echo {
  readonly node: string;
  readonly method: string;
  readonly url: string;
  readonly bodyBytes: number;
  readonly headers: IncomingHttpHeaders;
}

interface Hello {
  readonly node: string;
  readonly path: string;
  readonly site: unknown;
}

/** A stand-in chat node: answers every HTTP request with its name, and greets every socket. */
class FakeNode {
  private http: HttpServer | undefined;
  private sockets: SocketServer[] = [];

  constructor(
    readonly name: string,
    readonly port: number,
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const http = createServer((req, res) => {
      let bodyBytes = 0;
      req.on('data', (chunk: Buffer) => (bodyBytes += chunk.length));
      req.on('end', () => {
        const echo: Echo = {
          node: this.name,
          method: req.method ?? '',
          url: req.url ?? '',
          bodyBytes,
          headers: req.headers,
        };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(echo));
      });
    });
    // Several socket.io servers share one HTTP server, as in the chat node.
    this.sockets = SOCKET_PATHS.map((path) => {
      const server = new SocketServer(http, { path, destroyUpgrade: false, serveClient: false });
      server.on('connection', (socket) => {
        const hello: Hello = { node: this.name, path, site: socket.handshake.query.site };
        socket.emit('hello', hello);
        socket.on('echo', (payload: unknown, ack: (reply: unknown) => void) =>
          ack({ node: this.name, payload }),
        );
      });
      return server;
    });
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.http = http;
  }

  /** Like a killed node: every connection drops, the port refuses. */
  async stop(): Promise<void> {
    const http = this.http;
    this.http = undefined;
    if (http === undefined) {
      return;
    }
    for (const server of this.sockets) {
      server.engine.close();
    }
    this.sockets = [];
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  }
}

// `npm test` installs nginx first (its pretest runs tools/cluster/ensure-nginx.sh): without it
// these tests fail, they never skip.
describe('nginx routing (docker/nginx/chat.conf.template)', () => {
  let master: FakeNode;
  let slave1: FakeNode;
  let slave2: FakeNode;
  let nginx: NodeProcessHandle | undefined;
  let base: string;
  const openSockets = new Set<Socket>();

  beforeAll(async () => {
    if (!nginxFound) {
      throw new Error(
        'nginx is required for the routing tests but was not found (NGINX_BIN, PATH, ' +
          '/usr/sbin); install it with tools/cluster/ensure-nginx.sh',
      );
    }
    const [masterPort, slave1Port, slave2Port, nginxPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    master = new FakeNode('master', masterPort);
    slave1 = new FakeNode('slave1', slave1Port);
    slave2 = new FakeNode('slave2', slave2Port);
    await Promise.all([master.start(), slave1.start(), slave2.start()]);
    base = `http://127.0.0.1:${nginxPort}`;
    nginx = await startNodeProcess({
      name: 'nginx.mjs',
      script: NGINX_SCRIPT,
      cwd: ROOT,
      args: [
        '--listen',
        `127.0.0.1:${nginxPort}`,
        '--master',
        master.address,
        '--slave',
        slave1.address,
        '--slave',
        slave2.address,
      ],
      readyUrl: `${base}/nginx-healthz`,
      readyTimeoutMs: 15_000,
    });
    await waitFor(() => nginx?.output().includes(`nginx listening on ${base}`), {
      description: 'nginx.mjs to announce its address',
    });
  });

  afterEach(() => {
    for (const socket of openSockets) {
      socket.disconnect();
    }
    openSockets.clear();
  });

  afterAll(async () => {
    await nginx?.stop('SIGTERM', 10_000);
    await Promise.all([master, slave1, slave2].map((node) => node?.stop()));
  });

  async function send(
    method: string,
    path: string,
    options: { headers?: Record<string, string>; body?: string | Buffer } = {},
  ): Promise<{ status: number; text: string; headers: Headers; echo: Echo | undefined }> {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: options.headers,
      body: options.body,
    });
    const text = await response.text();
    let echo: Echo | undefined;
    try {
      const parsed = JSON.parse(text) as Partial<Echo>;
      echo = typeof parsed.node === 'string' ? (parsed as Echo) : undefined;
    } catch {
      echo = undefined;
    }
    return { status: response.status, text, headers: response.headers, echo };
  }

  /** The node that answered, or a description of what came instead. */
  async function nodeOf(
    method: string,
    path: string,
    headers?: Record<string, string>,
  ): Promise<string> {
    const response = await send(method, path, { headers });
    return response.echo?.node ?? `HTTP ${response.status} ${response.text.slice(0, 80)}`;
  }

  const slaveOfSite = (site: string): Promise<string> =>
    nodeOf('POST', `/l/o/set-status?site=${encodeURIComponent(site)}`);

  /** Two sites that live on different slaves. */
  async function sitesOnBothSlaves(): Promise<{ slave1: string; slave2: string }> {
    const found = new Map<string, string>();
    for (let i = 0; i < 64 && found.size < 2; i += 1) {
      const site = `site-${i}`;
      const node = await slaveOfSite(site);
      if (!found.has(node)) {
        found.set(node, site);
      }
    }
    const slave1Site = found.get('slave1');
    const slave2Site = found.get('slave2');
    if (slave1Site === undefined || slave2Site === undefined) {
      throw new Error(`64 sites did not cover both slaves: ${JSON.stringify([...found])}`);
    }
    return { slave1: slave1Site, slave2: slave2Site };
  }

  function connect(path: string, site: string, transports?: string[]): Promise<Hello> {
    const socket = io(base, {
      path,
      query: { site },
      transports: transports ?? ['websocket'],
      reconnection: false,
      forceNew: true,
      timeout: 5_000,
    });
    openSockets.add(socket);
    return new Promise<Hello>((resolve, reject) => {
      socket.once('hello', resolve);
      socket.once('connect_error', reject);
    });
  }

  it('answers its own health check', async () => {
    const response = await send('GET', '/nginx-healthz');

    expect(response.status).toBe(200);
    expect(response.text).toBe('ok\n');
  });

  it.each([
    ['POST', '/l/o/set-status'],
    ['GET', '/l/v/sites/s-1/availability'],
    ['POST', '/l/v/chats'],
    ['POST', '/l/v/offline-messages'],
  ])('sends %s %s to a slave', async (method, path) => {
    const response = await send(method, path, { body: method === 'POST' ? '{}' : undefined });

    expect(response.status).toBe(200);
    expect(['slave1', 'slave2']).toContain(response.echo?.node);
    expect(response.echo?.url).toBe(path);
  });

  it.each([
    ['GET', '/l/admin/sites'],
    ['POST', '/l/admin/sites'],
    ['POST', '/l/o/login'],
    ['GET', '/l/o/me'],
    ['GET', '/l/cluster/status'],
    ['GET', '/l/o/set-status-history'],
  ])('sends %s %s to the master', async (method, path) => {
    const response = await send(method, path, { body: method === 'POST' ? '{}' : undefined });

    expect(response.status).toBe(200);
    expect(response.echo?.node).toBe('master');
    expect(response.echo?.url).toBe(path);
  });

  it.each(['/healthz', '/readyz', '/', '/favicon.ico'])(
    'keeps %s (node probes, unknown paths) from the nodes',
    async (path) => {
      const response = await send('GET', path);

      expect(response.status).toBe(404);
      expect(response.echo).toBeUndefined();
      expect(JSON.parse(response.text)).toEqual({
        error: { code: 'NOT_FOUND', message: 'no such route' },
      });
    },
  );

  it('passes the client address, scheme, host and a request id', async () => {
    const response = await send('GET', '/l/o/me');
    const headers = response.echo?.headers ?? {};

    expect(headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(headers['x-real-ip']).toBe('127.0.0.1');
    expect(headers['x-forwarded-proto']).toBe('http');
    expect(headers.host).toBe(new URL(base).host);
    expect(headers['x-request-id']).toMatch(/^[0-9a-f]{32}$/);
    expect(response.headers.get('x-request-id')).toBe(headers['x-request-id']);
  });

  it('appends to an incoming X-Forwarded-For', async () => {
    const response = await send('GET', '/l/o/me', {
      headers: { 'X-Forwarded-For': '203.0.113.7' },
    });

    expect(response.echo?.headers['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
  });

  it('passes bodies up to 1 MiB and refuses larger ones with 413', async () => {
    // 600 KiB is above nginx's in-memory body buffer, so it goes through the temp directory.
    const accepted = await send('POST', '/l/v/chats', { body: Buffer.alloc(600 * 1024, 97) });
    const refused = await send('POST', '/l/v/chats', { body: Buffer.alloc(1024 * 1024 + 1, 97) });

    expect(accepted.status).toBe(200);
    expect(accepted.echo?.bodyBytes).toBe(600 * 1024);
    expect(refused.status).toBe(413);
    expect(refused.echo).toBeUndefined();
  });

  it('keeps each site on one slave and spreads the sites over both', async () => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < 60; i += 1) {
      const site = `9b3f0c1e-${String(i).padStart(4, '0')}-7000-8000-0000000000${String(i).padStart(2, '0')}`;
      const answers = new Set<string>();
      for (let round = 0; round < 3; round += 1) {
        answers.add(await slaveOfSite(site));
        answers.add(await nodeOf('GET', `/l/v/sites/${site}/availability?site=${site}`));
      }
      expect([...answers]).toHaveLength(1);
      const [node] = answers;
      counts[node ?? '?'] = (counts[node ?? '?'] ?? 0) + 1;
    }

    expect(Object.keys(counts).sort()).toEqual(['slave1', 'slave2']);
    expect(Math.min(counts.slave1 ?? 0, counts.slave2 ?? 0)).toBeGreaterThanOrEqual(12);
  });

  it('hashes the path /l/v/sites/<id>/ and X-Chat-Site like ?site=<id>', async () => {
    for (let i = 0; i < 24; i += 1) {
      const site = `path-site-${i}`;
      const expected = await slaveOfSite(site);

      await expect(nodeOf('GET', `/l/v/sites/${site}/availability`)).resolves.toBe(expected);
      await expect(nodeOf('POST', '/l/v/chats', { 'X-Chat-Site': site })).resolves.toBe(expected);
      await expect(nodeOf('POST', '/l/o/set-status', { 'X-Chat-Site': site })).resolves.toBe(
        expected,
      );
    }
  });

  it('takes ?site first, then the path, then X-Chat-Site', async () => {
    const { slave1: a, slave2: b } = await sitesOnBothSlaves();

    await expect(nodeOf('GET', `/l/v/sites/${b}/availability?site=${a}`)).resolves.toBe('slave1');
    await expect(nodeOf('POST', `/l/o/set-status?site=${a}`, { 'X-Chat-Site': b })).resolves.toBe(
      'slave1',
    );
    await expect(nodeOf('GET', `/l/v/sites/${a}/availability`, { 'X-Chat-Site': b })).resolves.toBe(
      'slave1',
    );
    // An empty value does not count.
    await expect(nodeOf('GET', `/l/v/sites/${b}/availability?site=`)).resolves.toBe('slave2');
    await expect(nodeOf('POST', '/l/o/set-status?site=', { 'X-Chat-Site': b })).resolves.toBe(
      'slave2',
    );
  });

  it("upgrades the operator's and the visitor's websockets on the site's slave", async () => {
    const { slave1: a, slave2: b } = await sitesOnBothSlaves();

    await expect(connect('/ws/o/delta', a)).resolves.toEqual({
      node: 'slave1',
      path: '/ws/o/delta',
      site: a,
    });
    await expect(connect('/ws/o/delta', b)).resolves.toMatchObject({ node: 'slave2' });
    await expect(connect('/ws/v/chat', a)).resolves.toEqual({
      node: 'slave1',
      path: '/ws/v/chat',
      site: a,
    });
    await expect(connect('/ws/v/chat', b)).resolves.toMatchObject({ node: 'slave2' });
  });

  it('keeps long-polling on one slave and upgrades it to a websocket', async () => {
    const { slave2: site } = await sitesOnBothSlaves();
    const hello = connect('/ws/v/chat', site, ['polling', 'websocket']);
    const socket = [...openSockets].at(-1);

    await expect(hello).resolves.toMatchObject({ node: 'slave2', path: '/ws/v/chat' });
    await expect(
      waitFor(() => socket?.io.engine.transport.name === 'websocket', {
        description: 'the polling socket to upgrade',
      }),
    ).resolves.toBe(true);
    await expect(socket?.timeout(5_000).emitWithAck('echo', 'ping')).resolves.toEqual({
      node: 'slave2',
      payload: 'ping',
    });
  });

  it('sends other websockets under /ws/ to the master', async () => {
    await expect(connect('/ws/x/general', 'any-site')).resolves.toMatchObject({
      node: 'master',
      path: '/ws/x/general',
    });
  });

  it("moves only a dead slave's sites to the other slave, and back when it returns", async () => {
    const { slave1: onSlave1, slave2: onSlave2 } = await sitesOnBothSlaves();
    const socket = connect('/ws/o/delta', onSlave1);
    await expect(socket).resolves.toMatchObject({ node: 'slave1' });

    await slave1.stop();
    try {
      // The next request already fails over (proxy_next_upstream), without waiting.
      await expect(slaveOfSite(onSlave1)).resolves.toBe('slave2');
      await expect(nodeOf('GET', `/l/v/sites/${onSlave1}/availability`)).resolves.toBe('slave2');
      await expect(connect('/ws/o/delta', onSlave1)).resolves.toMatchObject({ node: 'slave2' });
      await expect(slaveOfSite(onSlave2)).resolves.toBe('slave2');
    } finally {
      await slave1.start();
    }

    // Tried again after fail_timeout (2 s): the site comes home, the other stays.
    await expect(
      waitFor(async () => (await slaveOfSite(onSlave1)) === 'slave1', {
        timeoutMs: 15_000,
        description: `site ${onSlave1} to return to slave1`,
      }),
    ).resolves.toBe(true);
    await expect(connect('/ws/o/delta', onSlave1)).resolves.toMatchObject({ node: 'slave1' });
    await expect(slaveOfSite(onSlave2)).resolves.toBe('slave2');
  });

  it("sends the master's routes to the slaves while the master is down", async () => {
    await master.stop();
    try {
      for (const path of ['/l/admin/sites', '/l/cluster/status', '/l/o/me']) {
        await expect(nodeOf('GET', path)).resolves.toMatch(/^slave[12]$/);
      }
      await expect(nodeOf('POST', '/l/o/login')).resolves.toMatch(/^slave[12]$/);
    } finally {
      await master.start();
    }

    await expect(
      waitFor(async () => (await nodeOf('GET', '/l/admin/sites')) === 'master', {
        timeoutMs: 15_000,
        description: 'the master to get its routes back',
      }),
    ).resolves.toBe(true);
  });

  it('is the routing docker compose mounts (docker/nginx/chat.conf is up to date)', () => {
    const rendered = spawnSync(process.execPath, [NGINX_SCRIPT, '--print-docker'], {
      encoding: 'utf8',
    });

    expect(rendered.status).toBe(0);
    expect(readFileSync(join(ROOT, 'docker', 'nginx', 'chat.conf'), 'utf8')).toBe(rendered.stdout);
  });
});
