/**
 * A real cluster for the chaos suite: a master and slaves as node processes of `dist/`, each
 * reaching RabbitMQ through its own {@link TcpProxy} (so one node can be cut off the broker), a
 * fresh vhost and PostgreSQL schema, and the real nginx in front. Nodes can be killed, paused,
 * stopped and started again under the same name and port; every process's last output lines are
 * kept, the lives before a restart included, for the failure report.
 */
import {
  createTestSchemaName,
  createTestVhost,
  freePort,
  type NodeProcessHandle,
  startNodeProcess,
  TcpProxy,
  TEST_DATABASE_URL,
  type TestVhost,
} from '@chat/testing';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';

export interface ChaosClusterOptions {
  /** The repository root (dist/ and tools/cluster/nginx.mjs are found from it). */
  readonly root: string;
  readonly clusterName: string;
  /** Every node, the master first (the cluster file's order). */
  readonly nodes: readonly string[];
  readonly master: string;
  /** Added to every node's environment. */
  readonly env: Record<string, string>;
  readonly adminKey: string;
  readonly jwtSecret: string;
  readonly log: (line: string) => void;
}

const BROKER_HOST = '127.0.0.1';
const BROKER_PORT = Number(
  new URL(process.env['TEST_AMQP_URL'] ?? 'amqp://127.0.0.1:5672').port || 5672,
);

export class ChaosCluster {
  readonly dir: string;
  readonly schema: string;
  readonly databaseUrl = TEST_DATABASE_URL;
  readonly ports = new Map<string, number>();
  readonly proxies = new Map<string, TcpProxy>();
  /** The running process of each node (absent while it is down). */
  private readonly running = new Map<string, NodeProcessHandle>();
  /** Every process ever started, in order, with its lives' outputs. */
  private readonly lives: { name: string; handle: NodeProcessHandle; startedAt: number }[] = [];
  private readonly paused = new Set<number>();
  /** Processes the suite ended itself (their exit is expected). */
  private readonly ended = new Set<NodeProcessHandle>();
  private readonly crashed: string[] = [];
  private nginx: NodeProcessHandle | undefined;
  private vhost: TestVhost | undefined;
  private clusterFile = '';
  entry = '';

  private constructor(private readonly options: ChaosClusterOptions) {
    this.dir = mkdtempSync(join(tmpdir(), 'chat-chaos-'));
    this.schema = createTestSchemaName('chaos');
  }

  /** Checks the build and nginx, then starts the master, the slaves and nginx. */
  static async start(options: ChaosClusterOptions): Promise<ChaosCluster> {
    for (const main of ['dist/apps/master/src/main.js', 'dist/apps/slave/src/main.js']) {
      if (!existsSync(join(options.root, main))) {
        throw new Error(`${main} is missing: run "npm run build" first (npm run test:chaos does)`);
      }
    }
    const cluster = new ChaosCluster(options);
    await cluster.boot();
    return cluster;
  }

  get vhostName(): string {
    return this.vhost?.name ?? '';
  }

  get amqpUrl(): string {
    return this.vhost?.url ?? '';
  }

  url(node: string): string {
    return `http://127.0.0.1:${this.ports.get(node) ?? 0}`;
  }

  proxy(node: string): TcpProxy {
    const proxy = this.proxies.get(node);
    if (!proxy) throw new Error(`no broker proxy for ${node}`);
    return proxy;
  }

  isRunning(node: string): boolean {
    return this.running.has(node);
  }

  pid(node: string): number {
    const handle = this.running.get(node);
    if (!handle) throw new Error(`${node} is not running`);
    return handle.pid;
  }

  private async boot(): Promise<void> {
    const { options } = this;
    this.vhost = await createTestVhost('chaos');
    for (const node of [...options.nodes, 'nginx']) this.ports.set(node, await freePort());
    for (const node of options.nodes) {
      this.proxies.set(
        node,
        await TcpProxy.start({ targetHost: BROKER_HOST, targetPort: BROKER_PORT, name: node }),
      );
    }
    this.clusterFile = join(this.dir, 'cluster.json');
    writeFileSync(
      this.clusterFile,
      JSON.stringify({
        cluster_name: options.clusterName,
        chat_server_node_names: options.nodes,
        chat_server_master_node_name: options.master,
      }),
    );
    // The master first, alone: it migrates the fresh schema.
    await this.startNode(options.master);
    await Promise.all(
      options.nodes.filter((n) => n !== options.master).map((n) => this.startNode(n)),
    );
    this.entry = this.url('nginx');
    const slaves = options.nodes.filter((n) => n !== options.master);
    this.nginx = await startNodeProcess({
      script: join(options.root, 'tools/cluster/nginx.mjs'),
      args: [
        '--listen',
        `127.0.0.1:${this.ports.get('nginx') ?? 0}`,
        '--master',
        `127.0.0.1:${this.ports.get(options.master) ?? 0}`,
        ...slaves.flatMap((s) => ['--slave', `127.0.0.1:${this.ports.get(s) ?? 0}`]),
      ],
      name: 'nginx',
      readyUrl: `${this.entry}/nginx-healthz`,
      readyTimeoutMs: 30_000,
    });
    this.lives.push({ name: 'nginx', handle: this.nginx, startedAt: Date.now() });
  }

