import { execFile, execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import { connect } from 'amqplib';
import { Client } from 'pg';
import { describeError } from './describe-error';
import { TEST_AMQP_URL } from './test-vhost';
import { waitFor } from './wait-for';

const execFileAsync = promisify(execFile);

/** Runs a command to completion; rejects with its output when it fails. */
export type CommandRunner = (command: string, args: readonly string[]) => Promise<string>;

/** The synchronous twin, for the process-exit hook (no event loop left there). */
export type SyncCommandRunner = (command: string, args: readonly string[]) => void;

const runCommand: CommandRunner = async (command, args) => {
  try {
    const { stdout } = await execFileAsync(command, [...args], { timeout: 120_000 });
    return stdout;
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string };
    throw new Error(
      `${command} ${args.join(' ')} failed: ${describeError(error)}\n${failed.stdout ?? ''}${failed.stderr ?? ''}`,
      { cause: error },
    );
  }
};

const runCommandSync: SyncCommandRunner = (command, args) => {
  execFileSync(command, [...args], { stdio: 'ignore', timeout: 120_000 });
};

/** Default `TEST_DATABASE_URL` of the integration tests. */
export const TEST_DATABASE_URL =
  process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface ServiceFaultsOptions {
  /** What must answer again after the broker is started: an AMQP URL (a test vhost's URL). */
  readonly amqpUrl?: string;
  /** What must accept a connection again after PostgreSQL is started. */
  readonly databaseUrl?: string;
  /** The local PostgreSQL cluster (`pg_ctlcluster VERSION NAME`). Default: newest in /etc/postgresql, `main`. */
  readonly postgresVersion?: string;
  readonly postgresCluster?: string;
  /** How long to wait for a service to answer after starting it. Default 90 s. */
  readonly readyTimeoutMs?: number;
  /** Progress lines (what was stopped or started, how long it took). Default: none. */
  readonly log?: (line: string) => void;
  /** For unit tests: replaces the real commands and readiness probes. */
  readonly run?: CommandRunner;
  readonly runSync?: SyncCommandRunner;
  readonly probeBroker?: (url: string) => Promise<void>;
  readonly probePostgres?: (url: string) => Promise<void>;
  /**
   * Install hooks that restart, synchronously, what is still stopped when the process exits or
   * gets SIGINT/SIGTERM (the signal is then raised again). Default true.
   */
  readonly exitHook?: boolean;
  /** For unit tests: what re-raises a caught signal. Default `process.kill(process.pid, s)`. */
  readonly reraise?: (signal: NodeJS.Signals) => void;
}

type Service = 'rabbitmq' | 'postgres';

/**
 * Stops and starts the machine's shared RabbitMQ and PostgreSQL, for chaos tests (as root, on a
 * development or CI machine, never in production). The broker is stopped with
 * `rabbitmqctl stop_app` (the Erlang node stays up; vhosts, users, permissions and durable queues
 * survive) and started with `rabbitmqctl start_app`; PostgreSQL with
 * `pg_ctlcluster --skip-systemctl-redirect VERSION main stop|start` (fast shutdown: clients are
 * disconnected). Each start waits until the service answers: an AMQP connection to `amqpUrl`,
 * a `pg` connection to `databaseUrl`.
 *
 * Other people's tests share these services: call {@link restoreAll} in `afterAll` (or `finally`)
 * whatever happened. As a last resort a process-exit hook starts, synchronously, whatever this
 * object stopped and did not start again.
 */
export class ServiceFaults {
  private readonly stopped = new Set<Service>();
  private readonly run: CommandRunner;
  private readonly runSync: SyncCommandRunner;
  private readonly log: (line: string) => void;
  private readonly exitHook = (): void => this.restoreAllSync();
  private readonly signalHook = (signal: NodeJS.Signals): void => {
    this.restoreAllSync();
    this.disarmSignals();
    (this.options.reraise ?? ((s: NodeJS.Signals) => process.kill(process.pid, s)))(signal);
  };
  private signalsArmed = false;

  constructor(private readonly options: ServiceFaultsOptions = {}) {
    this.run = options.run ?? runCommand;
    this.runSync = options.runSync ?? runCommandSync;
    this.log = options.log ?? (() => undefined);
    if (options.exitHook ?? true) process.once('exit', this.exitHook);
  }

  /** Services this object stopped and has not started again. */
  get stoppedServices(): readonly Service[] {
    return [...this.stopped];
  }

  /** `rabbitmqctl stop_app`: every client connection of every vhost drops. */
  async stopBroker(): Promise<void> {
    this.stopped.add('rabbitmq');
    this.armSignals();
    await this.timed('rabbitmqctl stop_app', () => this.run('rabbitmqctl', ['stop_app']));
  }

  /** `rabbitmqctl start_app`, then waits until `amqpUrl` accepts an AMQP connection. */
  async startBroker(): Promise<void> {
    await this.timed('rabbitmqctl start_app', () => this.run('rabbitmqctl', ['start_app']));
    await this.waitForBroker();
    this.stopped.delete('rabbitmq');
    if (this.stopped.size === 0) this.disarmSignals();
  }

