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

  it('rejects unknown flags and stray arguments by name', () => {
    const problems = problemsOf(() => loadNodeConfig(['--verbose=1', 'extra'], {}));
    expect(problems).toEqual(['unknown flag --verbose', 'unexpected argument "extra"']);
  });

  it('says cluster flags are not available yet instead of ignoring them', () => {
    const problems = problemsOf(() => loadNodeConfig(['--node_name', 'master'], {}));
    expect(problems[0]).toMatch(/--node_name: cluster mode is not available/);
  });
});
