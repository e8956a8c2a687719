import { randomUUID } from 'node:crypto';
import type { Channel, ChannelModel, ConsumeMessage, Message } from 'amqplib';
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
  isRpcReply,
  requestTimeoutMs,
} from '../node-rpc';
import {
  type RabbitMqConnection,
  type RabbitMqErrorReporter,
  RabbitMqNotConnectedError,
  type RabbitMqParticipant,
} from './rabbitmq-connection';
import {
  MessageRejections,
  type MessageSigner,
  type RejectionListener,
  claimedSigner,
} from './message-signing';
import { errorText, parseJsonMessage, safely, serialise } from './rabbitmq-support';

export interface RabbitMqNodeRpcOptions {
  /** The node's shared connection; the NodeRpc attaches to it and never closes it. */
  readonly connection: RabbitMqConnection;
  /** Prepended to the queue names (`MQ_NODE_ID_PREFIX`, e.g. "chat."). Default "". */
  readonly prefix?: string;
  readonly clusterName: string;
  /** The node's name from the cluster configuration: the name this process claims. */
  readonly nodeName: string;
  /** Unique per process start (e.g. a UUID); tells callers which process answered them. */
  readonly instanceId: string;
  /** Time-out of a request without `timeoutMs`. Default 5000 ms. */
  readonly defaultTimeoutMs?: number;
  /**
   * After the name was found held by another connection on a reconnect, how often to try to claim
   * it again. Default 2000 ms.
   */
  readonly reclaimIntervalMs?: number;
  /** Receives failing channels, malformed messages and a lost node name. Default: console.error. */
  readonly onError?: RabbitMqErrorReporter;
  /**
   * Signs every request and reply, and verifies every received one before it is parsed (anyone who
   * may publish to the vhost's default exchange can put a message into a node's queue). Dropped
   * without an answer: an unsigned or wrongly signed message, a request whose `caller.node` is not
   * its signer, a reply not signed by the node that was asked (the request keeps waiting for the
   * real reply). Counted via `onRejected`, reported at most once a minute per reason and signer.
   * Without a signer nothing is signed or verified.
   */
  readonly signer?: MessageSigner;
  /** Counts messages dropped on arrival (see `signer`). */
  readonly onRejected?: RejectionListener;
}

/** The broker's reply code when another connection holds an exclusive queue (RESOURCE_LOCKED). */
const RESOURCE_LOCKED = 405;

/** The body of a request (AMQP `type: 'request'`). */
interface RequestBody {
  readonly method: string;
  readonly caller: RpcCaller;
  /** Absent when the payload was `undefined`. */
  readonly payload?: unknown;
}

/** The channel of one connection; replaced on every reconnect. */
interface Current {
  readonly model: ChannelModel;
  readonly channel: Channel;
  /** Set when the channel is closed on purpose or already dead: its 'close' is expected. */
  closing: boolean;
}

interface Pending {
  readonly node: string;
  readonly method: string;
  settle(outcome: RpcOutcome): void;
}

const defaultOnError: RabbitMqErrorReporter = (error, context) => {
  console.error(`NodeRpc: ${context}`, error);
};

