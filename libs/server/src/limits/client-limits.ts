import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import { type NodeConfig } from '@chat/cluster';
import { Redis } from 'ioredis';
import { type IncomingMessage } from 'node:http';
import {
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
} from 'rate-limiter-flexible';
import { type Metrics } from '../metrics/metrics';
import { type ApiErrorBody, ApiError } from '../use-cases/api-error';
import { ClientIpResolver } from './client-ip';
import { type LimitBudget, type LimitBudgets, type LimitName, limitBudgets } from './rate-limits';

/** A request, event or connection over its budget. */
export interface Refusal {
  readonly limit: LimitName;
  /** when the budget has room again; null for the connection count (room comes with a disconnect) */
  readonly retryAfterMs: number | null;
  readonly message: string;
}

/** One counted connection: give it back when the socket goes (idempotent). */
export interface ConnectionLease {
  release(): Promise<void>;
}

export interface ClientLimitsOptions {
  readonly budgets: LimitBudgets;
  readonly ips: ClientIpResolver;
  /**
   * The Redis a cluster's nodes share (the limits own the client and close it). Without it, every
   * limit is counted in this process's memory.
   */
  readonly redis?: { readonly client: Redis; readonly keyPrefix: string };
  readonly metrics?: Metrics | null;
  readonly logger?: Logger;
}

/** A connection that is not counted (the limit is off, or the store failed open). */
const UNCOUNTED: ConnectionLease = { release: () => Promise.resolve() };

/** A connection counted in a window that expires this close to the release is not given back. */
const RELEASE_MARGIN_MS = 100;

export function isRefusal(value: ConnectionLease | Refusal): value is Refusal {
  return 'limit' in value;
}

/** What a refused request, event or handshake is answered with. */
export function refusalBody(refusal: Refusal): ApiErrorBody {
  return {
    code: 'RATE_LIMITED',
    message: refusal.message,
    details:
      refusal.retryAfterMs === null
        ? { limit: refusal.limit }
        : { limit: refusal.limit, retryAfterMs: refusal.retryAfterMs },
  };
}

/** The error a refused HTTP request or socket event throws (`429` on HTTP). */
export function rateLimitedError(refusal: Refusal): ApiError {
  const body = refusalBody(refusal);
  return new ApiError(body.code, body.message, body.details);
}

/**
 * ioredis for the limits: no offline queue, short time-outs and no re-sending after a reconnect,
 * so that a Redis outage or stall answers at once with an error (the limiter then counts in
 * memory) instead of holding events, and nothing is counted twice.
 * Logs once when Redis goes away and once when it is back.
 */
export function connectLimitsRedis(url: string, logger: Logger): Redis {
  const client = new Redis(url, {
    enableOfflineQueue: false,
    connectTimeout: 1000,
    commandTimeout: 250,
    disconnectTimeout: 500,
    // A command that timed out was answered by the insurance limiter: never count it again later.
    autoResendUnfulfilledCommands: false,
    retryStrategy: (attempt: number) => Math.min(attempt * 200, 2000),
  });
  let down = false;
  client.on('ready', () => {
    if (down) logger.log('Redis is back: the per-client limits are shared again');
    down = false;
  });
  client.on('error', (error: unknown) => {
    if (down) return;
    down = true;
    logger.warn(
      { err: error },
      'Redis unreachable: the per-client limits count in this node only until it is back',
    );
  });
  return client;
}

function hideSecret(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}

function windowText(seconds: number): string {
  if (seconds === 1) return 'second';
  if (seconds === 60) return 'minute';
  return `${seconds} s`;
}

/**
 * The per-client limits of a node (docs/protocol.md "Limits"): one fixed-window counter per
 * budget, from rate-limiter-flexible. Standalone, or a cluster without `REDIS_URL`: in memory.
 * A cluster with Redis: the `cluster`-scoped budgets are counted in Redis under a prefix of the
 * cluster's name, so every node draws on one budget; each has a memory "insurance" limiter, so
 * that while Redis is unreachable the node fails open to its own counts and chatting goes on.
 */
export class ClientLimits implements OnApplicationShutdown {
  private readonly limiters: Partial<Record<LimitName, RateLimiterAbstract>> = {};
  private readonly logger: Logger;
  private readonly lastFailureLog = new Map<LimitName, number>();
  private redis: Redis | null;

  constructor(private readonly options: ClientLimitsOptions) {
    this.logger = options.logger ?? new Logger(ClientLimits.name);
    this.redis = options.redis?.client ?? null;
    for (const budget of Object.values(options.budgets)) {
      if (budget.points > 0) this.limiters[budget.name] = this.limiterFor(budget);
    }
  }

  static fromConfig(config: NodeConfig, metrics: Metrics | null): ClientLimits {
    const logger = new Logger(ClientLimits.name);
    const cluster = config.cluster;
    let redis: ClientLimitsOptions['redis'];
    if (cluster && config.redisUrl) {
      redis = {
        client: connectLimitsRedis(config.redisUrl, logger),
        keyPrefix: `chat:${config.mq.prefix}${cluster.clusterName}:rl`,
      };
      logger.log({ redis: hideSecret(config.redisUrl) }, 'per-client limits shared through Redis');
    } else if (cluster) {
      logger.warn(
        'REDIS_URL is not set: each node counts the per-client limits on its own, so a client ' +
          'spread over several nodes may get up to one budget per node',
      );
    } else if (config.redisUrl) {
      logger.warn('REDIS_URL is ignored by a standalone node: it counts the limits in memory');
    }
    return new ClientLimits({
      budgets: limitBudgets(config.limits),
      ips: new ClientIpResolver(config.trustProxy),
      redis,
      metrics,
      logger,
    });
  }

