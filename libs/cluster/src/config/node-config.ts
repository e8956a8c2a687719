/**
 * The one place that reads `process.env` and the command line. Everything is validated once at
 * start into a typed `NodeConfig`; any problem stops the node with one message listing every bad
 * value.
 */
import { isIP } from 'node:net';
import proxyAddr from 'proxy-addr';
import { z } from 'zod';
import {
  type ClusterConfig,
  NODE_NAME_PATTERN,
  type ReadFile,
  readClusterConfig,
} from './cluster-config';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const boolFromEnv = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** A per-client budget (docs/protocol.md "Limits"): how many per window; 0 turns it off. */
const budget = (fallback: number) => z.coerce.number().int().min(0).default(fallback);

/**
 * Which peers may tell the client's address in `X-Forwarded-For` (Express's `trust proxy`):
 * `true` / `false`, a hop count, or a comma-separated list of addresses, subnets (`10.0.0.0/8`)
 * and the names `loopback`, `linklocal`, `uniquelocal`.
 */
export type TrustProxy = boolean | number | readonly string[];

const TRUST_PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

function parseTrustProxy(raw: string): TrustProxy | { problem: string } {
  const value = raw.trim();
  if (value === 'true' || value === 'false') return value === 'true';
  if (/^\d+$/.test(value)) return Number(value);
  const items = value.split(',').map((item) => item.trim());
  for (const item of items) {
    if (TRUST_PROXY_NAMES.has(item)) continue;
    const [address = '', prefix, ...rest] = item.split('/');
    const family = isIP(address);
    const max = family === 6 ? 128 : 32;
    const prefixOk =
      prefix === undefined ||
      (/^\d{1,3}$/.test(prefix) && Number(prefix) <= max) ||
      (family === 4 && isIP(prefix) === 4);
    if (family === 0 || !prefixOk || rest.length > 0) {
      return {
        problem: `"${item}" is not an address, a subnet, loopback, linklocal or uniquelocal (or use true, false, a hop count)`,
      };
    }
  }
  try {
    // The final word: what the node will use (e.g. refuses a netmask that is not contiguous).
    proxyAddr.compile(items);
  } catch (error) {
    return { problem: error instanceof Error ? error.message : String(error) };
  }
  return items;
}

const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8270),
  HOST: z.string().min(1).default('127.0.0.1'),
  NODE_NAME: z
    .string()
    .regex(NODE_NAME_PATTERN, 'letters, digits, "_" or "-", at most 64')
    .default('standalone'),
  MQ_HOST: z.string().min(1).default('127.0.0.1'),
  MQ_PORT: z.coerce.number().int().min(1).max(65535).default(5672),
  MQ_USERNAME: z.string().min(1).default('guest'),
  MQ_PASSWORD: z.string().min(1).default('guest'),
  MQ_VIRTUAL_HOST: z.string().min(1).default('/'),
  MQ_NODE_ID_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{0,64}$/, 'letters, digits, "_", "-" or ".", at most 64')
    .default(''),
  MQ_TLS: boolFromEnv.default(false),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional(),
  DATABASE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'lowercase identifier')
    .optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  ADMIN_API_KEY: z.string().min(16, 'at least 16 characters').optional(),
  JWT_SECRET: z.string().min(32, 'at least 32 characters').optional(),
  CLUSTER_SECRET: z.string().min(32, 'at least 32 characters').optional(),
  CLUSTER_SECRET_ACCEPTED: z.string().min(32, 'at least 32 characters').optional(),
  JWT_TTL_SECONDS: positiveInt(12 * 3600),
  OPERATOR_GRACE_MS: z.coerce.number().int().min(0).default(30_000),
  CLOSED_CHAT_RETENTION_MS: positiveInt(3_600_000),
  MAX_PAYLOAD_BYTES: positiveInt(64 * 1024),
  PERSIST_BATCH_SIZE: positiveInt(200),
  PERSIST_LINGER_MS: z.coerce.number().int().min(0).default(2),
  PERSISTENCE_STALL_MS: z.coerce.number().int().min(100).default(30_000),
  SHUTDOWN_DRAIN_MS: z.coerce.number().int().min(0).default(15_000),
  SEED_DEMO: boolFromEnv.default(true),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOGIN_RATE_LIMIT_PER_MINUTE: budget(20),
  SOCKET_EVENT_RATE_LIMIT_PER_SECOND: budget(20),
  IP_EVENT_RATE_LIMIT_PER_SECOND: budget(100),
  CHAT_MESSAGE_RATE_LIMIT_PER_MINUTE: budget(60),
  IP_CONNECTION_LIMIT: budget(50),
  IP_CONNECTION_COUNT_TTL_SECONDS: z.coerce.number().int().min(10).max(86_400).default(3600),
  CHAT_START_RATE_LIMIT_PER_MINUTE: budget(10),
  OFFLINE_MESSAGE_RATE_LIMIT_PER_MINUTE: budget(5),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .optional(),
  TRUST_PROXY: z
    .string()
    .optional()
    .transform((raw, ctx) => {
      const parsed = parseTrustProxy(raw ?? 'loopback');
      if (typeof parsed === 'object' && 'problem' in parsed) {
        ctx.addIssue({ code: 'custom', message: parsed.problem });
        return z.NEVER;
      }
      return parsed;
    }),
  HEARTBEAT_INTERVAL_MS: z.coerce.number().int().min(100).max(60_000).default(1000),
  NODE_DEADLINE_MS: z.coerce.number().int().min(300).max(600_000).default(3000),
  CATCH_UP_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  DECISION_TIMEOUT_MS: z.coerce.number().int().min(100).default(5000),
  FAULT_POINT: z.enum(['hold-before-publish', 'hold-before-ack', 'kill-after-publish']).optional(),
  FAULT_TRIGGER: z.string().min(4, 'at least 4 characters').default('#fault-point'),
});

