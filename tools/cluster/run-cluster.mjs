#!/usr/bin/env node
// `npm run cluster`: a whole cluster on this machine, behind nginx.
//
//   1. makes sure nginx is installed (tools/cluster/ensure-nginx.sh), builds (npm run build);
//   2. writes .cluster/cluster.json and, once, .cluster/secrets.json (shared JWT_SECRET,
//      CLUSTER_SECRET and ADMIN_API_KEY, mode 0600) unless they come from the environment;
//   3. starts the master, waits for its /readyz, then slave1 and slave2 (so only one node ever
//      migrates an empty database), and nginx (tools/cluster/nginx.mjs) in front of them;
//   4. prints the URLs; Ctrl-C (or SIGTERM) stops nginx, then the slaves, then the master.
//
// The real PostgreSQL and RabbitMQ of the machine are used (DATABASE_URL, DATABASE_SCHEMA, MQ_*).
// Ports and the rest: see USAGE below or docs/operations.md ("Cluster").
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const STATE_DIR = join(ROOT, '.cluster');
const STOP_GRACE_MS = 20_000;

const USAGE = `Usage: npm run cluster [-- --no-build]

Runs master, slave1 and slave2 (built apps) and nginx in front of them, on this machine.

  --no-build    use the existing dist/ (also CLUSTER_SKIP_BUILD=true)
  --help

Environment (defaults in brackets):
  CLUSTER_HOST            interface of every process [127.0.0.1]
  CLUSTER_HTTP_PORT       nginx, the cluster's entry [8080]
  CLUSTER_MASTER_PORT     master [8270]
  CLUSTER_SLAVE1_PORT     slave1 [8271]
  CLUSTER_SLAVE2_PORT     slave2 [8272]
  CLUSTER_READY_TIMEOUT_MS  how long a node may take to answer /readyz 200 [120000]
  DATABASE_URL            [postgres://postgres@127.0.0.1:5432/test]
  DATABASE_SCHEMA         [chat_local]
  MQ_HOST, MQ_PORT, MQ_USERNAME, MQ_PASSWORD, MQ_VIRTUAL_HOST
                          [127.0.0.1, 5672, guest, guest, /]
  MQ_NODE_ID_PREFIX       [local.]
  REDIS_URL               the per-client limits, shared by the nodes [redis://127.0.0.1:6379]
                          (unreachable: each node counts on its own until it is there)
  JWT_SECRET, CLUSTER_SECRET, ADMIN_API_KEY
                          shared by every node [generated once into .cluster/secrets.json]
  Every other variable (SEED_DEMO, LOG_LEVEL, MQ_TLS, ...) is passed to the nodes as it is.`;

/**
 * @param {string} name
 * @param {number} fallback
 * @returns {number}
 */
function portFromEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`${name}="${raw}": expected a port (1-65535)`);
  }
  return port;
}

/**
 * @param {string} name
 * @param {number} fallback
 * @returns {number}
 */
function durationFromEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms < 1000) {
    throw new Error(`${name}="${raw}": expected milliseconds (at least 1000)`);
  }
  return ms;
}

/**
 * @param {string | undefined} value
 * @param {string} fallback
 */
const orDefault = (value, fallback) => (value === undefined || value === '' ? fallback : value);

/** @param {string | undefined} value */
const isTrue = (value) => ['1', 'true', 'yes'].includes((value ?? '').toLowerCase());

/**
 * The shared secrets: from the environment when set there, else from .cluster/secrets.json,
 * generated on the first run. Values from the environment are never written to the file.
 * @returns {{ adminApiKey: string, jwtSecret: string, clusterSecret: string, source: string }}
 */
function loadSecrets() {
  const file = join(STATE_DIR, 'secrets.json');
  /** @type {{ adminApiKey?: unknown, jwtSecret?: unknown, clusterSecret?: unknown }} */
  let stored = {};
  if (existsSync(file)) {
    stored = /** @type {typeof stored} */ (JSON.parse(readFileSync(file, 'utf8')));
  }
  const generated = {
    adminApiKey: typeof stored.adminApiKey === 'string' ? stored.adminApiKey : undefined,
    jwtSecret: typeof stored.jwtSecret === 'string' ? stored.jwtSecret : undefined,
    clusterSecret: typeof stored.clusterSecret === 'string' ? stored.clusterSecret : undefined,
  };
  const fromEnv = {
    adminApiKey: orDefault(process.env.ADMIN_API_KEY, ''),
    jwtSecret: orDefault(process.env.JWT_SECRET, ''),
    clusterSecret: orDefault(process.env.CLUSTER_SECRET, ''),
  };
  let changed = false;
  if (!fromEnv.adminApiKey && !generated.adminApiKey) {
    generated.adminApiKey = randomBytes(24).toString('base64url');
    changed = true;
  }
  if (!fromEnv.jwtSecret && !generated.jwtSecret) {
    generated.jwtSecret = randomBytes(48).toString('base64url');
    changed = true;
  }
  if (!fromEnv.clusterSecret && !generated.clusterSecret) {
    generated.clusterSecret = randomBytes(32).toString('hex');
    changed = true;
  }
  if (changed) {
    writeFileSync(file, `${JSON.stringify(generated, null, 2)}\n`, { mode: 0o600 });
  }
  if (existsSync(file)) chmodSync(file, 0o600);
  return {
    adminApiKey: fromEnv.adminApiKey || generated.adminApiKey || '',
    jwtSecret: fromEnv.jwtSecret || generated.jwtSecret || '',
    clusterSecret: fromEnv.clusterSecret || generated.clusterSecret || '',
    source: fromEnv.adminApiKey ? 'ADMIN_API_KEY' : '.cluster/secrets.json',
  };
}

