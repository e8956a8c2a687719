/**
 * The cluster as real processes: a master and two slaves on the real RabbitMQ (a fresh vhost) and
 * PostgreSQL (a fresh schema), behind a real nginx. A visitor on one slave and an operator on the
 * other chat both ways; statuses and typing cross nodes; 200 chats started at once on both slaves
 * never give a chat two operators or an operator more than their limit; concurrent manual takes
 * from both slaves are decided once by the master; every node ends with the same state digest,
 * and a slave started late catches up to it. A second process under a live node's name is refused.
 */
import {
  type ChatView,
  type MessageView,
  type OperatorDeltaItem,
  type OperatorSnapshot,
} from '@chat/domain';
import type { ClusterStatus, SocketReply } from '@chat/server';
import {
  CLIENT_LIMITS_OFF,
  createTestSchemaName,
  createTestVhost,
  freePort,
  httpJson,
  type NodeProcessHandle,
  runNodeProcessToExit,
  SocketRecorder,
  startNodeProcess,
  type TestVhost,
  waitFor,
  okData,
} from '@chat/testing';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';

const ROOT = join(__dirname, '../../..');
const MASTER_MAIN = join(ROOT, 'dist/apps/master/src/main.js');
const SLAVE_MAIN = join(ROOT, 'dist/apps/slave/src/main.js');
const NGINX = join(ROOT, 'tools/cluster/nginx.mjs');
const DATABASE_URL = process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const ADMIN_KEY = 'cluster-e2e-admin-key-0123456789';
const ADMIN = { 'x-admin-key': ADMIN_KEY };

interface Delta {
  revision: number;
  items: OperatorDeltaItem[];
}

interface Operator {
  id: string;
  email: string;
  token: string;
  socket: SocketRecorder;
}

