import { randomUUID } from 'node:crypto';
import { cloneThroughJson } from './json-clone';
import {
  DEFAULT_RPC_TIMEOUT_MS,
  awaitReply,
  type RpcOutcome,
  NodeNameInUseError,
  NodeRpc,
  type RpcCaller,
  type RpcHandler,
  RpcHandlers,
  RpcNodeUnreachableError,
  type RpcReply,
  type RpcRequestOptions,
  errorReply,
  requestTimeoutMs,
} from './node-rpc';

export interface InProcessRpcHubOptions {
  /** Named in {@link NodeNameInUseError}. Default "in-process". */
  readonly clusterName?: string;
  /** Time-out of a request without `timeoutMs`. Default 5000 ms. */
  readonly defaultTimeoutMs?: number;
}

/** What the nodes of one hub share: who holds which name. */
interface Registry {
  readonly clusterName: string;
  readonly defaultTimeoutMs: number;
  readonly live: Map<string, InProcessNodeRpc>;
}

/**
 * A cluster of {@link NodeRpc} nodes inside one process, for tests of services that talk to other
 * nodes. It behaves as the RabbitMQ driver does:
 * - a started node holds its name: starting a second node of the same name rejects with
 *   {@link NodeNameInUseError}; stopping releases the name;
 * - a request to a name no started node holds rejects at once with {@link RpcNodeUnreachableError};
 * - payloads and replies are copied through JSON; handlers run in a later microtask;
 * - a request whose target stops before answering is lost: the caller times out.
 */
export class InProcessRpcHub {
  private readonly registry: Registry;

  constructor(options: InProcessRpcHubOptions = {}) {
    this.registry = {
      clusterName: options.clusterName ?? 'in-process',
      defaultTimeoutMs: options.defaultTimeoutMs ?? DEFAULT_RPC_TIMEOUT_MS,
      live: new Map(),
    };
  }

  /** A new node of this hub (not started). Several may share a name; only one can be started. */
  node(nodeName: string, instanceId: string = randomUUID()): NodeRpc {
    if (nodeName === '') {
      throw new Error('A node name must not be empty');
    }
    return new InProcessNodeRpc(this.registry, nodeName, instanceId);
  }
}

interface Pending {
  /** Settles the request once; later calls do nothing. */
  settle(outcome: RpcOutcome): void;
}

class InProcessNodeRpc extends NodeRpc {
  private readonly handlers: RpcHandlers;
  private readonly pending = new Set<Pending>();
  private started = false;

  constructor(
    private readonly registry: Registry,
    readonly nodeName: string,
    private readonly instanceId: string,
  ) {
    super();
    this.handlers = new RpcHandlers(nodeName);
  }

  start(): Promise<void> {
    const holder = this.registry.live.get(this.nodeName);
    if (holder !== undefined && holder !== this) {
      return Promise.reject(new NodeNameInUseError(this.nodeName, this.registry.clusterName));
    }
    this.registry.live.set(this.nodeName, this);
    this.started = true;
    return Promise.resolve();
  }

  stop(): Promise<void> {
    if (this.started) {
      this.started = false;
      if (this.registry.live.get(this.nodeName) === this) {
        this.registry.live.delete(this.nodeName);
      }
      for (const pending of [...this.pending]) {
        pending.settle({ error: new Error(`NodeRpc of node "${this.nodeName}" stopped`) });
      }
    }
    return Promise.resolve();
  }

  handle(method: string, handler: RpcHandler): void {
    this.handlers.add(method, handler);
  }

  request<T = unknown>(
    node: string,
    method: string,
    payload: unknown,
    options?: RpcRequestOptions,
  ): Promise<T> {
    if (!this.started) {
      return Promise.reject(
        new Error(
          `NodeRpc of node "${this.nodeName}" is not started; cannot send "${method}" to node "${node}"`,
        ),
      );
    }
    let timeoutMs: number;
    let copy: unknown;
    try {
      timeoutMs = requestTimeoutMs(options, this.registry.defaultTimeoutMs);
      copy =
        payload === undefined ? undefined : cloneThroughJson(payload, `Payload of "${method}"`);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const target = this.registry.live.get(node);
    if (target === undefined) {
      return Promise.reject(new RpcNodeUnreachableError(node));
    }
    const caller: RpcCaller = { node: this.nodeName, instanceId: this.instanceId };
    const waiting = awaitReply<T>(node, method, timeoutMs, () => this.pending.delete(pending));
    const pending: Pending = { settle: waiting.settle };
    this.pending.add(pending);
    void target.serve(method, copy, caller).then((reply) => {
      if (reply !== undefined) {
        pending.settle({ reply });
      }
    });
    return waiting.promise;
  }

  /** Runs one request on this node; `undefined` when it is lost because this node stopped. */
  private async serve(
    method: string,
    payload: unknown,
    caller: RpcCaller,
  ): Promise<RpcReply | undefined> {
    await Promise.resolve();
    if (!this.started) {
      return undefined;
    }
    const reply = await this.handlers.run(method, payload, caller);
    if (!this.started) {
      return undefined;
    }
    try {
      return cloneThroughJson(reply, `Reply to "${method}"`);
    } catch (error) {
      return errorReply(error);
    }
  }
}