/**
 * Rejects when `host:port` is taken (e.g. `npm start` still running on 8270).
 * @param {string} host @param {number} port @param {string} what
 * @returns {Promise<void>}
 */
function assertPortFree(host, port, what) {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (/** @type {NodeJS.ErrnoException} */ error) =>
      reject(
        new Error(
          `${what}: ${host}:${port} is not available (${error.code ?? error.message}); ` +
            'stop what uses it or choose another port (see --help)',
        ),
      ),
    );
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve()));
  });
}

/**
 * The status of `GET url`, or the reason there was none.
 * @param {string} url
 * @returns {Promise<number | string>}
 */
function statusOf(url) {
  return new Promise((resolve) => {
    const request = get(url, { agent: false, timeout: 2_000 }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('timeout', () => request.destroy(new Error('no answer within 2 s')));
    request.on('error', (error) => resolve(error.message));
  });
}

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * @typedef {object} Child
 * @property {string} name
 * @property {import('node:child_process').ChildProcess} process
 * @property {Promise<{ code: number | null, signal: NodeJS.Signals | null }>} exited
 * @property {{ code: number | null, signal: NodeJS.Signals | null } | undefined} exit
 */

const COLORS = [36, 33, 35, 32, 34];
const useColor = process.stdout.isTTY && !process.env.NO_COLOR;
/** @type {Child[]} */
const children = [];
let shuttingDown = false;

/**
 * Starts `node script ...args` in its own process group (so the terminal's Ctrl-C reaches only
 * this script, which then stops the processes in order) and prefixes its output with its name.
 * @param {string} name @param {string} script @param {string[]} args
 * @param {NodeJS.ProcessEnv} env
 * @returns {Child}
 */
function startChild(name, script, args, env) {
  const proc = spawn(process.execPath, [script, ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const color = COLORS[children.length % COLORS.length];
  const label = `[${name}]`.padEnd(9);
  const prefix = useColor ? `\x1b[${color}m${label}\x1b[0m` : label;
  for (const [stream, target] of /** @type {const} */ ([
    [proc.stdout, process.stdout],
    [proc.stderr, process.stderr],
  ])) {
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) =>
      target.write(`${prefix} ${line}\n`),
    );
  }
  /** @type {Child} */
  const child = {
    name,
    process: proc,
    exit: undefined,
    exited: new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        child.exit = { code, signal };
        resolve({ code, signal });
      });
      proc.once('error', (error) => {
        console.error(`${name}: could not start: ${error.message}`);
        child.exit = { code: 1, signal: null };
        resolve(child.exit);
      });
    }),
  };
  children.push(child);
  void child.exited.then(({ code, signal }) => {
    if (shuttingDown) return;
    const how = signal ? `was ended by ${signal}` : `exited with code ${code}`;
    console.error(`\n!! ${name} ${how} unexpectedly; stopping the cluster\n`);
    void shutdown(1);
  });
  return child;
}

/**
 * SIGTERM, then SIGKILL after the grace period.
 * @param {Child} child
 */
async function stopChild(child) {
  if (child.exit !== undefined) return;
  child.process.kill('SIGTERM');
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  const killed = new Promise((resolve) => {
    timer = setTimeout(() => {
      if (child.exit === undefined) {
        console.error(`!! ${child.name} still running after ${STOP_GRACE_MS / 1000} s: SIGKILL`);
        child.process.kill('SIGKILL');
      }
      resolve(undefined);
    }, STOP_GRACE_MS);
  });
  await Promise.race([child.exited, killed]);
  await child.exited;
  clearTimeout(timer);
}

/**
 * Stops nginx, then the slaves, then the master, and exits with `code`.
 * @param {number} code
 */
