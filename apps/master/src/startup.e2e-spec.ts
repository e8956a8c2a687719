/** A wrong flag or setting stops either app at start with a message naming the problem. */
import { runNodeProcessToExit } from '@chat/testing';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

  it('names a missing cluster config file and a node name outside the list', async () => {
    const missing = await run([
      '--node_name',
      app,
      '--cluster_config',
      '/nonexistent/cluster.json',
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--cluster_config /nonexistent/cluster.json: file not found');

    const dir = mkdtempSync(join(tmpdir(), 'cluster-config-'));
    const file = join(dir, 'cluster.json');
    writeFileSync(
      file,
      JSON.stringify({
        cluster_name: 'default',
        chat_server_node_names: ['master', 'slave1', 'slave1'],
        chat_server_master_node_name: 'boss',
      }),
    );
    const bad = await run(['--node_name', 'ghost', '--cluster_config', file]);
    rmSync(dir, { recursive: true, force: true });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('chat_server_node_names repeats "slave1"');
    expect(bad.stderr).toContain(
      'chat_server_master_node_name "boss" is not in chat_server_node_names',
    );
    expect(bad.stderr).toContain('--node_name "ghost" is not in chat_server_node_names');
  });

  it('lists every bad environment value at once', async () => {
    const result = await run([], { PORT: 'http', MAX_PAYLOAD_BYTES: '-1', LOG_LEVEL: 'loud' });
    expect(result.code).toBe(2);
    for (const name of ['PORT="http"', 'MAX_PAYLOAD_BYTES="-1"', 'LOG_LEVEL="loud"']) {
      expect(result.stderr).toContain(name);
    }
  });
});