  /** Resolves once `amqpUrl` accepts an AMQP connection (the vhost answers). */
  async waitForBroker(): Promise<void> {
    const url = this.options.amqpUrl ?? TEST_AMQP_URL;
    const probe = this.options.probeBroker ?? probeBroker;
    await this.timed('broker answering', () =>
      waitFor(() => probe(url).then(() => true), {
        timeoutMs: this.options.readyTimeoutMs ?? 90_000,
        intervalMs: 250,
        description: 'RabbitMQ to accept an AMQP connection',
      }),
    );
  }

  /** `pg_ctlcluster ... stop` (fast: open sessions are terminated). */
  async stopPostgres(): Promise<void> {
    this.stopped.add('postgres');
    this.armSignals();
    const args = this.pgArgs('stop');
    await this.timed(`pg_ctlcluster ${args.join(' ')}`, () => this.run('pg_ctlcluster', args));
  }

  /** `pg_ctlcluster ... start`, then waits until `databaseUrl` accepts a connection. */
  async startPostgres(): Promise<void> {
    const args = this.pgArgs('start');
    try {
      await this.timed(`pg_ctlcluster ${args.join(' ')}`, () => this.run('pg_ctlcluster', args));
    } catch (error) {
      // "Cluster is already running" (a stop that failed) is fine when the database answers.
      const probe = this.options.probePostgres ?? probePostgres;
      const up = await probe(this.options.databaseUrl ?? TEST_DATABASE_URL).then(
        () => true,
        () => false,
      );
      if (!up) throw error;
    }
    await this.waitForPostgres();
    this.stopped.delete('postgres');
    if (this.stopped.size === 0) this.disarmSignals();
  }

  async waitForPostgres(): Promise<void> {
    const url = this.options.databaseUrl ?? TEST_DATABASE_URL;
    const probe = this.options.probePostgres ?? probePostgres;
    await this.timed('PostgreSQL answering', () =>
      waitFor(() => probe(url).then(() => true), {
        timeoutMs: this.options.readyTimeoutMs ?? 90_000,
        intervalMs: 250,
        description: 'PostgreSQL to accept a connection',
      }),
    );
  }

  /**
   * Starts whatever this object stopped (each service tried even if another fails) and removes the
   * exit hook; rejects afterwards with every failure. Call it in `afterAll`.
   */
  async restoreAll(): Promise<void> {
    const failures: string[] = [];
    if (this.stopped.has('rabbitmq')) {
      await this.startBroker().catch((error: unknown) => failures.push(describeError(error)));
    }
    if (this.stopped.has('postgres')) {
      await this.startPostgres().catch((error: unknown) => failures.push(describeError(error)));
    }
    if (failures.length === 0) process.off('exit', this.exitHook);
    if (failures.length > 0) {
      throw new Error(`could not restart the shared services:\n${failures.join('\n')}`);
    }
  }

  /** While a service is stopped, SIGINT/SIGTERM first restart it (a killed run must not leave it down). */
  private armSignals(): void {
    if (this.signalsArmed || !(this.options.exitHook ?? true)) return;
    this.signalsArmed = true;
    process.on('SIGINT', this.signalHook);
    process.on('SIGTERM', this.signalHook);
  }

  private disarmSignals(): void {
    if (!this.signalsArmed) return;
    this.signalsArmed = false;
    process.off('SIGINT', this.signalHook);
    process.off('SIGTERM', this.signalHook);
  }

  /** The exit and signal hooks: synchronous, best effort. */
  private restoreAllSync(): void {
    if (this.stopped.has('rabbitmq')) {
      try {
        this.runSync('rabbitmqctl', ['start_app']);
        this.stopped.delete('rabbitmq');
      } catch {
        // Nothing more can be done while the process exits.
      }
    }
    if (this.stopped.has('postgres')) {
      try {
        this.runSync('pg_ctlcluster', this.pgArgs('start'));
        this.stopped.delete('postgres');
      } catch {
        // As above.
      }
    }
  }

  private pgArgs(action: 'start' | 'stop'): string[] {
    const version = this.options.postgresVersion ?? newestPostgresVersion();
    const cluster = this.options.postgresCluster ?? 'main';
    return ['--skip-systemctl-redirect', version, cluster, action];
  }

  private async timed<T>(what: string, action: () => Promise<T>): Promise<T> {
    const started = Date.now();
    const result = await action();
    this.log(`${what}: ${Date.now() - started} ms`);
    return result;
  }
}

/** The newest PostgreSQL version with a configuration under /etc/postgresql (Debian layout). */
export function newestPostgresVersion(dir = '/etc/postgresql'): string {
  let versions: string[];
  try {
    versions = readdirSync(dir).filter((name) => /^\d+(\.\d+)?$/.test(name));
  } catch (error) {
    throw new Error(`no PostgreSQL cluster to control: cannot read ${dir}`, { cause: error });
  }
  const newest = versions.sort((a, b) => Number(a) - Number(b)).pop();
  if (newest === undefined) throw new Error(`no PostgreSQL version under ${dir}`);
  return newest;
}

async function probeBroker(url: string): Promise<void> {
  const connection = await connect(url, { timeout: 2000 });
  await connection.close();
}

async function probePostgres(url: string): Promise<void> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
  } finally {
    await client.end().catch(() => undefined);
  }
}
