/** Who sent a request. */
export interface RpcCaller {
  readonly node: string;
  readonly instanceId: string;
}

/**
 * Handles one request; the resolved value (JSON-serialisable) is the reply. Throwing an Error with
 * a string `code` property replies with that code and message; any other error replies code
 * 'INTERNAL'. May return the value or a promise of it (`unknown` covers both).
 */
export type RpcHandler = (payload: unknown, caller: RpcCaller) => unknown;

export interface RpcRequestOptions {
  readonly timeoutMs?: number;
}

/** The remote handler threw: carries its code and message (and optional JSON `details`). */
export class RpcRemoteError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'RpcRemoteError';
  }
}

/** No live process holds the target node's name (RabbitMQ: the publish was returned as unroutable). */
export class RpcNodeUnreachableError extends Error {
  constructor(readonly node: string) {
    super(`no live node named "${node}" is reachable`);
    this.name = 'RpcNodeUnreachableError';
  }
}

/** No reply within the time-out. */
export class RpcTimeoutError extends Error {
  constructor(
    readonly node: string,
    readonly method: string,
    readonly timeoutMs: number,
  ) {
    super(`node "${node}" did not answer "${method}" within ${timeoutMs} ms`);
    this.name = 'RpcTimeoutError';
  }
}

/** start(): another live process of the cluster already runs under this node name. */
export class NodeNameInUseError extends Error {
  constructor(
    readonly nodeName: string,
    readonly clusterName: string,
  ) {
    super(
      `node name "${nodeName}" is already in use by a live node of cluster "${clusterName}"; ` +
        'stop that process or choose another --node_name',
    );
    this.name = 'NodeNameInUseError';
  }
}

/**
 * Request/reply between the nodes of a cluster, addressed by node name.
 *
 * Contract for every driver:
 * - a node name is held by at most one live process of the cluster: {@link start} claims it;
 * - payloads and replies are copied through JSON, as they cross process boundaries;
 * - handlers run asynchronously, never inside the caller's `request`, and concurrently with each
 *   other (a handler must not assume one request at a time);
 * - at most once: a request is never redelivered; a lost request or reply shows as a time-out, after
 *   which the caller cannot know whether the handler ran (handlers should be idempotent when the
 *   caller retries).
 */
export abstract class NodeRpc {
  abstract readonly nodeName: string;

  /**
   * Claims this node's name in the cluster and starts serving. Rejects with NodeNameInUseError if
   * a live process already holds the name (the running process is left untouched).
   */
  abstract start(): Promise<void>;

  /**
   * Stops serving, rejects pending requests (RpcTimeoutError or a plain Error saying stopped),
   * releases the name. Idempotent.
   */
  abstract stop(): Promise<void>;

  /** Registers the handler of `method` (one per method; registering twice throws). */
  abstract handle(method: string, handler: RpcHandler): void;

  /**
   * Sends a request to the node named `node` and resolves with its handler's reply. Default timeout
   * 5000 ms. Rejects with RpcRemoteError / RpcNodeUnreachableError / RpcTimeoutError, or a
   * RabbitMqNotConnectedError-like error while disconnected. A request to this very node is
   * allowed. Unknown method on the target -> RpcRemoteError code 'UNKNOWN_METHOD'.
   */
  abstract request<T = unknown>(
    node: string,
    method: string,
    payload: unknown,
    options?: RpcRequestOptions,
  ): Promise<T>;
}

// ---- Shared by the drivers (not exported from the library) ----

export const DEFAULT_RPC_TIMEOUT_MS = 5000;

/** The reply on the wire. `data` is absent when the handler resolved with `undefined`. */
export type RpcReply =
  | { readonly ok: true; readonly data?: unknown }
  | { readonly ok: false; readonly error: RpcErrorBody };

export interface RpcErrorBody {
  readonly code: string;
  readonly message: string;
  readonly details?: unknown;
}