export interface NodeConfig {
  port: number;
  host: string;
  nodeName: string;
  /** standalone: one process with both roles, the in-process bus, and PGlite unless a URL is set */
  mode: 'standalone' | 'cluster';
  /** set in cluster mode (`--node_name` and `--cluster_config`) */
  cluster: ClusterConfig | null;
  /** broker settings, used in cluster mode */
  mq: { url: string; safeUrl: string; prefix: string };
  database: { url: string | null; schema: string | null; dataDir: string };
  dataDir: string;
  /** null: generate one and keep it in the data directory (standalone only) */
  adminApiKey: string | null;
  jwtSecret: string | null;
  /**
   * Cluster mode (required there): the shared secret every node derives its message-signing key
   * from; `accepted` is also accepted when verifying, never used to sign (for a rotation).
   */
  clusterSecret: { current: string; accepted: string | null } | null;
  jwtTtlSeconds: number;
  operatorGraceMs: number;
  closedChatRetentionMs: number;
  maxPayloadBytes: number;
  persistBatchSize: number;
  persistLingerMs: number;
  /** `/readyz` answers 503 once events wait this long without a successful journal write */
  persistenceStallMs: number;
  /** how long a stopping node waits for unconfirmed events to be written */
  shutdownDrainMs: number;
  seedDemo: boolean;
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
  /**
   * Per-client budgets, each 0 = off (docs/protocol.md "Limits"). Counted in memory, or in Redis
   * (`redisUrl`) across a cluster.
   */
  limits: {
    /** socket events (any event) per second, per socket */
    socketEventsPerSecond: number;
    /** socket events per second, per client IP, over all its sockets */
    ipEventsPerSecond: number;
    /** `message.send` per minute, per chat (both sides counted on the chat) */
    chatMessagesPerMinute: number;
    /** open sockets (both channels) per client IP */
    ipConnections: number;
    /** how long the connection counter of an IP lives (Redis: a crashed node's counts go) */
    ipConnectionCountTtlSeconds: number;
    /** `POST /l/v/chats` per minute, per client IP */
    chatStartsPerMinute: number;
    /** `POST /l/v/offline-messages` per minute, per client IP */
    offlineMessagesPerMinute: number;
    /** `POST /l/o/login` per minute, per client IP */
    loginsPerMinute: number;
  };
  /** cluster mode: the Redis the limits share; null = each node counts on its own */
  redisUrl: string | null;
  /** which peers may tell the client's address (`X-Forwarded-For`) */
  trustProxy: TrustProxy;
  /** tests only: a write-path fault point armed for messages containing the trigger */
  faultPoint: {
    point: 'hold-before-publish' | 'hold-before-ack' | 'kill-after-publish';
    trigger: string;
  } | null;
  /** cluster mode: how the nodes watch each other and catch up */
  membership: {
    heartbeatIntervalMs: number;
    /** a node silent for longer is considered gone */
    deadlineMs: number;
    /** how long a snapshot from one peer may take before the next is asked */
    catchUpTimeoutMs: number;
    /** how long a slave waits for the master's answer to a take or transfer */
    decisionTimeoutMs: number;
  };
}

