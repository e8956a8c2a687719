/**
 * A node dying between two steps of a message's write path (fault points, `FAULT_POINT`), with
 * real processes on the real RabbitMQ (a fresh vhost) and PostgreSQL (a fresh schema):
 *
 * - `kill-after-publish`: the slave holding the visitor dies once the broker confirmed the
 *   message but before its sender got the ack. The re-send to the other slave is acknowledged
 *   with the same id, the operator sees one message, and PostgreSQL holds it once.
 * - `hold-before-publish`: the slave pushed the message to the operator connected to it, then
 *   died before publishing it. The re-send to the other slave makes a new event, yet the message
 *   keeps the id the operator already saw: one message, not two.
 * - `hold-before-ack`: published, the ack withheld, the other side sees it, then the node is
 *   killed: the re-send elsewhere answers the same message, stored once.
 */
import { type MessageView, type OperatorSnapshot } from '@chat/domain';
import type { SocketReply } from '@chat/server';
import {
  CLIENT_LIMITS_OFF,
  createTestSchemaName,
  createTestVhost,
  freePort,
  httpJson,
  type NodeProcessHandle,
  okData,
  SocketRecorder,
  startNodeProcess,
  type TestVhost,
  waitFor,
} from '@chat/testing';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';

const ROOT = join(__dirname, '../../..');
const MASTER_MAIN = join(ROOT, 'dist/apps/master/src/main.js');
const SLAVE_MAIN = join(ROOT, 'dist/apps/slave/src/main.js');
const DATABASE_URL = process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const ADMIN_KEY = 'write-path-e2e-admin-key-0123456789';
const ADMIN = { 'x-admin-key': ADMIN_KEY };
const TRIGGER = '#fault-point';
const NODES = ['master', 'slave1', 'slave2'] as const;
type NodeName = (typeof NODES)[number];

type FaultPoint = 'hold-before-publish' | 'hold-before-ack' | 'kill-after-publish';

interface OperatorDelta {
  items: ({ kind: 'message'; message: MessageView } | { kind: string })[];
}

