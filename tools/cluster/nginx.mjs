#!/usr/bin/env node
// Renders the cluster's nginx routing (docker/nginx/chat.conf.template, the one source of the
// rules) and runs nginx in the foreground with it, without root and without touching /etc/nginx:
//
//   node tools/cluster/nginx.mjs --listen 127.0.0.1:8080 --master 127.0.0.1:8270 \
//     --slave 127.0.0.1:8271 --slave 127.0.0.1:8272
//
// Other modes: --print (the rendered http include on stdout), --print-docker / --write-docker
// (docker/nginx/chat.conf, which docker compose mounts), --which (the nginx binary in use).
// Run with --help for every option. The module exports the renderer for scripts and tests.
import { spawn } from 'node:child_process';
import {
  accessSync,
  chmodSync,
  chownSync,
  constants,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const TEMPLATE_PATH = fileURLToPath(
  new URL('../../docker/nginx/chat.conf.template', import.meta.url),
);
export const DOCKER_CONF_PATH = fileURLToPath(
  new URL('../../docker/nginx/chat.conf', import.meta.url),
);

/**
 * @typedef {object} ChatConfOptions
 * @property {string} listen What `listen` gets: `127.0.0.1:8080`, `80`, ...
 * @property {string[]} masters The master's `host:port` (normally one).
 * @property {string[]} slaves Every slave's `host:port`, in cluster order.
 * @property {number} [maxFails] Failed attempts before a node is skipped. Default 1.
 * @property {string} [failTimeout] How long a failed node is skipped before nginx tries it again.
 *   Default `2s`.
 * @property {string} [resolver] When set (e.g. `127.0.0.11`, Docker's DNS), node names are
 *   re-resolved while nginx runs (`resolve`, nginx >= 1.27.3), so a re-created container is found
 *   at its new address. Unset: addresses are resolved once, at start.
 */

/** Settings of docker/nginx/chat.conf (docker/compose.cluster.yml): service names, Docker's DNS. */
export const DOCKER_OPTIONS = Object.freeze({
  listen: '80',
  masters: ['master:8270'],
  slaves: ['slave1:8270', 'slave2:8270'],
  maxFails: 1,
  failTimeout: '5s',
  resolver: '127.0.0.11',
});

const GENERATED_NOTE =
  '# GENERATED from docker/nginx/chat.conf.template by tools/cluster/nginx.mjs: edit the template.';

const ADDRESS = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;
const DURATION = /^\d+(?:ms|s|m)?$/;

/**
 * Renders the http-level include with the cluster's routing (maps, upstreams, server) from
 * docker/nginx/chat.conf.template.
 * @param {ChatConfOptions} options
 * @param {string} [template] The template's text; read from {@link TEMPLATE_PATH} when omitted.
 * @returns {string}
 */
export function renderChatConf(options, template = readFileSync(TEMPLATE_PATH, 'utf8')) {
  const { listen, masters, slaves } = options;
  const maxFails = options.maxFails ?? 1;
  const failTimeout = options.failTimeout ?? '2s';
  const problems = [];
  if (!/^(?:(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):)?\d{1,5}$/.test(listen)) {
    problems.push(`listen "${listen}": expected PORT or HOST:PORT`);
  }
  if (masters.length === 0) problems.push('at least one master is needed');
  if (slaves.length === 0) problems.push('at least one slave is needed');
  for (const address of [...masters, ...slaves]) {
    if (!ADDRESS.test(address)) problems.push(`"${address}": expected HOST:PORT`);
  }
  if (!Number.isInteger(maxFails) || maxFails < 1) problems.push(`maxFails ${maxFails}: >= 1`);
  if (!DURATION.test(failTimeout)) problems.push(`failTimeout "${failTimeout}": e.g. 2s`);
  if (options.resolver !== undefined && !/^[A-Za-z0-9.:[\]]+$/.test(options.resolver)) {
    problems.push(`resolver "${options.resolver}": expected an address`);
  }
  if (problems.length > 0) {
    throw new Error(`Invalid nginx settings:\n  - ${problems.join('\n  - ')}`);
  }

  const resolve = options.resolver === undefined ? '' : ' resolve';
  /** @param {string} address @param {string} [extra] */
  const server = (address, extra = '') =>
    `    server ${address}${extra} max_fails=${maxFails} fail_timeout=${failTimeout}${resolve};`;
  const backups = slaves.filter((address) => !masters.includes(address));
  const values = {
    LISTEN: listen,
    RESOLVER:
      options.resolver === undefined
        ? '# No resolver: upstream names are resolved once, when nginx starts.\n'
        : `# Node names are re-resolved while nginx runs (a re-created container gets a new address).\nresolver ${options.resolver} valid=10s ipv6=off;\nresolver_timeout 2s;\n`,
    MASTER_SERVERS: [
      ...masters.map((address) => server(address)),
      ...backups.map((address) => server(address, ' backup')),
    ].join('\n'),
    SLAVE_SERVERS: slaves.map((address) => server(address)).join('\n'),
  };
  const body = template.replace(/\{\{([A-Z_]+)\}\}/g, (placeholder, /** @type {string} */ name) => {
    if (!Object.hasOwn(values, name)) throw new Error(`Unknown placeholder ${placeholder}`);
    return values[/** @type {keyof typeof values} */ (name)];
  });
  return `${GENERATED_NOTE}\n${body}`;
}

/** The routing as docker compose mounts it (docker/nginx/chat.conf). */
export function renderDockerChatConf() {
  return renderChatConf({
    ...DOCKER_OPTIONS,
    masters: [...DOCKER_OPTIONS.masters],
    slaves: [...DOCKER_OPTIONS.slaves],
  });
}

/**
 * @typedef {object} MainConfOptions
 * @property {string} prefix Directory nginx runs in (`-p`); temp files go below it.
 * @property {string} include The http include (the rendered chat.conf), relative to the prefix.
 * @property {boolean} [accessLog] Access log on stdout. Default off.
 * @property {string} [user] `user` directive, only when the master process runs as root.
 */

/**
 * A path as an nginx string (a prefix may contain spaces).
 * @param {string} path
 */
function quote(path) {
  if (/["$\\]/.test(path)) throw new Error(`nginx paths may not contain ", $ or \\: ${path}`);
  return `"${path}"`;
}

/**
 * Renders the main nginx.conf of a local, non-root run: temp paths inside the prefix (the
 * compiled-in /var/lib/nginx needs root), one worker, the routing included.
 * @param {MainConfOptions} options
 * @returns {string}
 */
export function renderMainConf(options) {
  const temp = join(options.prefix, 'temp');
  return [
    '# Rendered by tools/cluster/nginx.mjs for a local run; pid and error_log come with -g/-e.',
    ...(options.user ? [`user ${options.user};`] : []),
    'worker_processes 1;',
    'events { worker_connections 4096; }',
    'http {',
    `    client_body_temp_path ${quote(join(temp, 'client_body'))};`,
    `    proxy_temp_path ${quote(join(temp, 'proxy'))};`,
    `    fastcgi_temp_path ${quote(join(temp, 'fastcgi'))};`,
    `    uwsgi_temp_path ${quote(join(temp, 'uwsgi'))};`,
    `    scgi_temp_path ${quote(join(temp, 'scgi'))};`,
    `    access_log ${options.accessLog ? '/dev/stdout' : 'off'};`,
    '    default_type application/octet-stream;',
    '    server_tokens off;',
    `    include ${quote(options.include)};`,
    '}',
    '',
  ].join('\n');
}

/**
 * The nginx binary: `NGINX_BIN`, then `nginx` on PATH, then the usual sbin directories (often
 * not on a normal user's PATH). Undefined when there is none.
 * @param {NodeJS.ProcessEnv} [env]
 * @returns {string | undefined}
 */
export function findNginx(env = process.env) {
  const candidates = [
    ...(env.NGINX_BIN ? [env.NGINX_BIN] : []),
    ...(env.PATH ?? '')
      .split(delimiter)
      .filter((dir) => dir !== '')
      .map((dir) => join(dir, 'nginx')),
    '/usr/sbin/nginx',
    '/usr/local/sbin/nginx',
    '/usr/local/nginx/sbin/nginx',
  ];
  return candidates.find((candidate) => {
    try {
      accessSync(candidate, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * For a root run, the unprivileged account the workers switch to: `nobody` and its group, read
 * from /etc/passwd and /etc/group (the group is `nogroup` on Debian, `nobody` elsewhere).
 * @returns {{ user: string, uid: number, gid: number } | undefined}
 */
function unprivilegedAccount() {
  try {
    const passwd = readFileSync('/etc/passwd', 'utf8').split('\n');
    const entry = passwd.find((line) => line.startsWith('nobody:'))?.split(':');
    if (!entry || entry.length < 4) return undefined;
    const uid = Number(entry[2]);
    const gid = Number(entry[3]);
    const group = readFileSync('/etc/group', 'utf8')
      .split('\n')
      .map((line) => line.split(':'))
      .find((fields) => fields.length >= 3 && Number(fields[2]) === gid)?.[0];
    if (!group || !Number.isInteger(uid) || !Number.isInteger(gid)) return undefined;
    return { user: `nobody ${group}`, uid, gid };
  } catch {
    return undefined;
  }
}

/**
 * @typedef {object} PreparedPrefix
 * @property {string} prefix
 * @property {string} conf The main nginx.conf inside the prefix.
 * @property {string[]} args nginx's arguments (`-p`, `-c`, `-e`, `-g`).
 */

/**
 * Writes the rendered configuration into `prefix` (created when missing) and returns nginx's
 * arguments for a foreground run.
 * @param {ChatConfOptions & { prefix: string, accessLog?: boolean }} options
 * @returns {PreparedPrefix}
 */
export function preparePrefix(options) {
  const { prefix } = options;
  mkdirSync(join(prefix, 'temp'), { recursive: true, mode: 0o755 });
  writeFileSync(join(prefix, 'chat.conf'), renderChatConf(options));
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const account = isRoot ? unprivilegedAccount() : undefined;
  if (account) {
    // The prefix holds no secrets; the workers must be able to reach temp/ below it.
    chmodSync(prefix, 0o755);
    // Workers run as nobody and write request bodies and large responses below temp/.
    for (const dir of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
      mkdirSync(join(prefix, 'temp', dir), { recursive: true, mode: 0o700 });
      chownSync(join(prefix, 'temp', dir), account.uid, account.gid);
    }
  }
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(
    conf,
    renderMainConf({
      prefix,
      include: 'chat.conf',
      accessLog: options.accessLog ?? false,
      // Without an unprivileged account the workers stay root rather than fail to start.
      user: isRoot ? (account?.user ?? 'root') : undefined,
    }),
  );
  return {
    prefix,
    conf,
    args: [
      '-p',
      prefix,
      '-c',
      conf,
      '-e',
      'stderr',
      '-g',
      `daemon off; pid ${quote(join(prefix, 'nginx.pid'))};`,
    ],
  };
}

/**
 * True when nginx's own health route answers on `host:port` (not merely something listening
 * there: a port taken by another program makes nginx exit instead).
 * @param {string} host @param {number} port
 * @returns {Promise<boolean>}
 */
function answers(host, port) {
  return new Promise((resolve) => {
    const request = get({ host, port, path: '/nginx-healthz', timeout: 500 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => resolve(response.statusCode === 200 && body === 'ok\n'));
      response.on('error', () => resolve(false));
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(false));
  });
}

/**
 * @param {string} listen
 * @returns {{ host: string, port: number }}
 */
export function parseListen(listen) {
  const match = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$/.exec(listen);
  if (!match) throw new Error(`--listen "${listen}": expected PORT or HOST:PORT`);
  const host = match[1] ?? '127.0.0.1';
  return {
    host: host === '0.0.0.0' ? '127.0.0.1' : host.replace(/^\[|\]$/g, ''),
    port: Number(match[2]),
  };
}

const USAGE = `Usage: node tools/cluster/nginx.mjs [options]

Runs nginx in the foreground with the cluster's routing (docker/nginx/chat.conf.template).

  --listen HOST:PORT   where nginx listens (default 127.0.0.1:8080; a bare PORT means 127.0.0.1)
  --master HOST:PORT   the master node (default 127.0.0.1:8270)
  --slave HOST:PORT    a slave node, repeat for each, in cluster order
                       (default 127.0.0.1:8271 and 127.0.0.1:8272)
  --max-fails N        failed attempts before a node is skipped (default 1)
  --fail-timeout T     how long a failed node is skipped before it is retried (default 2s)
  --prefix DIR         nginx's working directory (default: a new temporary one, removed at exit)
  --access-log         write the access log to stdout (default off)
  --print              print the rendered routing (http include) and exit
  --print-docker       print docker/nginx/chat.conf as it should be and exit
  --write-docker       re-render docker/nginx/chat.conf (after editing the template) and exit
  --which              print the nginx binary that would run and exit (exit 1 when none)
  --help

nginx is found via NGINX_BIN, PATH, /usr/sbin/nginx (install: tools/cluster/ensure-nginx.sh).
SIGTERM/SIGINT/SIGQUIT/SIGHUP are passed to nginx; this script exits when nginx does.`;

/**
 * @param {string[]} argv
 */
function parseArgs(argv) {
  /** @type {{ listen: string, masters: string[], slaves: string[], maxFails: number, failTimeout: string, prefix?: string, accessLog: boolean, mode: 'run' | 'print' | 'print-docker' | 'write-docker' | 'which' | 'help' }} */
  const args = {
    listen: '127.0.0.1:8080',
    masters: [],
    slaves: [],
    maxFails: 1,
    failTimeout: '2s',
    accessLog: false,
    mode: 'run',
  };
  for (let i = 0; i < argv.length; i += 1) {
    const flag = argv[i];
    const value = () => {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new Error(`${flag} needs a value`);
      i += 1;
      return next;
    };
    switch (flag) {
      case '--listen':
        args.listen = value();
        break;
      case '--master':
        args.masters.push(value());
        break;
      case '--slave':
        args.slaves.push(value());
        break;
      case '--max-fails':
        args.maxFails = Number(value());
        break;
      case '--fail-timeout':
        args.failTimeout = value();
        break;
      case '--prefix':
        args.prefix = value();
        break;
      case '--access-log':
        args.accessLog = true;
        break;
      case '--print':
      case '--print-docker':
      case '--write-docker':
      case '--which':
      case '--help':
        args.mode = /** @type {typeof args.mode} */ (flag.slice(2));
        break;
      default:
        throw new Error(`unknown argument ${flag}\n\n${USAGE}`);
    }
  }
  if (args.masters.length === 0) args.masters.push('127.0.0.1:8270');
  if (args.slaves.length === 0) args.slaves.push('127.0.0.1:8271', '127.0.0.1:8272');
  return args;
}

/** @param {string[]} argv @returns {Promise<number>} exit code */
async function main(argv) {
  const args = parseArgs(argv);
  switch (args.mode) {
    case 'help':
      console.log(USAGE);
      return 0;
    case 'print':
      process.stdout.write(renderChatConf(args));
      return 0;
    case 'print-docker':
      process.stdout.write(renderDockerChatConf());
      return 0;
    case 'write-docker':
      writeFileSync(DOCKER_CONF_PATH, renderDockerChatConf());
      console.log(`wrote ${DOCKER_CONF_PATH}`);
      return 0;
    case 'which': {
      const found = findNginx();
      if (found) console.log(found);
      else console.error('nginx not found (install it with tools/cluster/ensure-nginx.sh)');
      return found ? 0 : 1;
    }
    case 'run':
      return run(args);
  }
}

/**
 * @param {ReturnType<typeof parseArgs>} args
 * @returns {Promise<number>}
 */
async function run(args) {
  const nginx = findNginx();
  if (!nginx) {
    console.error('nginx not found: run tools/cluster/ensure-nginx.sh (or set NGINX_BIN)');
    return 1;
  }
  const { host, port } = parseListen(args.listen);
  const ownPrefix = args.prefix === undefined;
  renderChatConf(args); // invalid settings stop here, before anything is written
  const prefix = args.prefix ?? mkdtempSync(join(tmpdir(), 'chat-nginx-'));
  /** @type {PreparedPrefix} */
  let prepared;
  try {
    prepared = preparePrefix({ ...args, prefix });
  } catch (error) {
    if (ownPrefix) rmSync(prefix, { recursive: true, force: true });
    throw error;
  }
  const child = spawn(nginx, prepared.args, { stdio: ['ignore', 'inherit', 'inherit'] });

  /** @type {Promise<{ code: number | null, signal: NodeJS.Signals | null }>} */
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (error) => {
      console.error(`could not start ${nginx}: ${error.message}`);
      resolve({ code: 1, signal: null });
    });
  });
  let stopping = false;
  for (const signal of /** @type {const} */ (['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP'])) {
    process.on(signal, () => {
      if (signal !== 'SIGHUP') stopping = true;
      // SIGHUP reloads nginx; the others stop it (TERM/INT fast, QUIT gracefully).
      child.kill(signal);
    });
  }

  let ready = false;
  void (async () => {
    const deadline = Date.now() + 10_000;
    while (!ready && !stopping && child.exitCode === null && Date.now() < deadline) {
      if (await answers(host, port)) {
        ready = true;
        const shown = host.includes(':') ? `[${host}]` : host;
        console.log(
          `nginx listening on http://${shown}:${port} (pid ${child.pid}, prefix ${prefix})`,
        );
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (!ready && !stopping && child.exitCode === null) {
      console.error(
        `nginx started but http://${host}:${port}/nginx-healthz does not answer after 10 s`,
      );
    }
  })();

  const { code, signal } = await exited;
  if (ownPrefix) rmSync(prefix, { recursive: true, force: true });
  if (signal && !stopping) console.error(`nginx was ended by ${signal}`);
  if (code !== 0 && code !== null && !stopping) console.error(`nginx exited with code ${code}`);
  if (stopping) return code ?? 0;
  return code ?? 1;
}

const invokedDirectly =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 2;
    },
  );
}