/** Flags accepted on the command line. */
const KNOWN_FLAGS = new Set<string>(['node_name', 'cluster_config']);

export type AppName = 'master' | 'slave';

function parseFlags(argv: readonly string[], problems: string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (!arg.startsWith('--')) {
      problems.push(`unexpected argument "${arg}"`);
      continue;
    }
    const [rawName, inlineValue] = arg.slice(2).split(/=(.*)/s, 2);
    const name = rawName ?? '';
    if (!KNOWN_FLAGS.has(name)) {
      problems.push(`unknown flag --${name} (known: --node_name, --cluster_config)`);
      if (inlineValue === undefined) i++;
      continue;
    }
    const value = inlineValue ?? argv[++i];
    if (value === undefined || value.startsWith('--')) problems.push(`--${name} needs a value`);
    else if (flags.has(name)) problems.push(`--${name} is given twice`);
    else flags.set(name, value);
  }
  return flags;
}

export function loadNodeConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  options: { app?: AppName; readFile?: ReadFile } = {},
): NodeConfig {
  const problems: string[] = [];
  const flags = parseFlags(argv, problems);
  // Empty strings in the environment mean "not set", as in most .env tooling.
  const cleanEnv = Object.fromEntries(
    Object.entries(env).filter(([, v]) => v !== undefined && v !== ''),
  );
  const parsed = envSchema.safeParse(cleanEnv);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const value = cleanEnv[String(issue.path[0])];
      const shown = /SECRET|KEY|PASSWORD|URL/.test(String(issue.path[0]))
        ? '(hidden)'
        : JSON.stringify(value);
      problems.push(`${issue.path.join('.')}=${shown}: ${issue.message}`);
    }
  }
  const cluster = readClusterFlags(flags, options, problems);
  if (cluster && parsed.success) problems.push(...clusterRequirements(parsed.data));
  // A fault point kills or stalls the node on a visitor's text: never where real visitors are.
  if (parsed.success && parsed.data.FAULT_POINT && cleanEnv['NODE_ENV'] === 'production') {
    problems.push('FAULT_POINT is for tests only and is refused when NODE_ENV=production');
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  const e = parsed.data;
  return {
    port: e.PORT,
    host: e.HOST,
    nodeName: cluster?.nodeName ?? e.NODE_NAME,
    mode: cluster ? 'cluster' : 'standalone',
    cluster,
    mq: brokerUrl(e),
    database: {
      url: e.DATABASE_URL ?? null,
      schema: e.DATABASE_SCHEMA ?? null,
      dataDir: e.DATA_DIR,
    },
    dataDir: e.DATA_DIR,
    adminApiKey: e.ADMIN_API_KEY ?? null,
    jwtSecret: e.JWT_SECRET ?? null,
    clusterSecret: e.CLUSTER_SECRET
      ? { current: e.CLUSTER_SECRET, accepted: e.CLUSTER_SECRET_ACCEPTED ?? null }
      : null,
    jwtTtlSeconds: e.JWT_TTL_SECONDS,
    operatorGraceMs: e.OPERATOR_GRACE_MS,
    closedChatRetentionMs: e.CLOSED_CHAT_RETENTION_MS,
    maxPayloadBytes: e.MAX_PAYLOAD_BYTES,
    persistBatchSize: e.PERSIST_BATCH_SIZE,
    persistLingerMs: e.PERSIST_LINGER_MS,
    persistenceStallMs: e.PERSISTENCE_STALL_MS,
    shutdownDrainMs: e.SHUTDOWN_DRAIN_MS,
    seedDemo: e.SEED_DEMO,
    logLevel: e.LOG_LEVEL,
    limits: {
      socketEventsPerSecond: e.SOCKET_EVENT_RATE_LIMIT_PER_SECOND,
      ipEventsPerSecond: e.IP_EVENT_RATE_LIMIT_PER_SECOND,
      chatMessagesPerMinute: e.CHAT_MESSAGE_RATE_LIMIT_PER_MINUTE,
      ipConnections: e.IP_CONNECTION_LIMIT,
      ipConnectionCountTtlSeconds: e.IP_CONNECTION_COUNT_TTL_SECONDS,
      chatStartsPerMinute: e.CHAT_START_RATE_LIMIT_PER_MINUTE,
      offlineMessagesPerMinute: e.OFFLINE_MESSAGE_RATE_LIMIT_PER_MINUTE,
      loginsPerMinute: e.LOGIN_RATE_LIMIT_PER_MINUTE,
    },
    redisUrl: e.REDIS_URL ?? null,
    trustProxy: e.TRUST_PROXY,
    faultPoint: e.FAULT_POINT ? { point: e.FAULT_POINT, trigger: e.FAULT_TRIGGER } : null,
    membership: {
      heartbeatIntervalMs: e.HEARTBEAT_INTERVAL_MS,
      deadlineMs: e.NODE_DEADLINE_MS,
      catchUpTimeoutMs: e.CATCH_UP_TIMEOUT_MS,
      decisionTimeoutMs: e.DECISION_TIMEOUT_MS,
    },
  };
}

