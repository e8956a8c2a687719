import { type ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';
import { describeError } from './describe-error';
import { sleep } from './wait-for';

export interface NodeProcessOptions {
  /** First argument of `node`: a built JS entry, or a node flag such as `-e` (code in `args`). */
  readonly script: string;
  readonly args?: readonly string[];
  /** Added to (and overriding) the current environment. */
  readonly env?: Record<string, string>;
  readonly cwd?: string;
  /** When set, start-up waits until `GET readyUrl` answers 200. */
  readonly readyUrl?: string;
  /** How long to wait for `readyUrl`. Default 30 000 ms. */
  readonly readyTimeoutMs?: number;
  /** For messages. Default: the script. */
  readonly name?: string;
  /** Node's own flags, before the script (e.g. `--cpu-prof`, which NODE_OPTIONS refuses). */
  readonly nodeArgs?: readonly string[];
}

export interface ProcessExit {
  /** Exit code; null when the process was ended by a signal. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface NodeProcessHandle {
  readonly pid: number;
  readonly name: string;
  /**
   * Sends `signal` (default SIGTERM), waits up to `timeoutMs` (default 10 000) for the exit, then
   * SIGKILLs. Resolves with the exit code (null when ended by a signal). No-op once exited.
   */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  /** SIGKILL (a crash) and wait for the exit. */
  kill9(): Promise<void>;
  /** Settles when the process has exited (and its output was read). */
  readonly exited: Promise<ProcessExit>;
  /** The last ~500 lines of stdout and stderr, interleaved as they arrived. */
  output(): string;
}

export interface RunToExitOptions extends Omit<NodeProcessOptions, 'readyUrl' | 'readyTimeoutMs'> {
  /** SIGKILL and reject when the process has not exited by then. Default 30 000 ms. */
  readonly timeoutMs?: number;
}

export interface ProcessResult extends ProcessExit {
  readonly stdout: string;
  readonly stderr: string;
}

const OUTPUT_LINES = 500;

/** Keeps the last `capacity` lines written to any of its streams. */
export class OutputRingBuffer {
  private readonly lines: string[] = [];
  private readonly partial = new Map<string, string>();

  constructor(private readonly capacity = OUTPUT_LINES) {}

  write(stream: string, chunk: string): void {
    const pieces = ((this.partial.get(stream) ?? '') + chunk).split('\n');
    this.partial.set(stream, pieces.pop() ?? '');
    for (const line of pieces) {
      this.lines.push(line.endsWith('\r') ? line.slice(0, -1) : line);
    }
    if (this.lines.length > this.capacity) {
      this.lines.splice(0, this.lines.length - this.capacity);
    }
  }

  toString(): string {
    const unfinished = [...this.partial.values()].filter((line) => line !== '');
    return [...this.lines, ...unfinished].join('\n');
  }
}

/** Children still running, killed (by PID) if the test process exits without stopping them. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function track(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const orphan of running) {
        orphan.kill('SIGKILL');
      }
    });
  }
}

/** SIGKILLs every process started by this module that is still running, and waits for them. */
export async function killAllNodeProcesses(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          if (!child.kill('SIGKILL')) {
            resolve();
          }
        }),
    ),
  );
}

function spawnNode(options: NodeProcessOptions): ChildProcess {
  const child = spawn(
    process.execPath,
    [...(options.nodeArgs ?? []), options.script, ...(options.args ?? [])],
    {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: false,
    },
  );
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  return child;
}

/** Resolves on 'close' (all output read), or shortly after 'exit' if a grandchild holds the pipes. */
function whenExited(child: ChildProcess): Promise<ProcessExit> {
  return new Promise<ProcessExit>((resolve) => {
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) =>
      resolve({ code, signal }),
    );
    child.once('exit', (code: number | null, signal: NodeJS.Signals | null) => {
      setTimeout(() => resolve({ code, signal }), 2000).unref();
    });
  });
}