/** Checks a decoded reply body (see `parseJsonMessage`). */
export function isRpcReply(value: Record<string, unknown>): boolean {
  if (value['ok'] === true) {
    return true;
  }
  const error = value['error'] as Record<string, unknown> | null | undefined;
  return (
    value['ok'] === false &&
    typeof error === 'object' &&
    error !== null &&
    typeof error['code'] === 'string' &&
    typeof error['message'] === 'string'
  );
}

/** The registry of a node's handlers: one per method. */
export class RpcHandlers {
  private readonly handlers = new Map<string, RpcHandler>();

  constructor(private readonly nodeName: string) {}

  add(method: string, handler: RpcHandler): void {
    if (method === '') {
      throw new Error('An RPC method name must not be empty');
    }
    if (this.handlers.has(method)) {
      throw new Error(`Node "${this.nodeName}" already has a handler for RPC method "${method}"`);
    }
    this.handlers.set(method, handler);
  }

  /** Runs the handler of `method` in a later microtask; never throws, never rejects. */
  async run(method: string, payload: unknown, caller: RpcCaller): Promise<RpcReply> {
    const handler = this.handlers.get(method);
    if (!handler) {
      return {
        ok: false,
        error: {
          code: 'UNKNOWN_METHOD',
          message: `node "${this.nodeName}" has no handler for "${method}"`,
        },
      };
    }
    try {
      const data: unknown = await Promise.resolve().then(() => handler(payload, caller));
      return data === undefined ? { ok: true } : { ok: true, data };
    } catch (error) {
      return errorReply(error);
    }
  }
}

/** The reply of a handler that threw `error` (see {@link RpcHandler}). */
export function errorReply(error: unknown): RpcReply {
  if (error instanceof Error) {
    const { code, details } = error as Error & { code?: unknown; details?: unknown };
    return {
      ok: false,
      error: {
        code: typeof code === 'string' ? code : 'INTERNAL',
        message: error.message,
        ...(details === undefined || !hasJsonForm(details) ? {} : { details }),
      },
    };
  }
  return { ok: false, error: { code: 'INTERNAL', message: String(error) } };
}

/** The rejection reason of a failed reply. */
export function remoteError(error: RpcErrorBody): RpcRemoteError {
  return new RpcRemoteError(error.code, error.message, error.details);
}

/** A request's time-out: the given one, or the default; must be a positive number of ms. */
export function requestTimeoutMs(options: RpcRequestOptions | undefined, fallback: number): number {
  const timeoutMs = options?.timeoutMs ?? fallback;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new RangeError(`An RPC timeoutMs must be a positive number, got ${timeoutMs}`);
  }
  return timeoutMs;
}

function hasJsonForm(value: unknown): boolean {
  try {
    return JSON.stringify(value) !== undefined;
  } catch {
    return false;
  }
}

/** How a request ends: the target's reply, or an error on this side (time-out, stop, no route). */
export type RpcOutcome = { reply: RpcReply } | { error: Error };

/**
 * A request waiting for its outcome, shared by the drivers: `settle` acts once (a reply resolves
 * or rejects with the remote error, an error rejects), clears the time-out, and calls `onDone`
 * so the driver forgets the request; later calls do nothing.
 */
export function awaitReply<T>(
  node: string,
  method: string,
  timeoutMs: number,
  onDone: () => void,
): { promise: Promise<T>; settle: (outcome: RpcOutcome) => void } {
  let settled = false;
  let resolve: (value: T) => void = () => undefined;
  let reject: (error: Error) => void = () => undefined;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const settle = (outcome: RpcOutcome): void => {
    if (settled) {
      return;
    }
    settled = true;
    clearTimeout(timer);
    onDone();
    if ('error' in outcome) {
      reject(outcome.error);
    } else if (outcome.reply.ok) {
      resolve(outcome.reply.data as T);
    } else {
      reject(remoteError(outcome.reply.error));
    }
  };
  const timer = setTimeout(
    () => settle({ error: new RpcTimeoutError(node, method, timeoutMs) }),
    timeoutMs,
  );
  return { promise, settle };
}
