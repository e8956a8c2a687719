import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newestPostgresVersion, ServiceFaults, type ServiceFaultsOptions } from './faults';

/** The commands a ServiceFaults ran, with fake services that are up unless stopped. */
function fake(overrides: Partial<ServiceFaultsOptions> = {}) {
  const commands: string[] = [];
  const up = { rabbitmq: true, postgres: true };
  const faults = new ServiceFaults({
    postgresVersion: '15',
    exitHook: false,
    readyTimeoutMs: 500,
    run: (command, args) => {
      const line = `${command} ${args.join(' ')}`;
      commands.push(line);
      if (line === 'rabbitmqctl stop_app') up.rabbitmq = false;
      if (line === 'rabbitmqctl start_app') up.rabbitmq = true;
      if (line.endsWith(' stop')) up.postgres = false;
      if (line.endsWith(' start')) {
        if (up.postgres) return Promise.reject(new Error('Cluster is already running.'));
        up.postgres = true;
      }
      return Promise.resolve('');
    },
    probeBroker: () => (up.rabbitmq ? Promise.resolve() : Promise.reject(new Error('refused'))),
    probePostgres: () => (up.postgres ? Promise.resolve() : Promise.reject(new Error('refused'))),
    ...overrides,
  });
  return { faults, commands, up };
}

describe('ServiceFaults', () => {
  it('stops and starts the broker with rabbitmqctl stop_app / start_app', async () => {
    const { faults, commands, up } = fake();
    await faults.stopBroker();
    expect(up.rabbitmq).toBe(false);
    expect(faults.stoppedServices).toEqual(['rabbitmq']);
    await faults.startBroker();
    expect(up.rabbitmq).toBe(true);
    expect(faults.stoppedServices).toEqual([]);
    expect(commands).toEqual(['rabbitmqctl stop_app', 'rabbitmqctl start_app']);
  });

  it('stops and starts PostgreSQL with pg_ctlcluster, bypassing systemctl', async () => {
    const { faults, commands } = fake();
    await faults.stopPostgres();
    await faults.startPostgres();
    expect(commands).toEqual([
      'pg_ctlcluster --skip-systemctl-redirect 15 main stop',
      'pg_ctlcluster --skip-systemctl-redirect 15 main start',
    ]);
  });

  it('restoreAll starts only what it stopped, and is a no-op afterwards', async () => {
    const { faults, commands, up } = fake();
    await faults.stopBroker();
    await faults.stopPostgres();
    await faults.restoreAll();
    expect(up).toEqual({ rabbitmq: true, postgres: true });
    expect(commands.slice(2)).toEqual([
      'rabbitmqctl start_app',
      'pg_ctlcluster --skip-systemctl-redirect 15 main start',
    ]);
    await faults.restoreAll();
    expect(commands).toHaveLength(4);
  });

  it('restoreAll accepts a database that is already running (its stop had failed)', async () => {
    const { faults } = fake({
      run: () => Promise.reject(new Error('Cluster is already running.')),
    });
    await expect(faults.stopPostgres()).rejects.toThrow('already running');
    await expect(faults.restoreAll()).resolves.toBeUndefined();
    expect(faults.stoppedServices).toEqual([]);
  });

  it('restoreAll tries every service and reports what stayed down', async () => {
    const broken = fake({
      run: (command) =>
        command === 'rabbitmqctl' ? Promise.reject(new Error('nodedown')) : Promise.resolve(''),
      probeBroker: () => Promise.reject(new Error('refused')),
      probePostgres: () => Promise.resolve(),
    }).faults;
    await broken.stopBroker().catch(() => undefined);
    await broken.stopPostgres();
    await expect(broken.restoreAll()).rejects.toThrow(/could not restart[\s\S]*nodedown/);
    expect(broken.stoppedServices).toEqual(['rabbitmq']);
  });

  it('the exit hook starts, synchronously, what is still stopped', async () => {
    const sync: string[] = [];
    const { faults } = fake({
      exitHook: true,
      runSync: (c, a) => sync.push(`${c} ${a.join(' ')}`),
    });
    await faults.stopBroker();
    await faults.stopPostgres();
    const hooks = process.listeners('exit');
    const hook = hooks[hooks.length - 1];
    hook?.call(process, 0);
    expect(sync).toEqual([
      'rabbitmqctl start_app',
      'pg_ctlcluster --skip-systemctl-redirect 15 main start',
    ]);
    expect(faults.stoppedServices).toEqual([]);
    process.off('exit', hook as () => void);
  });

  it('on SIGTERM while a service is down, starts it synchronously and raises the signal again', async () => {
    const sync: string[] = [];
    const raised: string[] = [];
    const { faults } = fake({
      exitHook: true,
      runSync: (c, a) => sync.push(`${c} ${a.join(' ')}`),
      reraise: (signal) => raised.push(signal),
    });
    const before = process.listenerCount('SIGTERM');
    await faults.stopBroker();
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    const hook = process.listeners('SIGTERM').at(-1) as (s: NodeJS.Signals) => void;
    hook('SIGTERM');
    expect(sync).toEqual(['rabbitmqctl start_app']);
    expect(raised).toEqual(['SIGTERM']);
    expect(process.listenerCount('SIGTERM')).toBe(before);
    await faults.restoreAll();
  });

  it('drops its signal hooks once every service is started again', async () => {
    const { faults } = fake({ exitHook: true });
    const before = process.listenerCount('SIGINT');
    await faults.stopPostgres();
    expect(process.listenerCount('SIGINT')).toBe(before + 1);
    await faults.startPostgres();
    expect(process.listenerCount('SIGINT')).toBe(before);
    await faults.restoreAll();
  });

  it('finds the newest PostgreSQL version in a Debian-style directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pg-versions-'));
    try {
      for (const name of ['9.6', '13', '15', 'common']) mkdirSync(join(dir, name));
      expect(newestPostgresVersion(dir)).toBe('15');
      expect(() => newestPostgresVersion(join(dir, 'missing'))).toThrow('cannot read');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
