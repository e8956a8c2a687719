/** A wrong flag or setting stops either app at start with a message naming the problem. */
import { runNodeProcessToExit } from '@chat/testing';
import { join } from 'node:path';

const mains = {
  master: join(__dirname, '../../../dist/apps/master/src/main.js'),
  slave: join(__dirname, '../../../dist/apps/slave/src/main.js'),
};

describe.each(Object.entries(mains))('%s start-up', (app, script) => {
  const run = (args: string[], env: Record<string, string> = {}) =>
    runNodeProcessToExit({
      script,
      args,
      env: { DATA_DIR: '/nonexistent-never-created', ...env },
      timeoutMs: 20_000,
    });

  it('names an unknown flag', async () => {
    const result = await run(['--verbose=1']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${app}: Invalid configuration`);
    expect(result.stderr).toContain('unknown flag --verbose');
  });

  it('says cluster flags are not available yet', async () => {
    const result = await run(['--node_name', 'master', '--cluster_config', 'cluster.json']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--node_name: cluster mode is not available/);
  });

  it('lists every bad environment value at once', async () => {
    const result = await run([], { PORT: 'http', MAX_PAYLOAD_BYTES: '-1', LOG_LEVEL: 'loud' });
    expect(result.code).toBe(2);
    for (const name of ['PORT="http"', 'MAX_PAYLOAD_BYTES="-1"', 'LOG_LEVEL="loud"']) {
      expect(result.stderr).toContain(name);
    }
  });
});
