/**
 * What the harness measures: our cluster (master + two slaves, visitors on one slave, operators
 * on the other) and the bare relay with a batched PostgreSQL insert, each set up with the same
 * numbers of visitors and operators and driven by the same load generators.
 */
import {
  CLIENT_LIMITS_OFF,
  createTestSchemaName,
  createTestVhost,
  freePort,
  httpJson,
  type NodeProcessHandle,
  startNodeProcess,
  TEST_DATABASE_URL,
  type TestVhost,
  waitFor,
} from '@chat/testing';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { GeneratorProcess } from './generator-client';
import { type ProcessGroup, pidsNamed } from './procs';

export interface TargetOptions {
  readonly root: string;
  readonly visitors: number;
  readonly operators: number;
  /** added to our nodes' environment (tuning experiments) */
  readonly nodeEnv?: Record<string, string>;
  /** when set, our nodes write CPU profiles (`--cpu-prof`) into this directory at exit */
  readonly profileDir?: string;
  readonly log: (line: string) => void;
}

export interface Target {
  readonly name: string;
  readonly visitors: GeneratorProcess;
  readonly operators: GeneratorProcess;
  /** the server side, for the CPU and memory figures */
  readonly groups: ProcessGroup[];
  /** how many of these client message ids the database holds */
  stored(cmids: readonly string[]): Promise<number>;
  stop(): Promise<void>;
}

/** The machine's shared services: their CPU is part of every message's cost. */
const SERVICES: ProcessGroup[] = [
  { name: 'rabbitmq', pids: () => pidsNamed(['beam.smp', 'erl_child_setup', 'inet_gethost']) },
  { name: 'postgres', pids: () => pidsNamed(['postgres']) },
];

/** The names of the shared services' groups (the rest are the target's own processes). */
export const SERVICE_NAMES: ReadonlySet<string> = new Set(SERVICES.map((s) => s.name));

const handleGroup = (name: string, handle: NodeProcessHandle): ProcessGroup => ({
  name,
  pids: () => [handle.pid],
});