/**
 * The RabbitMQ {@link NodeRpc}: a participant of the node's shared {@link RabbitMqConnection}.
 *
 * **One queue per node name.** Each node declares one non-durable, **exclusive** queue
 * `<prefix><cluster>.node.<node>`. Exclusive means owned by the declaring connection: the broker
 * deletes it when that connection dies, and refuses (405 RESOURCE_LOCKED, closing only the
 * declaring channel) any other connection that declares it. That is how a second live process with
 * the same node name is detected: {@link start} rejects with {@link NodeNameInUseError} after one
 * round trip (the connection's retries are not involved), and the process that holds the name sees
 * nothing. {@link stop} deletes the queue, so that the name is free at once, even though the shared
 * connection stays open.
 *
 * **Requests and replies share that queue.** A request is a non-persistent message published on
 * the default exchange with routing key = the target's queue, `mandatory`, `type: 'request'`,
 * `replyTo` = the caller's queue, a fresh `correlationId`, and `expiration` = the time-out (the
 * broker drops a request nobody consumed in time); its body carries the method, the caller and the
 * payload. A `basic.return` means no queue of that name exists, i.e. no live process holds the name:
 * the request rejects at once with {@link RpcNodeUnreachableError}. The answer is a `type: 'reply'`
 * message with the same `correlationId` and the body `{ ok: true, data } | { ok: false, error }`.
 *
 * **At most once.** The queue is consumed with `noAck`: a request delivered to a node that dies
 * before answering is gone, and the caller times out; no request is ever handled twice by the
 * broker's doing. Requests are handled concurrently, in arrival order of their start.
 *
 * **Connection loss.** Pending requests reject at once with {@link RabbitMqNotConnectedError} (the
 * exclusive queue their replies would come to died with the connection; the target may or may not
 * have handled them), and requests made while disconnected reject the same way. Replies of handlers
 * that finish while disconnected are dropped. On reconnect the queue is declared and consumed
 * again. If meanwhile another process claimed the name, this node reports a
 * {@link NodeNameInUseError} to `onError`, rejects every request with it, and tries to claim the
 * name again every `reclaimIntervalMs` (the broker may also still hold this node's queue for the
 * dead connection for a moment).
 */
export class RabbitMqNodeRpc extends NodeRpc implements RabbitMqParticipant {
  readonly nodeName: string;
  /** The queue that holds this node's name and receives its requests and replies. */
  readonly queueName: string;
  private readonly options: RabbitMqNodeRpcOptions;
  private readonly connection: RabbitMqConnection;
  private readonly onError: RabbitMqErrorReporter;
  private readonly rejections: MessageRejections;
  private readonly handlers: RpcHandlers;
  private readonly pending = new Map<string, Pending>();
  private current: Current | undefined;
  private started = false;
  private starting: Promise<void> | undefined;
  /** The outcome of the first setup after {@link start}: claimed, or refused. */
  private claim: 'claimed' | NodeNameInUseError | undefined;
  /** Set while another connection holds the name after a reconnect. */
  private nameLost: NodeNameInUseError | undefined;
  private reclaimTimer: NodeJS.Timeout | undefined;

  constructor(options: RabbitMqNodeRpcOptions) {
    super();
    for (const key of ['clusterName', 'nodeName', 'instanceId'] as const) {
      if (!options[key]) {
        throw new Error(`RabbitMqNodeRpc needs a non-empty ${key}`);
      }
    }
    this.options = options;
    this.connection = options.connection;
    this.onError = options.onError ?? defaultOnError;
    this.rejections = new MessageRejections(options.onRejected, (error) =>
      this.report(error, 'delivery'),
    );
    this.nodeName = options.nodeName;
    this.queueName = this.queueOf(options.nodeName);
    this.handlers = new RpcHandlers(options.nodeName);
  }

  /** True while started, holding the name, with a usable channel. */
  get connected(): boolean {
    return this.started && this.current !== undefined && this.connection.connected;
  }

  /**
   * Attaches to the connection, starts it (if nobody did yet) and claims the name. Rejects with the
   * {@link NodeNameInUseError} itself when another live process holds the name, as soon as the
   * broker refused the declaration; with the connection's error when the broker cannot be reached
   * (after its `initialConnectRetries`); and with a {@link RabbitMqNotConnectedError} when the
   * shared connection is between two connects. On any rejection the participant is detached again.
   */
  start(): Promise<void> {
    this.starting ??= this.claimName().catch((error: unknown) => {
      this.starting = undefined;
      throw error;
    });
    return this.starting;
  }