/** Waits for the 'spawn' event; rejects with the spawn error (e.g. a missing cwd). */
function whenSpawned(child: ChildProcess, name: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    child.once('spawn', () => resolve(child.pid ?? -1));
    child.once('error', (error) => reject(new Error(`Could not start ${name}: ${error.message}`)));
  });
}

/**
 * Starts `node <script> ...args` as a real child process (not detached), captures its output and,
 * when `readyUrl` is given, waits until `GET readyUrl` answers 200. Rejects - with the process's
 * output in the message - when it exits before being ready or is not ready in time (it is then
 * killed). Processes are only ever signalled by their PID.
 */
export async function startNodeProcess(options: NodeProcessOptions): Promise<NodeProcessHandle> {
  const name = options.name ?? options.script;
  const buffer = new OutputRingBuffer();
  const child = spawnNode(options);
  child.stdout?.on('data', (chunk: string) => buffer.write('stdout', chunk));
  child.stderr?.on('data', (chunk: string) => buffer.write('stderr', chunk));
  const exited = whenExited(child);
  const pid = await whenSpawned(child, name);
  track(child);

  let exit: ProcessExit | undefined;
  void exited.then((result) => (exit = result));

  const kill9 = async (): Promise<void> => {
    if (exit === undefined) {
      child.kill('SIGKILL');
    }
    await exited;
  };

  const handle: NodeProcessHandle = {
    pid,
    name,
    exited,
    output: () => buffer.toString(),
    kill9,
    stop: async (signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000) => {
      if (exit !== undefined) {
        return exit.code;
      }
      child.kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), timeoutMs);
      });
      const result = await Promise.race([exited, timedOut]);
      clearTimeout(timer);
      if (result !== undefined) {
        return result.code;
      }
      child.kill('SIGKILL');
      return (await exited).code;
    },
  };

  if (options.readyUrl !== undefined) {
    await waitUntilReady(handle, options.readyUrl, options.readyTimeoutMs ?? 30_000, () => exit);
  }
  return handle;
}

async function waitUntilReady(
  handle: NodeProcessHandle,
  url: string,
  timeoutMs: number,
  exitOf: () => ProcessExit | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    const exit = exitOf();
    if (exit !== undefined) {
      throw new Error(
        `${handle.name} (pid ${handle.pid}) exited with code ${exit.code} signal ${exit.signal} ` +
          `before ${url} answered 200. Output:\n${handle.output()}`,
      );
    }
    if (Date.now() >= deadline) {
      await handle.kill9();
      throw new Error(
        `${handle.name} (pid ${handle.pid}) was not ready within ${timeoutMs} ms: ` +
          `GET ${url}: ${last}. It was killed. Output:\n${handle.output()}`,
      );
    }
    try {
      const status = await getStatus(url, Math.max(1, Math.min(2000, deadline - Date.now())));
      if (status === 200) {
        return;
      }
      last = `status ${status}`;
    } catch (error) {
      last = describeError(error);
    }
    await Promise.race([sleep(100), handle.exited]);
  }
}

/** GET without connection reuse, so no idle keep-alive socket delays the server's shutdown. */
function getStatus(url: string, timeoutMs: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const req = request(url, { method: 'GET', agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.once('error', reject);
    req.end();
  });
}

/**
 * Runs `node <script> ...args` to completion and returns its exit code, signal and full output; for
 * testing start-up failures. Rejects (after a SIGKILL) when it has not exited within `timeoutMs`.
 */
export async function runNodeProcessToExit(options: RunToExitOptions): Promise<ProcessResult> {
  const name = options.name ?? options.script;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const child = spawnNode(options);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.on('data', (chunk: string) => (stderr += chunk));
  const exited = whenExited(child);
  await whenSpawned(child, name);
  track(child);

  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), timeoutMs);
  });
  const exit = await Promise.race([exited, timedOut]);
  clearTimeout(timer);
  if (exit === undefined) {
    child.kill('SIGKILL');
    await exited;
    throw new Error(
      `${name} did not exit within ${timeoutMs} ms and was killed.\n` +
        `stdout:\n${stdout}\nstderr:\n${stderr}`,
    );
  }
  return { ...exit, stdout, stderr };
}
