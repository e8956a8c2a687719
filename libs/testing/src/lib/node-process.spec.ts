import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port';
import { httpJson } from './http-json';
import {
  type NodeProcessHandle,
  OutputRingBuffer,
  runNodeProcessToExit,
  startNodeProcess,
} from './node-process';
import { waitFor } from './wait-for';

/** Serves 200 on / at $PORT, logs to both streams, exits 0 on SIGTERM unless IGNORE_SIGTERM. */
const SERVER_SCRIPT = `
const http = require('node:http');
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ pid: process.pid }));
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => {
  console.log('listening on ' + process.env.PORT);
  console.error('a warning on stderr');
});
process.on('SIGTERM', () => {
  if (process.env.IGNORE_SIGTERM === '1') {
    console.log('ignoring SIGTERM');
    return;
  }
  console.log('bye');
  server.close(() => process.exit(0));
});
`;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe(`${startNodeProcess.name}`, () => {
  let dir: string;
  let script: string;
  let handle: NodeProcessHandle | undefined;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'chat-testing-'));
    script = join(dir, 'server.js');
    writeFileSync(script, SERVER_SCRIPT);
  });

  afterEach(async () => {
    await handle?.kill9();
    handle = undefined;
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  async function startServer(env: Record<string, string> = {}): Promise<NodeProcessHandle> {
    const port = await freePort();
    handle = await startNodeProcess({
      script,
      name: 'test-server',
      env: { PORT: String(port), ...env },
      readyUrl: `http://127.0.0.1:${port}/`,
      readyTimeoutMs: 10_000,
    });
    return handle;
  }

  it('waits until readyUrl answers 200 and captures stdout and stderr', async () => {
    const sut = await startServer();

    const response = await httpJson('GET', `http://127.0.0.1:${portOf(sut)}/`);
    expect(response).toMatchObject({ status: 200, body: { pid: sut.pid } });
    const output = await waitFor(
      () => sut.output().includes('a warning on stderr') && sut.output(),
      {
        description: 'stderr to be captured',
      },
    );
    expect(output).toContain(`listening on ${portOf(sut)}`);
  });

  it('stops with SIGTERM and reports the exit code', async () => {
    const sut = await startServer();

    const code = await sut.stop();

    expect(code).toBe(0);
    await expect(sut.exited).resolves.toEqual({ code: 0, signal: null });
    expect(sut.output()).toContain('bye');
    expect(isAlive(sut.pid)).toBe(false);
  });

  it('SIGKILLs a process that ignores the stop signal after the timeout', async () => {
    const sut = await startServer({ IGNORE_SIGTERM: '1' });

    const code = await sut.stop('SIGTERM', 300);

    expect(code).toBeNull();
    await expect(sut.exited).resolves.toEqual({ code: null, signal: 'SIGKILL' });
    expect(sut.output()).toContain('ignoring SIGTERM');
  });

  it('kill9 ends the process at once', async () => {
    const sut = await startServer();

    await sut.kill9();

    await expect(sut.exited).resolves.toEqual({ code: null, signal: 'SIGKILL' });
    expect(isAlive(sut.pid)).toBe(false);
    expect(sut.output()).not.toContain('bye');
  });

  it('rejects with the output when the process exits before it is ready', async () => {
    const port = await freePort();

    await expect(
      startNodeProcess({
        script: '-e',
        args: ['console.error("bad flag --nope"); process.exit(2)'],
        name: 'broken',
        readyUrl: `http://127.0.0.1:${port}/`,
      }),
    ).rejects.toThrow(/broken \(pid \d+\) exited with code 2[\s\S]*bad flag --nope/);
  });

  it('rejects and kills the process when it is not ready in time', async () => {
    const port = await freePort();

    await expect(
      startNodeProcess({
        script: '-e',
        args: ['console.log("never ready"); setInterval(() => undefined, 1000)'],
        name: 'slow',
        readyUrl: `http://127.0.0.1:${port}/`,
        readyTimeoutMs: 300,
      }),
    ).rejects.toThrow(/slow \(pid \d+\) was not ready within 300 ms[\s\S]*never ready/);
  });
});

function portOf(handle: NodeProcessHandle): number {
  const match = /listening on (\d+)/.exec(handle.output());
  if (!match?.[1]) {
    throw new Error(`no port in output: ${handle.output()}`);
  }
  return Number(match[1]);
}

describe(`${runNodeProcessToExit.name}`, () => {
  it('returns a non-zero exit code with stdout and stderr', async () => {
    const sut = await runNodeProcessToExit({
      script: '-e',
      args: ['console.log("starting"); console.error("unknown flag --bogus"); process.exit(3)'],
    });

    expect(sut).toEqual({
      code: 3,
      signal: null,
      stdout: 'starting\n',
      stderr: 'unknown flag --bogus\n',
    });
  });

  it('passes args and env to the process', async () => {
    const sut = await runNodeProcessToExit({
      script: '-e',
      args: ['console.log(process.argv[1] + " " + process.env.GREETING)', 'world'],
      env: { GREETING: 'hello' },
    });

    expect(sut.code).toBe(0);
    expect(sut.stdout).toBe('world hello\n');
  });

  it('kills and rejects a process that does not exit in time', async () => {
    await expect(
      runNodeProcessToExit({
        script: '-e',
        args: ['console.log("hanging"); setInterval(() => undefined, 1000)'],
        name: 'hanger',
        timeoutMs: 300,
      }),
    ).rejects.toThrow(/hanger did not exit within 300 ms[\s\S]*hanging/);
  });
});

describe(`${OutputRingBuffer.name}`, () => {
  it('keeps the last lines of all streams, including unfinished ones', () => {
    const sut = new OutputRingBuffer(3);

    sut.write('stdout', 'one\ntwo\n');
    sut.write('stderr', 'three\nfou');
    sut.write('stdout', 'five\n');
    sut.write('stderr', 'r\n');

    expect(sut.toString()).toBe('three\nfive\nfour');
  });
});