  /** Whether the limit is on (its budget is not 0). */
  enabled(name: LimitName): boolean {
    return this.limiters[name] !== undefined;
  }

  budget(name: LimitName): LimitBudget {
    return this.options.budgets[name];
  }

  /** The key a request or socket handshake is counted on (`TRUST_PROXY`, IPv6 by /64). */
  clientKey(req: IncomingMessage): string {
    return this.options.ips.keyOf(req);
  }

  /** The Express `trust proxy` setting that agrees with {@link clientKey}. */
  get expressTrust(): (address: string, hop: number) => boolean {
    return this.options.ips.expressTrust;
  }

  /** Takes one from `name`'s budget for `key`: null when there was room, else the refusal. */
  async consume(name: LimitName, key: string): Promise<Refusal | null> {
    const limiter = this.limiters[name];
    if (!limiter) return null;
    try {
      await limiter.consume(key);
      return null;
    } catch (error) {
      if (error instanceof RateLimiterRes) {
        return this.refuse(name, Math.max(1, Math.ceil(error.msBeforeNext)));
      }
      this.failOpen(name, error);
      return null;
    }
  }

  /** {@link consume}, throwing `RATE_LIMITED` (with `retryAfterMs`) when over the budget. */
  async admit(name: LimitName, key: string): Promise<void> {
    const refusal = await this.consume(name, key);
    if (refusal) throw rateLimitedError(refusal);
  }

  /**
   * Counts one more open connection from `key`, or refuses it. The lease gives it back on
   * release, unless the counter expired meanwhile (then the count it was part of is gone, and
   * giving back would let the new count go below the truth).
   */
  async acquireConnection(key: string): Promise<ConnectionLease | Refusal> {
    const limiter = this.limiters.ipConnections;
    if (!limiter) return UNCOUNTED;
    let counted: RateLimiterRes;
    try {
      counted = await limiter.consume(key);
    } catch (error) {
      if (error instanceof RateLimiterRes) {
        // The refused attempt was counted too: take it back at once.
        await limiter.reward(key).catch((e: unknown) => this.failOpen('ipConnections', e));
        return this.refuse('ipConnections', null);
      }
      this.failOpen('ipConnections', error);
      return UNCOUNTED;
    }
    const until =
      counted.msBeforeNext > 0
        ? Date.now() + counted.msBeforeNext - RELEASE_MARGIN_MS
        : Number.POSITIVE_INFINITY;
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        if (Date.now() >= until) return;
        await limiter.reward(key).catch((e: unknown) => this.failOpen('ipConnections', e));
      },
    };
  }

  /** Closes the Redis connection (after the last client is gone: see `onApplicationShutdown`). */
  async close(): Promise<void> {
    const client = this.redis;
    this.redis = null;
    if (!client) return;
    if (client.status === 'ready') {
      await client.quit().catch(() => client.disconnect());
    } else {
      client.disconnect();
    }
  }

  /**
   * Nest runs this after the HTTP and socket servers have closed (every socket's lease is given
   * back by then), alongside `NodeLifecycle`'s own shutdown.
   */
  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }

  private limiterFor(budget: LimitBudget): RateLimiterAbstract {
    const redis = this.options.redis;
    const keyPrefix = `${redis?.keyPrefix ?? 'rl'}:${budget.name}`;
    const memory = new RateLimiterMemory({
      keyPrefix,
      points: budget.points,
      duration: budget.durationSeconds,
    });
    if (!redis || budget.scope === 'node') return memory;
    return new RateLimiterRedis({
      storeClient: redis.client,
      keyPrefix,
      points: budget.points,
      duration: budget.durationSeconds,
      // Not ready (down, reconnecting): straight to the insurance, no waiting.
      rejectIfRedisNotReady: true,
      insuranceLimiter: memory,
      // Once a key is over its budget, refuse it from memory for the rest of the window: a flood
      // costs Redis one call per window and node, not one per event. Not for the connection
      // count, which disconnects lower again.
      ...(budget.name === 'ipConnections' ? {} : { inMemoryBlockOnConsumed: budget.points + 1 }),
    });
  }

  private refuse(name: LimitName, retryAfterMs: number | null): Refusal {
    this.options.metrics?.rateLimited.inc({ limit: name });
    const budget = this.options.budgets[name];
    const message =
      retryAfterMs === null
        ? `too many ${budget.what}: at most ${budget.points}`
        : `too many ${budget.what}: at most ${budget.points} per ${windowText(budget.durationSeconds)}; retry in ${Math.ceil(retryAfterMs / 1000)} s`;
    return { limit: name, retryAfterMs, message };
  }

  /** The store failed and there was no insurance to ask: let the client through, log sparingly. */
  private failOpen(name: LimitName, error: unknown): void {
    const now = Date.now();
    if (now - (this.lastFailureLog.get(name) ?? 0) < 10_000) return;
    this.lastFailureLog.set(name, now);
    this.logger.warn({ err: error, limit: name }, 'limit store failed: letting the client through');
  }
}
