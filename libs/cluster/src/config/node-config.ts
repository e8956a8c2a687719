/**
 * The one place that reads `process.env` and the command line. Everything is validated once at
 * start into a typed `NodeConfig`; any problem stops the node with one message listing every bad
 * value.
 */
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
  JWT_TTL_SECONDS: positiveInt(12 * 3600),
  OPERATOR_GRACE_MS: z.coerce.number().int().min(0).default(30_000),
  CLOSED_CHAT_RETENTION_MS: positiveInt(3_600_000),
  MAX_PAYLOAD_BYTES: positiveInt(64 * 1024),
  PERSIST_BATCH_SIZE: positiveInt(200),
  PERSIST_LINGER_MS: z.coerce.number().int().min(0).default(2),
  SHUTDOWN_DRAIN_MS: z.coerce.number().int().min(0).default(15_000),
  SEED_DEMO: boolFromEnv.default(true),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOGIN_RATE_LIMIT_PER_MINUTE: positiveInt(20),
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
  jwtTtlSeconds: number;
  operatorGraceMs: number;
  closedChatRetentionMs: number;
  maxPayloadBytes: number;
  persistBatchSize: number;
  persistLingerMs: number;
  /** how long a stopping node waits for unconfirmed events to be written */
  shutdownDrainMs: number;
  seedDemo: boolean;
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
  loginRateLimitPerMinute: number;
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
    jwtTtlSeconds: e.JWT_TTL_SECONDS,
    operatorGraceMs: e.OPERATOR_GRACE_MS,
    closedChatRetentionMs: e.CLOSED_CHAT_RETENTION_MS,
    maxPayloadBytes: e.MAX_PAYLOAD_BYTES,
    persistBatchSize: e.PERSIST_BATCH_SIZE,
    persistLingerMs: e.PERSIST_LINGER_MS,
    shutdownDrainMs: e.SHUTDOWN_DRAIN_MS,
    seedDemo: e.SEED_DEMO,
    logLevel: e.LOG_LEVEL,
    loginRateLimitPerMinute: e.LOGIN_RATE_LIMIT_PER_MINUTE,
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