  private env(node: string): Record<string, string> {
    const { options } = this;
    return {
      PORT: String(this.ports.get(node) ?? 0),
      HOST: '127.0.0.1',
      DATA_DIR: join(this.dir, node),
      DATABASE_URL: this.databaseUrl,
      DATABASE_SCHEMA: this.schema,
      JWT_SECRET: options.jwtSecret,
      // Signs every broker message (docs/protocol.md "Cluster wire security"); the same on every node.
      CLUSTER_SECRET: `chaos-cluster-secret-of-${options.clusterName}-0123456789abcdef`,
      ADMIN_API_KEY: options.adminKey,
      MQ_HOST: '127.0.0.1',
      MQ_PORT: String(this.proxy(node).port),
      MQ_VIRTUAL_HOST: this.vhost?.name ?? '/',
      SEED_DEMO: 'false',
      ...options.env,
    };
  }

  /** Starts `node` (again) and waits for its /readyz. */
  async startNode(node: string): Promise<NodeProcessHandle> {
    if (this.running.has(node)) throw new Error(`${node} is already running`);
    const main = node === this.options.master ? 'master' : 'slave';
    const started = Date.now();
    const handle = await startNodeProcess({
      script: join(this.options.root, `dist/apps/${main}/src/main.js`),
      args: ['--node_name', node, '--cluster_config', this.clusterFile],
      name: node,
      env: this.env(node),
      readyUrl: `${this.url(node)}/readyz`,
      readyTimeoutMs: 60_000,
    });
    this.running.set(node, handle);
    this.lives.push({ name: node, handle, startedAt: started });
    void handle.exited.then((exit) => {
      if (this.ended.has(handle)) return;
      this.crashed.push(
        `${node} (pid ${handle.pid}) exited: code ${exit.code} signal ${exit.signal}`,
      );
      if (this.running.get(node) === handle) this.running.delete(node);
    });
    this.options.log(`${node} ready in ${Date.now() - started} ms (pid ${handle.pid})`);
    return handle;
  }

  /**
   * The node is about to end itself (a write-path fault point): its exit is not a crash. Resolves
   * when it has exited.
   */
  async expectExit(node: string): Promise<void> {
    const handle = this.running.get(node);
    if (!handle) throw new Error(`${node} is not running`);
    this.ended.add(handle);
    await handle.exited;
    this.running.delete(node);
  }

  /** kill -9. */
  async kill9(node: string): Promise<void> {
    const handle = this.running.get(node);
    if (!handle) throw new Error(`${node} is not running`);
    this.paused.delete(handle.pid);
    this.ended.add(handle);
    await handle.kill9();
    this.running.delete(node);
  }

  /**
   * SIGTERM (clean shutdown), SIGKILL after `timeoutMs`; resolves with how it ended (`code 0`, or
   * `SIGTERM`: a NestJS app re-raises the signal once it has shut down).
   */
  async stopNode(node: string, timeoutMs = 30_000): Promise<string> {
    const handle = this.running.get(node);
    if (!handle) return 'not running';
    this.ended.add(handle);
    if (this.paused.delete(handle.pid)) process.kill(handle.pid, 'SIGCONT');
    const started = Date.now();
    await handle.stop('SIGTERM', timeoutMs);
    const exit = await handle.exited;
    this.running.delete(node);
    const how = exit.signal ?? `code ${exit.code}`;
    return Date.now() - started >= timeoutMs ? `${how} (killed after ${timeoutMs} ms)` : how;
  }

  /** SIGSTOP: the process freezes, its sockets stay open. */
  pause(node: string): void {
    const pid = this.pid(node);
    process.kill(pid, 'SIGSTOP');
    this.paused.add(pid);
  }

  /** SIGCONT. */
  resume(node: string): void {
    const pid = this.pid(node);
    process.kill(pid, 'SIGCONT');
    this.paused.delete(pid);
  }

  /** The kept output of every process, oldest life first, `tail` lines each. */
  logs(tail = 500): string {
    return this.lives
      .map(({ name, handle, startedAt }) => {
        const lines = handle.output().split('\n');
        const shown = lines.slice(-tail).join('\n');
        return `----- ${name} (pid ${handle.pid}, started ${new Date(startedAt).toISOString()}, ${lines.length} lines kept) -----\n${shown}`;
      })
      .join('\n');
  }

  /** Node processes that exited without being killed or stopped by the suite. */
  get crashes(): readonly string[] {
    return this.crashed;
  }

  /**
   * Stops everything, whatever state it is in: resumes paused processes, restores the proxies,
   * stops nginx, the slaves and the master, closes the proxies, drops the schema and the vhost.
   * Every step runs even if an earlier one fails; the failures are rethrown together.
   */
  async shutdown(): Promise<void> {
    const failures: unknown[] = [];
    const step = async (action: () => unknown): Promise<void> => {
      try {
        await action();
      } catch (error) {
        failures.push(error);
      }
    };
    for (const pid of this.paused) {
      await step(() => process.kill(pid, 'SIGCONT'));
    }
    this.paused.clear();
    for (const proxy of this.proxies.values()) proxy.restore();
    await step(() => this.nginx?.stop());
    await Promise.all(
      [...this.running.keys()]
        .filter((n) => n !== this.options.master)
        .map((n) => step(() => this.stopNode(n, 20_000))),
    );
    await step(() => this.stopNode(this.options.master, 20_000));
    for (const proxy of this.proxies.values()) await step(() => proxy.close());
    await step(async () => {
      const pg = new Client({ connectionString: this.databaseUrl });
      await pg.connect();
      try {
        await pg.query(`DROP SCHEMA IF EXISTS "${this.schema}" CASCADE`);
      } finally {
        await pg.end();
      }
    });
    await step(() => this.vhost?.delete());
    rmSync(this.dir, { recursive: true, force: true });
    if (failures.length > 0) {
      throw new AggregateError(failures, 'the chaos cluster did not shut down cleanly');
    }
  }
}