  async stop(): Promise<void> {
    await this.starting?.catch(() => undefined);
    if (!this.started) {
      return;
    }
    this.started = false;
    this.starting = undefined;
    this.nameLost = undefined;
    this.stopReclaiming();
    this.connection.detach(this);
    this.rejectPending(
      (pending) =>
        new Error(
          `NodeRpc of node "${this.nodeName}" stopped before node "${pending.node}" answered "${pending.method}"`,
        ),
    );
    const current = this.current;
    this.current = undefined;
    if (current) {
      current.closing = true;
      // Deleting (not just leaving) the exclusive queue frees the name while the shared connection
      // lives on; it also drops requests not yet delivered (their callers time out).
      await safely(() => current.channel.deleteQueue(this.queueName));
      await safely(() => current.channel.close());
    }
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
    const current = this.current;
    if (this.nameLost) {
      return Promise.reject(this.nameLost);
    }
    if (!this.started || !current || !this.connection.connected) {
      return Promise.reject(
        new RabbitMqNotConnectedError(`cannot send "${method}" to node "${node}"`),
      );
    }
    let timeoutMs: number;
    let body: Buffer;
    try {
      if (node === '' || method === '') {
        throw new Error('An RPC request needs a non-empty node and method');
      }
      timeoutMs = requestTimeoutMs(
        options,
        this.options.defaultTimeoutMs ?? DEFAULT_RPC_TIMEOUT_MS,
      );
      const request: RequestBody = {
        method,
        caller: { node: this.nodeName, instanceId: this.options.instanceId },
        payload,
      };
      body = serialise(request, `Payload of "${method}"`);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const correlationId = randomUUID();
    const waiting = awaitReply<T>(node, method, timeoutMs, () => {
      this.pending.delete(correlationId);
    });
    const pending: Pending = { node, method, settle: waiting.settle };
    this.pending.set(correlationId, pending);
    try {
      current.channel.publish('', this.queueOf(node), body, {
        type: 'request',
        correlationId,
        replyTo: this.queueName,
        mandatory: true,
        persistent: false,
        expiration: String(Math.ceil(timeoutMs)),
        contentType: 'application/json',
        appId: this.nodeName,
        ...this.signed(requestId(correlationId, this.queueName), body),
      });
    } catch (error) {
      pending.settle({
        error: new Error(`Request "${method}" to node "${node}" could not be published`, {
          cause: error,
        }),
      });
    }
    return waiting.promise;
  }

  /** @internal Claims the name and starts consuming; runs on every (re)connect. */
  async setup(model: ChannelModel): Promise<void> {
    if (!this.started) {
      return;
    }
    this.stopReclaiming();
    const outcome = await this.declareAndConsume(model);
    if (outcome === 'claimed') {
      this.claim ??= 'claimed';
      this.nameLost = undefined;
      return;
    }
    if (this.claim === undefined) {
      // The first claim after start(): start() rejects with it. Not thrown, so that the
      // connection neither retries nor fails for the other participants.
      this.claim = outcome;
      return;
    }
    // A reconnect found the name taken. Not thrown either: the rest of the node's connection
    // (bus, work queue) must come back regardless.
    if (!this.nameLost) {
      this.report(
        outcome,
        `node name held by another connection after a reconnect; retrying every ${this.reclaimIntervalMs()} ms`,
      );
    }
    this.nameLost = outcome;
    this.scheduleReclaim(model);
  }

  /** @internal The connection is gone, and with it the channel and the queue. */
  disconnected(): void {
    this.stopReclaiming();
    const current = this.current;
    this.current = undefined;
    if (current) {
      current.closing = true;
    }
    this.rejectPending(
      (pending) =>
        new RabbitMqNotConnectedError(
          `the connection was lost before node "${pending.node}" answered "${pending.method}" ` +
            '(it may have handled the request)',
        ),
    );
  }

  private async claimName(): Promise<void> {
    this.started = true;
    this.claim = undefined;
    this.nameLost = undefined;
    try {
      await this.connection.attach(this); // when connected, runs setup now
      await this.connection.start(); // when not yet started, runs setup within the first connect
      if (this.claimOutcome() === undefined && this.connection.connected) {
        // Attached between a setup round and the end of that connect: set up now.
        await this.connection.attach(this);
      }
      const claim = this.claimOutcome();
      if (claim instanceof NodeNameInUseError) {
        throw claim;
      }
      if (claim === undefined) {
        throw new RabbitMqNotConnectedError(`cannot claim node name "${this.nodeName}"`);
      }
    } catch (error) {
      this.started = false;
      this.connection.detach(this);
      this.disconnected();
      // A claim refused on one connect attempt explains a connect that failed later.
      const claim = this.claimOutcome();
      throw claim instanceof NodeNameInUseError ? claim : error;
    }
  }

  /** Read through a method: set by {@link setup} while {@link claimName} awaits. */
  private claimOutcome(): 'claimed' | NodeNameInUseError | undefined {
    return this.claim;
  }

  /**
   * Opens the channel, declares the exclusive queue and consumes it. Returns the refusal when
   * another connection holds the queue; throws on any other failure.
   */
  private async declareAndConsume(model: ChannelModel): Promise<'claimed' | NodeNameInUseError> {
    const channel = await model.createChannel();
    // `closing` until the queue is ours: a refused declaration closes the channel, as expected.
    const current: Current = { model, channel, closing: true };
    channel.on('error', (error: unknown) => {
      if (!current.closing) {
        this.report(error, 'channel error');
      }
    });
    channel.on('close', () => {
      if (this.current === current) {
        this.current = undefined;
      }
      if (!current.closing) {
        current.closing = true;
        this.connection.reset(model, new Error('the NodeRpc channel closed unexpectedly'));
      }
    });
    channel.on('return', (message: Message) => this.returned(message));
    try {
      await channel.assertQueue(this.queueName, {
        exclusive: true,
        durable: false,
        autoDelete: false,
      });
    } catch (error) {
      if ((error as { code?: unknown }).code === RESOURCE_LOCKED) {
        return new NodeNameInUseError(this.nodeName, this.options.clusterName);
      }
      throw error;
    }
    try {
      current.closing = false;
      this.current = current;
      await channel.consume(this.queueName, (message) => this.received(current, message), {
        noAck: true,
        exclusive: true,
        consumerTag: `${this.nodeName}.${this.options.instanceId}.rpc`,
      });
    } catch (error) {
      current.closing = true;
      if (this.current === current) {
        this.current = undefined;
      }
      throw error;
    }
    return 'claimed';
  }

  private received(current: Current, message: ConsumeMessage | null): void {
    if (message === null) {
      // The broker cancelled the consumer (e.g. the queue was deleted): rebuild everything.
      if (!current.closing) {
        current.closing = true;
        this.connection.reset(
          current.model,
          new Error('the broker cancelled the NodeRpc consumer'),
        );
      }
      return;
    }
    if (current !== this.current) {
      return;
    }
    const type = message.properties.type as unknown;
    if (type === 'reply') {
      this.replied(message);
    } else if (type === 'request') {
      void this.serve(message);
    } else {
      this.rejections.reject(
        'rpc',
        'malformed',
        claimedSigner(message),
        `message of unexpected type ${JSON.stringify(String(type))}`,
      );
    }
  }

  private replied(message: ConsumeMessage): void {
    const correlationId = message.properties.correlationId as unknown;
    const pending = typeof correlationId === 'string' ? this.pending.get(correlationId) : undefined;
    if (!pending) {
      return; // the request timed out (or was rejected) already
    }
    if (!this.verified(message, replyId(correlationId as string), pending.node)) {
      return; // not the asked node's answer: keep waiting for it
    }
    const parsed = parseJsonMessage<RpcReply>(message, isRpcReply);
    if (parsed.ok) {
      pending.settle({ reply: parsed.value });
    } else {
      pending.settle({
        error: new Error(`Malformed reply from node "${pending.node}" to "${pending.method}"`, {
          cause: parsed.error,
        }),
      });
    }
  }

  private async serve(message: ConsumeMessage): Promise<void> {
    const { replyTo, correlationId } = message.properties as {
      replyTo?: unknown;
      correlationId?: unknown;
    };
    if (typeof replyTo !== 'string' || typeof correlationId !== 'string') {
      this.rejections.reject(
        'rpc',
        'malformed',
        claimedSigner(message),
        'request without replyTo or correlationId',
      );
      return;
    }
    const signer = this.verified(message, requestId(correlationId, replyTo));
    if (signer === false) {
      return; // no answer: the caller (if any) times out
    }
    const parsed = parseJsonMessage<RequestBody>(message, isRequestBody);
    if (parsed.ok && signer !== true && parsed.value.caller.node !== signer) {
      this.rejections.reject('rpc', 'origin', signer, `request ${JSON.stringify(correlationId)}`);
      return;
    }
    const reply: RpcReply = parsed.ok
      ? await this.handlers.run(parsed.value.method, parsed.value.payload, parsed.value.caller)
      : { ok: false, error: { code: 'MALFORMED_REQUEST', message: parsed.error.message } };
    const current = this.current;
    if (!current) {
      if (this.started) {
        this.report(
          new Error(`Reply ${correlationId} dropped: disconnected while handling it`),
          'reply',
        );
      }
      return;
    }
    let body: Buffer;
    try {
      body = serialise(reply, `Reply ${correlationId}`);
    } catch (error) {
      body = serialise(errorReply(error), `Reply ${correlationId}`);
    }
    try {
      current.channel.publish('', replyTo, body, {
        type: 'reply',
        correlationId,
        persistent: false,
        contentType: 'application/json',
        appId: this.nodeName,
        ...this.signed(replyId(correlationId), body),
      });
    } catch (error) {
      this.report(error, `reply ${correlationId} could not be published`);
    }
  }

  /** The signature headers of a message (none without a signer). */
  private signed(id: string, body: Buffer): { headers?: Record<string, string> } {
    return this.options.signer ? { headers: this.options.signer.headers(id, body) } : {};
  }

  /**
   * Verifies a received message (with a signer): its signer, or true without a signer; false when
   * it was dropped (counted and reported). With `from`, the signer must be that node.
   */
  private verified(message: Message, id: string, from?: string): string | true | false {
    const signer = this.options.signer;
    if (!signer) {
      return true;
    }
    const what = `${String(message.properties.type)} ${JSON.stringify(
      String(message.properties.correlationId),
    )}`;
    const verified = signer.verify(message, id);
    if (!verified.ok) {
      this.rejections.reject('rpc', verified.reason, claimedSigner(message), what);
      return false;
    }
    if (from !== undefined && verified.signer !== from) {
      this.rejections.reject('rpc', 'origin', verified.signer, what);
      return false;
    }
    return verified.signer;
  }

  /** A request the broker could route to no queue: no live process holds the target's name. */
  private returned(message: Message): void {
    const correlationId = message.properties.correlationId as unknown;
    const pending = typeof correlationId === 'string' ? this.pending.get(correlationId) : undefined;
    pending?.settle({ error: new RpcNodeUnreachableError(pending.node) });
  }

  private rejectPending(reason: (pending: Pending) => Error): void {
    for (const pending of [...this.pending.values()]) {
      pending.settle({ error: reason(pending) });
    }
  }

  private scheduleReclaim(model: ChannelModel): void {
    this.reclaimTimer = setTimeout(() => {
      this.reclaimTimer = undefined;
      if (!this.started || !this.connection.connected || this.current) {
        return;
      }
      this.setup(model).catch((error: unknown) => {
        this.connection.reset(
          model,
          new Error(`reclaiming the node name failed: ${errorText(error)}`),
        );
      });
    }, this.reclaimIntervalMs());
  }

  private stopReclaiming(): void {
    clearTimeout(this.reclaimTimer);
    this.reclaimTimer = undefined;
  }

  private reclaimIntervalMs(): number {
    return this.options.reclaimIntervalMs ?? 2000;
  }

  private queueOf(node: string): string {
    return `${this.options.prefix ?? ''}${this.options.clusterName}.node.${node}`;
  }

  private report(error: unknown, context: string): void {
    try {
      this.onError(error, context);
    } catch {
      // A failing reporter must not break anything.
    }
  }
}

/** What a request's signature covers besides the body: its correlation id and reply queue. */
function requestId(correlationId: string, replyTo: string): string {
  return `request:${correlationId}:${replyTo}`;
}

function replyId(correlationId: string): string {
  return `reply:${correlationId}`;
}

function isRequestBody(value: Record<string, unknown>): boolean {
  const caller = value['caller'] as Record<string, unknown> | null | undefined;
  return (
    typeof value['method'] === 'string' &&
    typeof caller === 'object' &&
    caller !== null &&
    typeof caller['node'] === 'string' &&
    typeof caller['instanceId'] === 'string'
  );
}