async function shutdown(code) {
  if (shuttingDown) return;
  shuttingDown = true;
  const byName = (/** @type {string} */ name) => children.filter((c) => c.name === name);
  const slaves = children.filter((c) => c.name !== 'nginx' && c.name !== 'master');
  console.log('\nstopping: nginx, then the slaves, then the master');
  await Promise.all(byName('nginx').map(stopChild));
  await Promise.all(slaves.map(stopChild));
  await Promise.all(byName('master').map(stopChild));
  for (const child of children) {
    const { code: exitCode, signal } = child.exit ?? {};
    console.log(`  ${child.name}: ${signal ? `ended by ${signal}` : `exit code ${exitCode}`}`);
  }
  process.exit(code);
}

/**
 * Waits until `url` answers 200; rejects when the child exits first or time runs out.
 * @param {Child} child @param {string} url @param {number} timeoutMs
 */
async function waitReady(child, url, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last = /** @type {number | string} */ ('no answer yet');
  while (child.exit === undefined && !shuttingDown) {
    last = await statusOf(url);
    if (last === 200) return;
    if (Date.now() > deadline) {
      throw new Error(
        `${child.name} is not ready after ${timeoutMs / 1000} s (GET ${url}: ${last})`,
      );
    }
    await Promise.race([sleep(250), child.exited]);
  }
  throw new Error(`${child.name} stopped before ${url} answered 200 (last: ${last})`);
}

/**
 * Runs a command to completion with inherited output; throws when it fails.
 * @param {string} what @param {string} command @param {string[]} args
 */
function runStep(what, command, args) {
  console.log(`\n==> ${what}`);
  const result = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) {
    throw new Error(`${what} failed (${result.error?.message ?? `exit code ${result.status}`})`);
  }
}

/** @param {string} url */
function hidePassword(url) {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}