describe('cluster behind nginx, end to end', () => {
  let dir: string;
  let vhost: TestVhost;
  let schema: string;
  let clusterFile: string;
  const ports: Record<string, number> = {};
  const nodes = new Map<string, NodeProcessHandle>();
  let nginx: NodeProcessHandle | undefined;
  let entry: string;
  const sockets: SocketRecorder[] = [];

  const url = (node: string): string => `http://127.0.0.1:${ports[node] ?? 0}`;

  const nodeEnv = (node: string): Record<string, string> => ({
    PORT: String(ports[node]),
    HOST: '127.0.0.1',
    DATA_DIR: join(dir, node),
    DATABASE_URL,
    DATABASE_SCHEMA: schema,
    JWT_SECRET: 'cluster-e2e-jwt-secret-0123456789-abcdef',
    CLUSTER_SECRET: 'cluster-e2e-cluster-secret-0123456789-abcdef',
    ADMIN_API_KEY: ADMIN_KEY,
    MQ_VIRTUAL_HOST: vhost.name,
    SEED_DEMO: 'false',
    LOG_LEVEL: 'warn',
    OPERATOR_GRACE_MS: '60000',
    LOGIN_RATE_LIMIT_PER_MINUTE: '1000',
    ...CLIENT_LIMITS_OFF,
  });

  const startNode = async (node: string): Promise<NodeProcessHandle> => {
    const handle = await startNodeProcess({
      script: node === 'master' ? MASTER_MAIN : SLAVE_MAIN,
      args: ['--node_name', node, '--cluster_config', clusterFile],
      name: node,
      env: nodeEnv(node),
      readyUrl: `${url(node)}/readyz`,
      readyTimeoutMs: 60_000,
    });
    nodes.set(node, handle);
    return handle;
  };

  const connect = async (
    base: string,
    path: string,
    token: string,
    query?: Record<string, string>,
  ): Promise<SocketRecorder> => {
    const socket = await SocketRecorder.connect(base, path, token, query ? { query } : {});
    sockets.push(socket);
    return socket;
  };

  const admin = async <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => {
    const response = await httpJson(method, `${entry}${path}`, body, ADMIN);
    if (response.status >= 300) {
      throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(response.body)}`);
    }
    return response.body as T;
  };

  /** A site with `count` operators of capacity 3 (password "password-<i>"). */
  const createSite = async (
    name: string,
    count: number,
  ): Promise<{ siteId: string; operators: { id: string; email: string }[] }> => {
    const site = await admin<{ id: string }>('POST', '/l/admin/sites', { name });
    const operators: { id: string; email: string }[] = [];
    for (let i = 0; i < count; i += 1) {
      const email = `op${i}@${name.toLowerCase()}.test`;
      const created = await admin<{ id: string }>('POST', `/l/admin/sites/${site.id}/operators`, {
        name: `${name} operator ${i}`,
        email,
        password: `password-${i}`,
        maxChats: 3,
      });
      operators.push({ id: created.id, email });
    }
    return { siteId: site.id, operators };
  };

  /** Logs in through `base`, opens the delta socket there and sets the status there. */
  const goLive = async (
    base: string,
    siteId: string,
    operator: { id: string; email: string },
    index: number,
    status: 'online' | 'away',
  ): Promise<Operator> => {
    const login = await httpJson('POST', `${base}/l/o/login`, {
      email: operator.email,
      password: `password-${index}`,
    });
    expect(login.status).toBe(200);
    const token = (login.body as { token: string }).token;
    const socket = await connect(base, '/ws/o/delta', token, { site: siteId });
    await socket.next('state.full');
    const set = await httpJson(
      'POST',
      `${base}/l/o/set-status?site=${siteId}`,
      { status },
      { authorization: `Bearer ${token}` },
    );
    expect(set.status).toBe(200);
    return { id: operator.id, email: operator.email, token, socket };
  };

  const clusterStatus = async (): Promise<ClusterStatus> => {
    const response = await httpJson('GET', `${entry}/l/cluster/status`, undefined, ADMIN);
    expect(response.status).toBe(200);
    return response.body as ClusterStatus;
  };

  /** Waits until every listed node is alive and ready and all live nodes report one digest. */
  const converged = (names: string[]): Promise<ClusterStatus> =>
    waitFor(
      async () => {
        const status = await clusterStatus();
        const live = status.nodes.filter((n) => n.alive && n.ready).map((n) => n.node);
        return status.converged && names.every((n) => live.includes(n)) ? status : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, description: `digests of ${names.join(', ')} equal` },
    ) as Promise<ClusterStatus>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'chat-cluster-e2e-'));
    vhost = await createTestVhost('e2e');
    schema = createTestSchemaName('cluster_e2e');
    for (const node of ['master', 'slave1', 'slave2', 'slave3', 'nginx']) {
      ports[node] = await freePort();
    }
    clusterFile = join(dir, 'cluster.json');
    writeFileSync(
      clusterFile,
      JSON.stringify({
        cluster_name: 'e2e',
        chat_server_node_names: ['master', 'slave1', 'slave2', 'slave3'],
        chat_server_master_node_name: 'master',
      }),
    );
    await startNode('master');
    await Promise.all([startNode('slave1'), startNode('slave2')]);
    entry = url('nginx');
    nginx = await startNodeProcess({
      script: NGINX,
      args: [
        '--listen',
        `127.0.0.1:${ports['nginx'] ?? 0}`,
        '--master',
        `127.0.0.1:${ports['master'] ?? 0}`,
        '--slave',
        `127.0.0.1:${ports['slave1'] ?? 0}`,
        '--slave',
        `127.0.0.1:${ports['slave2'] ?? 0}`,
      ],
      name: 'nginx',
      readyUrl: `${entry}/nginx-healthz`,
      readyTimeoutMs: 30_000,
    });
  }, 180_000);

  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await nginx?.stop();
    await Promise.all(
      [...nodes.entries()].filter(([n]) => n !== 'master').map(([, h]) => h.stop()),
    );
    await nodes.get('master')?.stop();
    const pg = new Client({ connectionString: DATABASE_URL });
    await pg.connect();
    await pg.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pg.end();
    await vhost?.delete();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('refuses a second process under a live node name and leaves the running one alone', async () => {
    const duplicate = await runNodeProcessToExit({
      script: SLAVE_MAIN,
      args: ['--node_name', 'slave1', '--cluster_config', clusterFile],
      name: 'slave1-duplicate',
      env: { ...nodeEnv('slave1'), PORT: '0', DATA_DIR: join(dir, 'duplicate') },
      timeoutMs: 60_000,
    });
    expect(duplicate.code).toBe(2);
    expect(duplicate.stderr).toContain(
      'node name "slave1" is already in use by a live node of cluster "e2e"',
    );
    const ready = await httpJson('GET', `${url('slave1')}/readyz`);
    expect(ready.status).toBe(200);
  });

  it('routes through nginx: slaves for sessions by site, the master for the rest', async () => {
    const status = await httpJson('GET', `${entry}/l/cluster/status`, undefined, ADMIN);
    expect(status.headers['x-chat-node']).toBe('master');
    const without = await httpJson('GET', `${entry}/l/cluster/status`);
    expect(without.status).toBe(401);
    // The same site always lands on the same slave.
    const seen = new Set<string>();
    for (let i = 0; i < 3; i += 1) {
      const r = await httpJson(
        'GET',
        `${entry}/l/v/sites/00000000-0000-7000-8000-000000000001/availability`,
      );
      seen.add(r.headers['x-chat-node'] ?? '');
    }
    expect(seen.size).toBe(1);
    expect([...seen][0]).toMatch(/^slave[12]$/);
  });

  it('lets a visitor on one slave and an operator on the other chat both ways', async () => {
    const { siteId, operators } = await createSite('Cross', 2);
    // Where nginx sends this site's sessions, and the other slave.
    const probe = await httpJson('GET', `${entry}/l/v/sites/${siteId}/availability`);
    const siteSlave = probe.headers['x-chat-node'] ?? '';
    expect(siteSlave).toMatch(/^slave[12]$/);
    const otherSlave = siteSlave === 'slave1' ? 'slave2' : 'slave1';

    // The operator works on the other slave (as after a balancer failover); only they are online.
    const [first, second] = operators;
    if (!first || !second) throw new Error('two operators expected');
    const alice = await goLive(url(otherSlave), siteId, first, 0, 'online');

    // The visitor comes through nginx, to the site's slave.
    const started = await httpJson('POST', `${entry}/l/v/chats?site=${siteId}`, {
      siteId,
      name: 'Vera Visitor',
    });
    expect(started.status).toBe(201);
    expect(started.headers['x-chat-node']).toBe(siteSlave);
    const { chatId, token } = started.body as { chatId: string; token: string };
    const visitor = await connect(entry, '/ws/v/chat', token, { site: siteId });
    await visitor.next<ChatView>('chat.state', (c) => c.id === chatId);

    // The master assigns it; the operator's slave and the visitor's slave both learn it.
    await alice.socket.next<Delta>('state.delta', (d) =>
      d.items.some(
        (i) => i.kind === 'chat' && i.chat.id === chatId && i.chat.operator?.id === alice.id,
      ),
    );
    await waitFor(
      () =>
        [...visitor.all<ChatView>('chat.state'), ...visitor.all<ChatView>('chat.updated')].some(
          (c) => c.status === 'assigned' && c.operator?.id === alice.id,
        ),
      { description: 'the visitor to see the assigned operator' },
    );

    // Both ways, across the two slaves.
    const fromVisitor = okData(
      await visitor.request<SocketReply<MessageView>>('message.send', {
        clientMessageId: 'v-1',
        text: 'Hello from the site slave',
      }),
    );
    await alice.socket.next<Delta>('state.delta', (d) =>
      d.items.some((i) => i.kind === 'message' && i.message.id === fromVisitor.id),
    );
    const fromOperator = okData(
      await alice.socket.request<SocketReply<MessageView>>('message.send', {
        chatId,
        clientMessageId: 'o-1',
        text: 'Hello from the other slave',
      }),
    );
    await visitor.next<MessageView>('message.new', (m) => m.id === fromOperator.id);

    // Typing crosses nodes too (signals, not state).
    okData(await visitor.request('typing', { isTyping: true }));
    await alice.socket.next<{ chatId: string; author: { kind: string } }>(
      'typing',
      (t) => t.chatId === chatId && t.author.kind === 'visitor',
    );
    okData(await alice.socket.request('typing', { chatId, isTyping: true }));
    await visitor.next<{ author: { kind: string } }>('typing', (t) => t.author.kind === 'operator');

    // A status set through nginx on the site's slave reaches the operator on the other slave.
    const bob = await goLive(entry, siteId, second, 1, 'away');
    await alice.socket.next<Delta>('state.delta', (d) =>
      d.items.some(
        (i) => i.kind === 'operator' && i.operator.id === bob.id && i.operator.status === 'away',
      ),
    );

    // Back online (through nginx again), then a manual transfer from the other slave, decided by
    // the master.
    const online = await httpJson(
      'POST',
      `${entry}/l/o/set-status?site=${siteId}`,
      { status: 'online' },
      { authorization: `Bearer ${bob.token}` },
    );
    expect(online.headers['x-chat-node']).toBe(siteSlave);
    await alice.socket.next<Delta>('state.delta', (d) =>
      d.items.some(
        (i) => i.kind === 'operator' && i.operator.id === bob.id && i.operator.status === 'online',
      ),
    );
    const transferred = okData(
      await alice.socket.request<SocketReply<ChatView>>('chat.transfer', {
        chatId,
        toOperatorId: bob.id,
      }),
    );
    expect(transferred.operator?.id).toBe(bob.id);
    await bob.socket.next<Delta>('state.delta', (d) =>
      d.items.some(
        (i) => i.kind === 'chat' && i.chat.id === chatId && i.chat.operator?.id === bob.id,
      ),
    );
    await visitor.next<ChatView>('chat.updated', (c) => c.operator?.id === bob.id);
  });

  it('gives 200 chats started at once on both slaves no double assignment and no overload', async () => {
    const OPERATORS = 10;
    const { siteId, operators } = await createSite('Load', OPERATORS + 2);
    const live: Operator[] = [];
    for (const [index, operator] of operators.slice(0, OPERATORS).entries()) {
      live.push(
        await goLive(url(index % 2 === 0 ? 'slave1' : 'slave2'), siteId, operator, index, 'online'),
      );
    }
    // Two operators who stay away: they take chats by hand, one on each slave.
    const takers: Operator[] = [];
    for (const [offset, operator] of operators.slice(OPERATORS).entries()) {
      const index = OPERATORS + offset;
      takers.push(
        await goLive(url(offset === 0 ? 'slave1' : 'slave2'), siteId, operator, index, 'away'),
      );
    }

    const starts = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        httpJson('POST', `${url(i % 2 === 0 ? 'slave1' : 'slave2')}/l/v/chats`, {
          siteId,
          name: `Visitor ${i}`,
        }),
      ),
    );
    expect(starts.map((r) => r.status).filter((s) => s !== 201)).toEqual([]);
    const chatIds = new Set(starts.map((r) => (r.body as { chatId: string }).chatId));
    expect(chatIds.size).toBe(200);

    // Every free slot (10 operators x 3) is filled, the rest wait.
    const snapshotOf = async (operator: Operator): Promise<OperatorSnapshot> =>
      okData(await operator.socket.request<SocketReply<OperatorSnapshot>>('state.sync'));
    await waitFor(
      async () => {
        const snaps = await Promise.all(live.map(snapshotOf));
        return snaps.every((s) => s.chats.length === 3) ? true : undefined;
      },
      { timeoutMs: 30_000, description: '30 chats auto-assigned' },
    );

    // Both away operators race for the same five waiting chats from different slaves.
    const waiting = (await snapshotOf(takers[0] as Operator)).queue.slice(0, 5).map((c) => c.id);
    expect(waiting).toHaveLength(5);
    const attempts = await Promise.all(
      waiting.flatMap((chatId) =>
        takers.map(async (taker) => ({
          chatId,
          taker: taker.id,
          reply: await taker.socket.request<SocketReply<ChatView>>('chat.take', { chatId }),
        })),
      ),
    );
    for (const chatId of waiting) {
      const wins = attempts.filter((a) => a.chatId === chatId && a.reply.ok);
      expect(wins).toHaveLength(1);
    }
    for (const taker of takers) {
      const won = attempts.filter((a) => a.taker === taker.id && a.reply.ok).length;
      expect(won).toBeLessThanOrEqual(3);
    }
    const losses = attempts.filter((a) => !a.reply.ok);
    for (const loss of losses) {
      const code = loss.reply.ok ? 'ok' : loss.reply.error.code;
      expect(['CHAT_NOT_WAITING', 'OPERATOR_AT_CAPACITY']).toContain(code);
    }

    // When the traffic stops, every node holds the same state...
    const status = await converged(['master', 'slave1', 'slave2']);
    expect(new Set(status.nodes.filter((n) => n.alive).map((n) => n.digest)).size).toBe(1);

    // ...in which no chat has two operators and nobody holds more than 3.
    const holders = new Map<string, string>();
    for (const operator of [...live, ...takers]) {
      const snap = await snapshotOf(operator);
      expect(snap.chats.length).toBeLessThanOrEqual(3);
      for (const chat of snap.chats) {
        expect(holders.get(chat.id)).toBeUndefined();
        holders.set(chat.id, operator.id);
      }
    }
    expect(holders.size).toBe(30 + 5);

    // Over the whole history (the journal in PostgreSQL): no chat was ever given to two operators.
    await waitFor(
      async () => {
        const pg = new Client({ connectionString: DATABASE_URL });
        await pg.connect();
        try {
          const rows = await pg.query<{ chat_id: string; operators: string }>(
            `SELECT chat_id, count(DISTINCT data->>'operatorId') AS operators
               FROM "${schema}".chat_events
              WHERE type = 'chat.assigned' AND site_id = $1 AND data->>'operatorId' IS NOT NULL
              GROUP BY chat_id`,
            [siteId],
          );
          return rows.rows.length === 35 ? rows.rows : undefined;
        } finally {
          await pg.end();
        }
      },
      { timeoutMs: 30_000, description: '35 assignments persisted' },
    ).then((rows) => {
      for (const row of rows as { operators: string }[]) expect(Number(row.operators)).toBe(1);
    });
  });

  it('brings a slave cut off from the broker back to the same state, and its clients too', async () => {
    const { siteId, operators } = await createSite('Cut', 1);
    const [only] = operators;
    if (!only) throw new Error('one operator expected');
    const operator = await goLive(url('slave2'), siteId, only, 0, 'online');
    expect(operator.socket.count('state.full')).toBe(1);
    // The broker drops slave2's connection; while it reconnects, slave1 keeps taking chats.
    expect(await vhost.closeConnections('e2e/slave2/')).toBe(1);
    const during = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        httpJson('POST', `${url('slave1')}/l/v/chats`, { siteId, name: `During ${i}` }),
      ),
    );
    expect(during.map((r) => r.status)).toEqual([201, 201, 201, 201, 201]);
    await waitFor(async () => (await httpJson('GET', `${url('slave2')}/readyz`)).status === 200, {
      timeoutMs: 30_000,
      description: 'slave2 ready again',
    });
    await converged(['master', 'slave1', 'slave2']);
    // slave2 caught up and gave its operator a fresh full state: 3 chats held, 2 waiting.
    await operator.socket.next('state.full', () => operator.socket.count('state.full') >= 2);
    const snap = okData(await operator.socket.request<SocketReply<OperatorSnapshot>>('state.sync'));
    expect(snap.chats).toHaveLength(3);
    expect(snap.queue).toHaveLength(2);
  });

  it('lets a slave started late catch up to the same digest', async () => {
    const before = await converged(['master', 'slave1', 'slave2']);
    const digest = before.nodes.find((n) => n.node === 'master')?.digest;
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    await startNode('slave3');
    const after = await converged(['master', 'slave1', 'slave2', 'slave3']);
    const late = after.nodes.find((n) => n.node === 'slave3');
    expect(late).toMatchObject({ alive: true, ready: true, app: 'slave', digest });
    expect(late?.load?.activeChats).toBeGreaterThanOrEqual(200);
  });
  it('closes the sessions of a slave killed with -9 once its heartbeats stop', async () => {
    const { siteId, operators } = await createSite('Dead', 1);
    const [only] = operators;
    if (!only) throw new Error('one operator expected');
    const operator = await goLive(url('slave3'), siteId, only, 0, 'online');
    const connected = async (): Promise<boolean | undefined> => {
      const list = await admin<{ id: string; connected: boolean }[]>(
        'GET',
        `/l/admin/sites/${siteId}/operators`,
      );
      return list.find((o) => o.id === operator.id)?.connected;
    };
    await waitFor(async () => ((await connected()) === true ? true : undefined), {
      description: 'the operator connected on slave3, as the master sees it',
    });
    await nodes.get('slave3')?.kill9();
    nodes.delete('slave3');
    await waitFor(async () => ((await connected()) === false ? true : undefined), {
      timeoutMs: 30_000,
      description: 'the master to close the dead slave sessions',
    });
    const status = await clusterStatus();
    expect(status.nodes.find((n) => n.node === 'slave3')?.alive).toBe(false);
  });
});