export async function startOurs(options: TargetOptions): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'chat-bench-'));
  const vhost = await createTestVhost('bench');
  const schema = createTestSchemaName('bench');
  const adminKey = 'bench-admin-key-0123456789abcdef';
  const names = ['master', 'slave1', 'slave2'] as const;
  const ports: Record<string, number> = {};
  for (const name of names) ports[name] = await freePort();
  const url = (name: string): string => `http://127.0.0.1:${ports[name] ?? 0}`;
  const clusterFile = join(dir, 'cluster.json');
  writeFileSync(
    clusterFile,
    JSON.stringify({
      cluster_name: 'bench',
      chat_server_node_names: [...names],
      chat_server_master_node_name: 'master',
    }),
  );
  const nodes = new Map<string, NodeProcessHandle>();
  const start = async (name: string): Promise<void> => {
    const app = name === 'master' ? 'master' : 'slave';
    nodes.set(
      name,
      await startNodeProcess({
        script: join(options.root, `dist/apps/${app}/src/main.js`),
        args: ['--node_name', name, '--cluster_config', clusterFile],
        name,
        ...(options.profileDir
          ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`] }
          : {}),
        env: {
          PORT: String(ports[name]),
          HOST: '127.0.0.1',
          DATA_DIR: join(dir, name),
          DATABASE_URL: TEST_DATABASE_URL,
          DATABASE_SCHEMA: schema,
          JWT_SECRET: 'bench-jwt-secret-0123456789-abcdefghijkl',
          CLUSTER_SECRET: 'bench-cluster-secret-0123456789-abcdefgh',
          ADMIN_API_KEY: adminKey,
          MQ_VIRTUAL_HOST: vhost.name,
          SEED_DEMO: 'false',
          LOG_LEVEL: 'warn',
          ...CLIENT_LIMITS_OFF,
          LOGIN_RATE_LIMIT_PER_MINUTE: '0',
          ...options.nodeEnv,
        },
        readyUrl: `${url(name)}/readyz`,
        readyTimeoutMs: 60_000,
      }),
    );
  };
  await start('master');
  await Promise.all([start('slave1'), start('slave2')]);

  const admin = async <T>(path: string, body: unknown): Promise<T> => {
    const res = await httpJson('POST', `${url('master')}${path}`, body, {
      'x-admin-key': adminKey,
    });
    if (res.status >= 300) throw new Error(`${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as T;
  };
  const siteId = (await admin<{ id: string }>('/l/admin/sites', { name: 'Bench' })).id;
  const maxChats = Math.ceil(options.visitors / options.operators);
  const operatorTokens: string[] = [];
  for (let i = 0; i < options.operators; i += 1) {
    const email = `op${i}@bench.test`;
    await admin(`/l/admin/sites/${siteId}/operators`, {
      name: `Operator ${i}`,
      email,
      password: `password-bench-${i}`,
      maxChats,
    });
    const login = await waitFor(
      async () => {
        const r = await httpJson('POST', `${url('slave2')}/l/o/login`, {
          email,
          password: `password-bench-${i}`,
        });
        return r.status === 200 ? (r.body as { token: string }) : undefined;
      },
      { description: `a login of operator ${i} on slave2` },
    );
    if (!login) throw new Error('no login');
    const set = await httpJson(
      'POST',
      `${url('slave2')}/l/o/set-status`,
      { status: 'online' },
      { authorization: `Bearer ${login.token}` },
    );
    if (set.status !== 200) throw new Error(`set-status: ${set.status}`);
    operatorTokens.push(login.token);
  }
  const operators = GeneratorProcess.start();
  await operators.connect(
    operatorTokens.map((token) => ({ url: url('slave2'), path: '/ws/o/delta', auth: { token } })),
  );
  await waitFor(
    async () => {
      const r = await httpJson('GET', `${url('slave1')}/l/v/sites/${siteId}/availability`);
      return (r.body as { online?: unknown }).online === true;
    },
    { description: 'the site available on slave1' },
  );
  const visitorTokens: string[] = [];
  for (let i = 0; i < options.visitors; i += 1) {
    const started = await httpJson('POST', `${url('slave1')}/l/v/chats`, {
      siteId,
      name: `Visitor ${i}`,
    });
    if (started.status !== 201) throw new Error(`chat start: ${started.status}`);
    visitorTokens.push((started.body as { token: string }).token);
  }
  // Every chat assigned: a waiting chat's messages would go to every operator of the site.
  await waitFor(
    async () => {
      const r = await httpJson(
        'GET',
        `${url('master')}/l/admin/sites/${siteId}/operators`,
        undefined,
        {
          'x-admin-key': adminKey,
        },
      );
      const list = r.body as { load: number }[];
      return list.reduce((sum, o) => sum + o.load, 0) === options.visitors;
    },
    { timeoutMs: 30_000, description: 'every chat assigned' },
  );
  const visitors = GeneratorProcess.start();
  await visitors.connect(
    visitorTokens.map((token) => ({ url: url('slave1'), path: '/ws/v/chat', auth: { token } })),
  );
  options.log(`ours: master + 2 slaves up, ${options.visitors} chats assigned`);

  const pg = new Client({ connectionString: TEST_DATABASE_URL });
  await pg.connect();
  return {
    name: 'ours',
    visitors,
    operators,
    groups: [
      ...[...nodes.entries()].map(([name, handle]) => handleGroup(name, handle)),
      ...SERVICES,
    ],
    stored: async (cmids) =>
      Number(
        (
          await pg.query<{ n: string }>(
            `SELECT count(DISTINCT client_message_id) AS n FROM "${schema}".messages WHERE client_message_id = ANY($1)`,
            [cmids],
          )
        ).rows[0]?.n ?? 0,
      ),
    stop: async () => {
      visitors.close();
      operators.close();
      await Promise.all([...nodes.values()].map((node) => node.stop()));
      await pg.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
      await pg.end();
      await vhost.delete();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function startBare(options: TargetOptions): Promise<Target> {
  const vhost: TestVhost = await createTestVhost('benchbare');
  const schema = createTestSchemaName('bench_bare');
  const pg = new Client({ connectionString: TEST_DATABASE_URL });
  await pg.connect();
  await pg.query(`CREATE SCHEMA "${schema}"`);
  const table = `"${schema}".messages`;
  await pg.query(
    `CREATE TABLE ${table} (id uuid PRIMARY KEY, client_message_id text NOT NULL, text text NOT NULL)`,
  );
  const script = join(options.root, 'dist/tools/bench/src/baselines/bare-relay.js');
  const relay = async (role: 'in' | 'out'): Promise<{ handle: NodeProcessHandle; url: string }> => {
    const port = await freePort();
    const args = [
      '--role',
      role,
      '--port',
      String(port),
      '--amqp',
      vhost.url,
      '--exchange',
      'bare',
    ];
    if (role === 'in') args.push('--pg', TEST_DATABASE_URL, '--table', table);
    const handle = await startNodeProcess({
      script,
      args,
      name: `bare-${role}`,
      env: {},
      readyUrl: `http://127.0.0.1:${port}/readyz`,
      readyTimeoutMs: 30_000,
    });
    return { handle, url: `http://127.0.0.1:${port}` };
  };
  const out = await relay('out');
  const into = await relay('in');
  const operators = GeneratorProcess.start();
  await operators.connect(
    Array.from({ length: options.operators }, (_, i) => ({
      url: out.url,
      path: '/ws/o/delta',
      auth: { to: String(i) },
    })),
  );
  const visitors = GeneratorProcess.start();
  await visitors.connect(
    Array.from({ length: options.visitors }, (_, i) => ({
      url: into.url,
      path: '/ws/v/chat',
      auth: { to: String(i % options.operators) },
    })),
  );
  options.log('bare+pg: relays up');
  return {
    name: 'bare+pg',
    visitors,
    operators,
    groups: [
      handleGroup('relay-in', into.handle),
      handleGroup('relay-out', out.handle),
      ...SERVICES,
    ],
    stored: async (cmids) =>
      Number(
        (
          await pg.query<{ n: string }>(
            `SELECT count(DISTINCT client_message_id) AS n FROM ${table} WHERE client_message_id = ANY($1)`,
            [cmids],
          )
        ).rows[0]?.n ?? 0,
      ),
    stop: async () => {
      visitors.close();
      operators.close();
      await Promise.all([into.handle.stop(), out.handle.stop()]);
      await pg.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
      await pg.end();
      await vhost.delete();
    },
  };
}