/**
 * What a cluster node needs beyond a standalone one: one shared database (an embedded one per node
 * would split the journal) and secrets every node shares (a token signed by one node must verify
 * on every other), so none may be generated locally.
 */
function clusterRequirements(e: z.infer<typeof envSchema>): string[] {
  const problems: string[] = [];
  if (!e.DATABASE_URL) {
    problems.push('DATABASE_URL is required in cluster mode (every node uses the same PostgreSQL)');
  }
  if (!e.JWT_SECRET) {
    problems.push('JWT_SECRET is required in cluster mode (the same value on every node)');
  }
  if (!e.CLUSTER_SECRET) {
    problems.push(
      'CLUSTER_SECRET is required in cluster mode (the same value on every node; it signs every broker message)',
    );
  }
  if (!e.ADMIN_API_KEY) {
    problems.push('ADMIN_API_KEY is required in cluster mode (the same value on every node)');
  }
  if (e.NODE_DEADLINE_MS < 2 * e.HEARTBEAT_INTERVAL_MS) {
    problems.push(
      `NODE_DEADLINE_MS=${e.NODE_DEADLINE_MS} must be at least twice HEARTBEAT_INTERVAL_MS=${e.HEARTBEAT_INTERVAL_MS}`,
    );
  }
  return problems;
}

function readClusterFlags(
  flags: Map<string, string>,
  options: { app?: AppName; readFile?: ReadFile },
  problems: string[],
): ClusterConfig | null {
  const nodeName = flags.get('node_name');
  const file = flags.get('cluster_config');
  if (nodeName === undefined && file === undefined) return null;
  if (nodeName === undefined) {
    problems.push('--node_name is required with --cluster_config');
    return null;
  }
  if (file === undefined) {
    problems.push('--cluster_config is required with --node_name');
    return null;
  }
  if (!NODE_NAME_PATTERN.test(nodeName)) {
    problems.push(`--node_name "${nodeName}": letters, digits, "_" or "-", 1-64 characters`);
    return null;
  }
  const read = readClusterConfig(file, nodeName, options.readFile);
  problems.push(...read.problems);
  const config = read.config;
  if (config && options.app === 'master' && nodeName !== config.masterNodeName) {
    problems.push(
      `--node_name "${nodeName}": the master app runs the configured master "${config.masterNodeName}"; start other nodes with the slave app`,
    );
  }
  if (config && options.app === 'slave' && nodeName === config.masterNodeName) {
    problems.push(
      `--node_name "${nodeName}" is the configured master: start it with the master app`,
    );
  }
  return config;
}

function brokerUrl(e: z.infer<typeof envSchema>): NodeConfig['mq'] {
  const scheme = e.MQ_TLS ? 'amqps' : 'amqp';
  const vhost = encodeURIComponent(e.MQ_VIRTUAL_HOST);
  const host = `${e.MQ_HOST}:${e.MQ_PORT}/${vhost}`;
  return {
    url: `${scheme}://${encodeURIComponent(e.MQ_USERNAME)}:${encodeURIComponent(e.MQ_PASSWORD)}@${host}`,
    safeUrl: `${scheme}://${encodeURIComponent(e.MQ_USERNAME)}:***@${host}`,
    prefix: e.MQ_NODE_ID_PREFIX,
  };
}