async function main() {
  const argv = process.argv.slice(2);
  if (argv.includes('--help')) {
    console.log(USAGE);
    return;
  }
  const unknown = argv.filter((arg) => arg !== '--no-build');
  if (unknown.length > 0) throw new Error(`unknown argument ${unknown.join(' ')}\n\n${USAGE}`);
  const skipBuild = argv.includes('--no-build') || isTrue(process.env.CLUSTER_SKIP_BUILD);

  const host = orDefault(process.env.CLUSTER_HOST, '127.0.0.1');
  const httpPort = portFromEnv('CLUSTER_HTTP_PORT', 8080);
  const readyTimeoutMs = durationFromEnv('CLUSTER_READY_TIMEOUT_MS', 120_000);
  const nodes = [
    { name: 'master', app: 'master', port: portFromEnv('CLUSTER_MASTER_PORT', 8270) },
    { name: 'slave1', app: 'slave', port: portFromEnv('CLUSTER_SLAVE1_PORT', 8271) },
    { name: 'slave2', app: 'slave', port: portFromEnv('CLUSTER_SLAVE2_PORT', 8272) },
  ];
  const ports = [httpPort, ...nodes.map((node) => node.port)];
  if (new Set(ports).size !== ports.length) {
    throw new Error(`the ports must differ: ${ports.join(', ')}`);
  }
  const shown = host === '0.0.0.0' ? '127.0.0.1' : host;
  const urlOf = (/** @type {number} */ port) => `http://${shown}:${port}`;

  await assertPortFree(host, httpPort, 'nginx (CLUSTER_HTTP_PORT)');
  for (const node of nodes) {
    await assertPortFree(host, node.port, `${node.name} (CLUSTER_${node.name.toUpperCase()}_PORT)`);
  }

  runStep('nginx (tools/cluster/ensure-nginx.sh)', 'bash', [
    join(ROOT, 'tools', 'cluster', 'ensure-nginx.sh'),
  ]);
  if (skipBuild) {
    console.log('\n==> build skipped (--no-build)');
  } else {
    runStep('build (npm run build)', 'npm', ['run', 'build']);
  }
  for (const node of nodes) {
    const script = join(ROOT, 'dist', 'apps', node.app, 'src', 'main.js');
    if (!existsSync(script)) throw new Error(`${script} is missing: run npm run build`);
  }

  mkdirSync(STATE_DIR, { recursive: true });
  const clusterConfig = join(STATE_DIR, 'cluster.json');
  writeFileSync(
    clusterConfig,
    `${JSON.stringify(
      {
        cluster_name: 'local',
        chat_server_node_names: nodes.map((node) => node.name),
        chat_server_master_node_name: 'master',
      },
      null,
      2,
    )}\n`,
  );
  const secrets = loadSecrets();

  const databaseUrl = orDefault(
    process.env.DATABASE_URL,
    'postgres://postgres@127.0.0.1:5432/test',
  );
  const databaseSchema = orDefault(process.env.DATABASE_SCHEMA, 'chat_local');
  const redisUrl = orDefault(process.env.REDIS_URL, 'redis://127.0.0.1:6379');
  const mq = {
    MQ_HOST: orDefault(process.env.MQ_HOST, '127.0.0.1'),
    MQ_PORT: orDefault(process.env.MQ_PORT, '5672'),
    MQ_USERNAME: orDefault(process.env.MQ_USERNAME, 'guest'),
    MQ_PASSWORD: orDefault(process.env.MQ_PASSWORD, 'guest'),
    MQ_VIRTUAL_HOST: orDefault(process.env.MQ_VIRTUAL_HOST, '/'),
    MQ_NODE_ID_PREFIX: orDefault(process.env.MQ_NODE_ID_PREFIX, 'local.'),
  };
  /** @param {{ name: string, port: number }} node @returns {NodeJS.ProcessEnv} */
  const envOf = (node) => {
    /** @type {NodeJS.ProcessEnv} */
    const env = {
      ...process.env,
      ...mq,
      HOST: host,
      PORT: String(node.port),
      DATABASE_URL: databaseUrl,
      DATABASE_SCHEMA: databaseSchema,
      REDIS_URL: redisUrl,
      JWT_SECRET: secrets.jwtSecret,
      CLUSTER_SECRET: secrets.clusterSecret,
      ADMIN_API_KEY: secrets.adminApiKey,
      DATA_DIR: join(STATE_DIR, 'data', node.name),
    };
    // The flags name the node; a NODE_NAME left in the shell would only confuse.
    delete env.NODE_NAME;
    return env;
  };

  for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP'])) {
    process.on(signal, () => {
      if (shuttingDown) {
        // A second Ctrl-C: no more waiting.
        console.error(`\n${signal} again: killing every process now`);
        for (const child of children) {
          if (child.exit === undefined) child.process.kill('SIGKILL');
        }
        process.exit(130);
      }
      void shutdown(0);
    });
  }
  // Last resort (e.g. an exception): never leave a node running without this script.
  process.on('exit', () => {
    for (const child of children) {
      if (child.exit === undefined) child.process.kill('SIGKILL');
    }
  });

  /** @param {typeof nodes[number]} node */
  const startNode = async (node) => {
    const child = startChild(
      node.name,
      join('dist', 'apps', node.app, 'src', 'main.js'),
      ['--node_name', node.name, '--cluster_config', clusterConfig],
      envOf(node),
    );
    await waitReady(child, `${urlOf(node.port)}/readyz`, readyTimeoutMs);
    console.log(`==> ${node.name} is ready on ${urlOf(node.port)}`);
  };

  console.log(`\n==> starting master (database schema ${databaseSchema})`);
  const [masterNode, ...slaveNodes] = nodes;
  if (masterNode === undefined) throw new Error('no master');
  await startNode(masterNode);
  console.log('\n==> starting the slaves');
  await Promise.all(slaveNodes.map(startNode));

  console.log('\n==> starting nginx');
  const nginx = startChild(
    'nginx',
    join('tools', 'cluster', 'nginx.mjs'),
    [
      '--listen',
      `${host}:${httpPort}`,
      '--master',
      `${shown}:${masterNode.port}`,
      ...slaveNodes.flatMap((node) => ['--slave', `${shown}:${node.port}`]),
    ],
    process.env,
  );
  await waitReady(nginx, `${urlOf(httpPort)}/nginx-healthz`, 15_000);

  const entry = urlOf(httpPort);
  console.log(
    [
      '',
      `  Cluster "local" is up. Entry (nginx): ${entry}`,
      ...nodes.map((node) => `    ${node.name.padEnd(7)} ${urlOf(node.port)}  (direct)`),
      `    cluster status: ${entry}/l/cluster/status`,
      `    admin API key:  ${secrets.adminApiKey}  (X-Admin-Key header; from ${secrets.source})`,
      `    database:       ${hidePassword(databaseUrl)}  schema ${databaseSchema}`,
      `    RabbitMQ:       ${mq.MQ_HOST}:${mq.MQ_PORT} vhost ${mq.MQ_VIRTUAL_HOST}, prefix "${mq.MQ_NODE_ID_PREFIX}"`,
      `    Redis (limits): ${hidePassword(redisUrl)}`,
      '  On the first run (empty schema) the master printed the demo site and operators above.',
      '  Ctrl-C stops nginx, then the slaves, then the master.',
      '',
    ].join('\n'),
  );
}

main().catch((error) => {
  // When a child died, its exit was reported already and the shutdown is under way.
  if (shuttingDown) return;
  console.error(`\n!! ${error instanceof Error ? error.message : String(error)}`);
  if (children.length > 0) {
    void shutdown(1);
  } else {
    process.exit(1);
  }
});