describe('a node dying between the steps of the write path', () => {
  let dir: string;
  let vhost: TestVhost;
  let schema: string;
  let clusterFile: string;
  let pg: Client;
  const ports = {} as Record<NodeName, number>;
  const nodes = new Map<NodeName, NodeProcessHandle>();
  const sockets: SocketRecorder[] = [];

  const url = (node: NodeName): string => `http://127.0.0.1:${ports[node]}`;

  const startNode = async (node: NodeName, faultPoint?: FaultPoint): Promise<void> => {
    const handle = await startNodeProcess({
      script: node === 'master' ? MASTER_MAIN : SLAVE_MAIN,
      args: ['--node_name', node, '--cluster_config', clusterFile],
      name: node,
      env: {
        PORT: String(ports[node]),
        HOST: '127.0.0.1',
        DATA_DIR: join(dir, node),
        DATABASE_URL,
        DATABASE_SCHEMA: schema,
        JWT_SECRET: 'write-path-e2e-jwt-secret-0123456789-abcdef',
        CLUSTER_SECRET: 'write-path-e2e-cluster-secret-0123456789-abcdef',
        ADMIN_API_KEY: ADMIN_KEY,
        MQ_VIRTUAL_HOST: vhost.name,
        SEED_DEMO: 'false',
        LOG_LEVEL: 'warn',
        HEARTBEAT_INTERVAL_MS: '300',
        NODE_DEADLINE_MS: '1200',
        // the operator's console moves to the other slave: keep the chat meanwhile
        OPERATOR_GRACE_MS: '60000',
        LOGIN_RATE_LIMIT_PER_MINUTE: '1000',
        ...CLIENT_LIMITS_OFF,
        ...(faultPoint ? { FAULT_POINT: faultPoint, FAULT_TRIGGER: TRIGGER } : {}),
      },
      readyUrl: `${url(node)}/readyz`,
      readyTimeoutMs: 60_000,
    });
    nodes.set(node, handle);
  };

  const admin = async <T>(path: string, body: unknown): Promise<T> => {
    const response = await httpJson('POST', `${url('master')}${path}`, body, ADMIN);
    if (response.status >= 300) throw new Error(`${path}: ${JSON.stringify(response.body)}`);
    return response.body as T;
  };

  const connect = async (node: NodeName, path: string, token: string) => {
    const socket = await SocketRecorder.connect(url(node), path, token);
    sockets.push(socket);
    return socket;
  };

  /** A site with one online operator, whose delta socket is on `operatorNode`. */
  const siteWithOperator = async (operatorNode: NodeName) => {
    const siteId = (await admin<{ id: string }>('/l/admin/sites', { name: 'Faults' })).id;
    const email = `olga@${siteId.slice(-12)}.test`;
    await admin(`/l/admin/sites/${siteId}/operators`, {
      name: 'Olga',
      email,
      password: 'password-olga',
      maxChats: 5,
    });
    // The operator was created on the master; log in once the slave has it.
    const login = await waitFor(
      async () => {
        const r = await httpJson('POST', `${url(operatorNode)}/l/o/login`, {
          email,
          password: 'password-olga',
        });
        return r.status === 200 ? r : undefined;
      },
      { description: `a login on ${operatorNode}` },
    );
    const token = (login?.body as { token: string }).token;
    const set = await httpJson(
      'POST',
      `${url(operatorNode)}/l/o/set-status`,
      { status: 'online' },
      { authorization: `Bearer ${token}` },
    );
    expect(set.status).toBe(200);
    const operator = await connect(operatorNode, '/ws/o/delta', token);
    await operator.next<OperatorSnapshot>('state.full');
    return { siteId, operatorToken: token, operator };
  };

  /** A chat started on `node` once it knows the operator is online, assigned to them. */
  const startChat = async (node: NodeName, siteId: string) => {
    await waitFor(
      async () => {
        const r = await httpJson('GET', `${url(node)}/l/v/sites/${siteId}/availability`);
        return (r.body as { online?: unknown }).online === true;
      },
      { description: `the site available on ${node}` },
    );
    const started = await httpJson('POST', `${url(node)}/l/v/chats`, { siteId, name: 'Vera' });
    expect(started.status).toBe(201);
    return started.body as { chatId: string; token: string };
  };

  /** Every id the operator was shown for this client message id, in any delta or full state. */
  const idsShownTo = (operator: SocketRecorder, clientMessageId: string): string[] => {
    const ids = new Set<string>();
    for (const delta of operator.all<OperatorDelta>('state.delta')) {
      for (const item of delta.items) {
        if (item.kind !== 'message') continue;
        const { message } = item as { message: MessageView };
        if (message.clientMessageId === clientMessageId) ids.add(message.id);
      }
    }
    for (const full of operator.all<OperatorSnapshot>('state.full')) {
      for (const chat of [...full.chats, ...full.queue]) {
        for (const m of chat.messages) if (m.clientMessageId === clientMessageId) ids.add(m.id);
      }
    }
    return [...ids];
  };

  const storedRows = async (chatId: string, clientMessageId: string) =>
    (
      await pg.query<{ id: string }>(
        `SELECT id FROM "${schema}".messages WHERE chat_id = $1 AND client_message_id = $2`,
        [chatId, clientMessageId],
      )
    ).rows;

  /** Sends and does not wait for the ack (the node is about to die, or withholds it). */
  const sendUnacked = (visitor: SocketRecorder, clientMessageId: string, text: string): void => {
    visitor.socket.emit('message.send', { clientMessageId, text }, () => undefined);
  };

  const resend = async (node: NodeName, visitorToken: string, clientMessageId: string) => {
    const visitor = await connect(node, '/ws/v/chat', visitorToken);
    return okData(
      await visitor.request<SocketReply<MessageView>>('message.send', {
        clientMessageId,
        text: `${TRIGGER} the first attempt`,
      }),
    );
  };

  const restartSlave1 = async (faultPoint?: FaultPoint): Promise<void> => {
    await nodes.get('slave1')?.stop('SIGKILL');
    await startNode('slave1', faultPoint);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'chat-write-path-e2e-'));
    vhost = await createTestVhost('writepath');
    schema = createTestSchemaName('write_path_e2e');
    pg = new Client({ connectionString: DATABASE_URL });
    await pg.connect();
    for (const node of NODES) ports[node] = await freePort();
    clusterFile = join(dir, 'cluster.json');
    writeFileSync(
      clusterFile,
      JSON.stringify({
        cluster_name: 'writepath',
        chat_server_node_names: [...NODES],
        chat_server_master_node_name: 'master',
      }),
    );
    await startNode('master');
    await Promise.all([startNode('slave1'), startNode('slave2')]);
  }, 120_000);

  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });

  afterAll(async () => {
    await Promise.all([...nodes.values()].map((node) => node.stop()));
    await pg?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await pg?.end().catch(() => undefined);
    await vhost?.delete();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('kill-after-publish: the re-send elsewhere is acked with the same id, stored once', async () => {
    await restartSlave1('kill-after-publish');
    const { siteId, operator } = await siteWithOperator('slave2');
    const chat = await startChat('slave1', siteId);
    const visitor = await connect('slave1', '/ws/v/chat', chat.token);
    await visitor.next('chat.state');

    sendUnacked(visitor, 'c-killed', `${TRIGGER} the first attempt`);
    const exit = await nodes.get('slave1')?.exited;
    expect(exit?.signal).toBe('SIGKILL'); // it died at the fault point, not before
    // The broker had confirmed it: the operator on the other slave got it.
    await waitFor(() => idsShownTo(operator, 'c-killed').length > 0);

    const acked = await resend('slave2', chat.token, 'c-killed');
    expect(idsShownTo(operator, 'c-killed')).toEqual([acked.id]);
    await waitFor(async () => (await storedRows(chat.chatId, 'c-killed')).length > 0);
    await expect(storedRows(chat.chatId, 'c-killed')).resolves.toEqual([{ id: acked.id }]);
  });

  it('hold-before-publish: a message shown, then lost with its node, keeps its id on re-send', async () => {
    await restartSlave1('hold-before-publish');
    const { siteId, operator, operatorToken } = await siteWithOperator('slave1');
    const chat = await startChat('slave1', siteId);
    const visitor = await connect('slave1', '/ws/v/chat', chat.token);
    await visitor.next('chat.state');

    sendUnacked(visitor, 'c-held', `${TRIGGER} the first attempt`);
    // Applied on slave1 and pushed to the operator there, never published.
    await waitFor(() => idsShownTo(operator, 'c-held').length > 0);
    const shown = idsShownTo(operator, 'c-held');
    await nodes.get('slave1')?.kill9();

    // Both sides come back on slave2; the visitor re-sends (slave2 never saw the message).
    const console2 = await connect('slave2', '/ws/o/delta', operatorToken);
    await console2.next<OperatorSnapshot>('state.full');
    const acked = await resend('slave2', chat.token, 'c-held');
    await waitFor(() => idsShownTo(console2, 'c-held').length > 0);
    // What the operator saw before and after the failover is one message.
    expect([...new Set([...shown, ...idsShownTo(console2, 'c-held')])]).toEqual([acked.id]);
    await waitFor(async () => (await storedRows(chat.chatId, 'c-held')).length > 0);
    await expect(storedRows(chat.chatId, 'c-held')).resolves.toEqual([{ id: acked.id }]);
  });

  it('hold-before-ack: killed after the other side saw it, the re-send answers it, stored once', async () => {
    await restartSlave1('hold-before-ack');
    const { siteId, operator } = await siteWithOperator('slave2');
    const chat = await startChat('slave1', siteId);
    const visitor = await connect('slave1', '/ws/v/chat', chat.token);
    await visitor.next('chat.state');

    sendUnacked(visitor, 'c-unacked', `${TRIGGER} the first attempt`);
    await waitFor(() => idsShownTo(operator, 'c-unacked').length > 0);
    await nodes.get('slave1')?.kill9();

    const acked = await resend('slave2', chat.token, 'c-unacked');
    expect(idsShownTo(operator, 'c-unacked')).toEqual([acked.id]);
    await waitFor(async () => (await storedRows(chat.chatId, 'c-unacked')).length > 0);
    await expect(storedRows(chat.chatId, 'c-unacked')).resolves.toEqual([{ id: acked.id }]);
  });
});
