import { ConfigError, loadNodeConfig } from './node-config';

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe(`${loadNodeConfig.name}`, () => {
  it('gives documented defaults for an empty environment', () => {
    const sut = loadNodeConfig([], {});
    expect(sut).toMatchObject({
      port: 8270,
      host: '127.0.0.1',
      nodeName: 'standalone',
      mode: 'standalone',
      database: { url: null, schema: null, dataDir: './data' },
      seedDemo: true,
      maxPayloadBytes: 65536,
    });
  });

  it('reads typed values from the environment', () => {
    const sut = loadNodeConfig([], {
      PORT: '0',
      DATABASE_URL: 'postgres://u@h/db',
      SEED_DEMO: 'false',
      OPERATOR_GRACE_MS: '1500',
    });
    expect(sut.port).toBe(0);
    expect(sut.database.url).toBe('postgres://u@h/db');
    expect(sut.seedDemo).toBe(false);
    expect(sut.operatorGraceMs).toBe(1500);
  });

  it('treats empty variables as unset', () => {
    expect(loadNodeConfig([], { DATABASE_URL: '' }).database.url).toBeNull();
  });

  it('lists every bad value at once, hiding secrets', () => {
    const problems = problemsOf(() =>
      loadNodeConfig([], { PORT: 'eighty', DATABASE_URL: 'mysql://x', JWT_SECRET: 'short' }),
    );
    expect(problems).toHaveLength(3);
    expect(problems.join('\n')).toMatch(/PORT="eighty"/);
    expect(problems.join('\n')).toMatch(/DATABASE_URL=\(hidden\): must be a postgres/);
    expect(problems.join('\n')).toMatch(/JWT_SECRET=\(hidden\): at least 32/);
    expect(problems.join('\n')).not.toContain('short');
  });

  it('arms a write-path fault point only when asked, and refuses an unknown one', () => {
    expect(loadNodeConfig([], {}).faultPoint).toBeNull();
    expect(loadNodeConfig([], { FAULT_POINT: 'kill-after-publish' }).faultPoint).toEqual({
      point: 'kill-after-publish',
      trigger: '#fault-point',
    });
    expect(
      problemsOf(() => loadNodeConfig([], { FAULT_POINT: 'kill-now', FAULT_TRIGGER: 'x' })),
    ).toEqual([
      expect.stringMatching(/^FAULT_POINT="kill-now": /),
      expect.stringMatching(/^FAULT_TRIGGER="x": at least 4 characters/),
    ]);
    expect(
      problemsOf(() =>
        loadNodeConfig([], { FAULT_POINT: 'hold-before-ack', NODE_ENV: 'production' }),
      ),
    ).toEqual(['FAULT_POINT is for tests only and is refused when NODE_ENV=production']);
  });

  it('rejects unknown flags and stray arguments by name', () => {
    const problems = problemsOf(() => loadNodeConfig(['--verbose=1', 'extra'], {}));
    expect(problems).toEqual([
      'unknown flag --verbose (known: --node_name, --cluster_config)',
      'unexpected argument "extra"',
    ]);
  });

  describe('cluster flags', () => {
    const files: Record<string, string> = {
      'ok.json': JSON.stringify({
        cluster_name: 'default',
        chat_server_node_names: ['master', 'slave1', 'slave2'],
        chat_server_master_node_name: 'master',
      }),
      'broken.json': '{"cluster_name": ',
      'shape.json': JSON.stringify({ cluster_name: 'x', chat_server_node_names: 'master' }),
      'extra.json': JSON.stringify({
        cluster_name: 'x',
        chat_server_node_names: ['a'],
        chat_server_master_node_name: 'a',
        chat_server_port: 1,
      }),
      'repeat.json': JSON.stringify({
        cluster_name: 'x',
        chat_server_node_names: ['master', 'slave1', 'slave1'],
        chat_server_master_node_name: 'master',
      }),
      'nomaster.json': JSON.stringify({
        cluster_name: 'x',
        chat_server_node_names: ['a', 'b'],
        chat_server_master_node_name: 'master',
      }),
    };
    const readFile = (path: string): string => {
      const text = files[path];
      if (text === undefined) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
      return text;
    };
    const CLUSTER_ENV = {
      DATABASE_URL: 'postgres://db/chat',
      JWT_SECRET: 'j'.repeat(32),
      CLUSTER_SECRET: 'c'.repeat(32),
      ADMIN_API_KEY: 'a'.repeat(16),
    };
    const load = (
      argv: string[],
      app?: 'master' | 'slave',
      env: Record<string, string> = CLUSTER_ENV,
    ) => loadNodeConfig(argv, env, { readFile, ...(app ? { app } : {}) });
    const problems = (argv: string[], app?: 'master' | 'slave') =>
      problemsOf(() => load(argv, app));

    it('reads a valid cluster config into cluster mode', () => {
      const sut = load(['--node_name', 'slave1', '--cluster_config=ok.json'], 'slave');
      expect(sut.mode).toBe('cluster');
      expect(sut.nodeName).toBe('slave1');
      expect(sut.cluster).toEqual({
        file: 'ok.json',
        clusterName: 'default',
        nodeNames: ['master', 'slave1', 'slave2'],
        masterNodeName: 'master',
        nodeName: 'slave1',
      });
    });

    it.each([
      [['--node_name', 'master'], /--cluster_config is required with --node_name/],
      [['--cluster_config', 'ok.json'], /--node_name is required with --cluster_config/],
      [['--node_name'], /--node_name needs a value/],
      [
        ['--node_name', 'a', '--node_name', 'b', '--cluster_config', 'ok.json'],
        /--node_name is given twice/,
      ],
      [['--node_name', 'bad name!', '--cluster_config', 'ok.json'], /--node_name "bad name!"/],
      [
        ['--node_name', 'master', '--cluster_config', 'missing.json'],
        /missing\.json: file not found/,
      ],
      [
        ['--node_name', 'master', '--cluster_config', 'broken.json'],
        /broken\.json: not valid JSON/,
      ],
      [
        ['--node_name', 'master', '--cluster_config', 'shape.json'],
        /shape\.json: chat_server_node_names: /,
      ],
      [
        ['--node_name', 'a', '--cluster_config', 'extra.json'],
        /extra\.json: \(root\): .*chat_server_port/,
      ],
      [
        ['--node_name', 'master', '--cluster_config', 'repeat.json'],
        /chat_server_node_names repeats "slave1"/,
      ],
      [
        ['--node_name', 'a', '--cluster_config', 'nomaster.json'],
        /chat_server_master_node_name "master" is not in chat_server_node_names/,
      ],
      [
        ['--node_name', 'slave9', '--cluster_config', 'ok.json'],
        /--node_name "slave9" is not in chat_server_node_names of ok\.json/,
      ],
    ])('stops on %j naming the problem', (argv, message) => {
      expect(problems(argv).join('\n')).toMatch(message);
    });

    it('needs a shared database and shared secrets in cluster mode, naming each', () => {
      const found = problemsOf(() =>
        load(['--node_name', 'slave1', '--cluster_config', 'ok.json'], 'slave', {}),
      ).join('\n');
      expect(found).toMatch(/DATABASE_URL is required in cluster mode/);
      expect(found).toMatch(/JWT_SECRET is required in cluster mode/);
      expect(found).toMatch(/CLUSTER_SECRET is required in cluster mode/);
      expect(found).toMatch(/ADMIN_API_KEY is required in cluster mode/);
    });

    it('reads the cluster secret (and one accepted for a rotation), refusing short ones unshown', () => {
      const argv = ['--node_name', 'slave1', '--cluster_config', 'ok.json'];
      expect(load(argv, 'slave').clusterSecret).toEqual({
        current: 'c'.repeat(32),
        accepted: null,
      });
      expect(
        load(argv, 'slave', { ...CLUSTER_ENV, CLUSTER_SECRET_ACCEPTED: 'n'.repeat(32) })
          .clusterSecret,
      ).toEqual({ current: 'c'.repeat(32), accepted: 'n'.repeat(32) });
      const found = problemsOf(() =>
        load(argv, 'slave', {
          ...CLUSTER_ENV,
          CLUSTER_SECRET: 'short-secret',
          CLUSTER_SECRET_ACCEPTED: 'tiny',
        }),
      ).join('\n');
      expect(found).toMatch(/CLUSTER_SECRET=\(hidden\): at least 32 characters/);
      expect(found).toMatch(/CLUSTER_SECRET_ACCEPTED=\(hidden\): at least 32 characters/);
      expect(found).not.toMatch(/short-secret|tiny/);
    });

    it('reads heartbeat settings and refuses a deadline shorter than two heartbeats', () => {
      const argv = ['--node_name', 'slave1', '--cluster_config', 'ok.json'];
      const sut = load(argv, 'slave', {
        ...CLUSTER_ENV,
        HEARTBEAT_INTERVAL_MS: '500',
        NODE_DEADLINE_MS: '2000',
      });
      expect(sut.membership).toMatchObject({ heartbeatIntervalMs: 500, deadlineMs: 2000 });
      expect(
        problemsOf(() =>
          load(argv, 'slave', {
            ...CLUSTER_ENV,
            HEARTBEAT_INTERVAL_MS: '1000',
            NODE_DEADLINE_MS: '1500',
          }),
        ).join('\n'),
      ).toMatch(/NODE_DEADLINE_MS=1500 must be at least twice HEARTBEAT_INTERVAL_MS=1000/);
    });

    it('keeps the master app for the configured master and slaves for the rest', () => {
      expect(
        problems(['--node_name', 'slave1', '--cluster_config', 'ok.json'], 'master')[0],
      ).toMatch(/master app runs the configured master "master"/);
      expect(
        problems(['--node_name', 'master', '--cluster_config', 'ok.json'], 'slave')[0],
      ).toMatch(/is the configured master: start it with the master app/);
    });

    it('builds the broker URL from MQ_* without leaking the password', () => {
      const sut = loadNodeConfig([], {
        MQ_HOST: 'mq',
        MQ_PORT: '5671',
        MQ_USERNAME: 'chat',
        MQ_PASSWORD: 's3cr/t',
        MQ_VIRTUAL_HOST: 'chat/prod',
        MQ_TLS: 'true',
        MQ_NODE_ID_PREFIX: 'blue.',
      });
      expect(sut.mq).toEqual({
        url: 'amqps://chat:s3cr%2Ft@mq:5671/chat%2Fprod',
        safeUrl: 'amqps://chat:***@mq:5671/chat%2Fprod',
        prefix: 'blue.',
      });
    });
  });
});
