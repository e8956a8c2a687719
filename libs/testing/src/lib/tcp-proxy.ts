import { createServer, type Server, type Socket, connect } from 'node:net';

export interface TcpProxyOptions {
  /** Where the proxy forwards to. */
  readonly targetHost: string;
  readonly targetPort: number;
  /** Where the proxy listens. Default 127.0.0.1, port 0 (a free port, see {@link TcpProxy.port}). */
  readonly host?: string;
  readonly port?: number;
  /** Delay added to every chunk, in each direction. Default 0. */
  readonly latencyMs?: number;
  /** For messages. Default `proxy → host:port`. */
  readonly name?: string;
}

/**
 * How {@link TcpProxy.cut} breaks the link:
 * - `reset`: every open connection is destroyed at once (both peers see the socket close), and
 *   new connections are closed as soon as they are accepted, as by a host that refuses them;
 * - `blackhole`: connections stay open but every byte is dropped, both ways, and new connections
 *   are accepted and never forwarded, as behind a dead link (peers notice only through their own
 *   time-outs or heartbeats). {@link TcpProxy.restore} then destroys those connections: their
 *   streams lost bytes and cannot be resumed.
 */
export type TcpCutMode = 'reset' | 'blackhole';

export interface TcpProxyStats {
  /** Connections accepted since start. */
  readonly accepted: number;
  /** Connections accepted while cut (closed or held at once). */
  readonly refused: number;
  /** Client connections open now (forwarded or held). */
  readonly open: number;
  /** Bytes forwarded client → target and target → client. */
  readonly bytesUp: number;
  readonly bytesDown: number;
}

/** One client connection and its upstream. */
interface Pair {
  readonly client: Socket;
  readonly upstream: Socket | null;
}

/**
 * A TCP proxy for fault injection in tests: listens on 127.0.0.1 and forwards every connection to
 * a target; {@link cut} breaks the link (one node off the broker, say) until {@link restore}, and
 * {@link setLatencyMs} slows it. Order is kept in each direction, also when latency changes. Uses
 * `node:net` only.
 */
export class TcpProxy {
  private readonly pairs = new Set<Pair>();
  private cutMode: TcpCutMode | null = null;
  private latencyMs: number;
  private counters = { accepted: 0, refused: 0, bytesUp: 0, bytesDown: 0 };
  private closed = false;

  private constructor(
    private readonly server: Server,
    private readonly options: TcpProxyOptions,
    readonly port: number,
  ) {
    this.latencyMs = Math.max(0, options.latencyMs ?? 0);
    server.on('connection', (client: Socket) => this.accept(client));
  }

  /** Starts a proxy; resolves once it listens. */
  static start(options: TcpProxyOptions): Promise<TcpProxy> {
    const server = createServer({ noDelay: true, pauseOnConnect: true });
    return new Promise<TcpProxy>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 }, () => {
        server.off('error', reject);
        const address = server.address();
        if (address === null || typeof address === 'string') {
          server.close();
          reject(new Error(`Unexpected proxy address: ${String(address)}`));
          return;
        }
        resolve(new TcpProxy(server, options, address.port));
      });
    });
  }

  get name(): string {
    return this.options.name ?? `proxy → ${this.options.targetHost}:${this.options.targetPort}`;
  }

  /** `127.0.0.1:<port>` (or the configured host). */
  get address(): string {
    return `${this.options.host ?? '127.0.0.1'}:${this.port}`;
  }

  /** True between {@link cut} and {@link restore}. */
  get isCut(): boolean {
    return this.cutMode !== null;
  }

  get stats(): TcpProxyStats {
    return { ...this.counters, open: this.pairs.size };
  }

  /** Breaks the link until {@link restore}; see {@link TcpCutMode}. Repeating it is harmless. */
  cut(mode: TcpCutMode = 'reset'): void {
    this.cutMode = mode;
    if (mode === 'reset') {
      for (const pair of [...this.pairs]) this.destroy(pair);
    }
  }

  /** Forwards new connections again (and drops the ones a blackhole held). */
  restore(): void {
    if (this.cutMode === 'blackhole') {
      for (const pair of [...this.pairs]) this.destroy(pair);
    }
    this.cutMode = null;
  }

  /** Delay for every chunk from now on, each direction (0: none). */
  setLatencyMs(ms: number): void {
    this.latencyMs = Math.max(0, ms);
  }

  /** Stops listening and destroys every connection. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const pair of [...this.pairs]) this.destroy(pair);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    this.counters.accepted += 1;
    client.on('error', () => undefined);
    if (this.closed || this.cutMode === 'reset') {
      this.counters.refused += 1;
      client.resetAndDestroy();
      return;
    }
    if (this.cutMode === 'blackhole') {
      this.counters.refused += 1;
      const held: Pair = { client, upstream: null };
      this.pairs.add(held);
      client.on('data', () => undefined);
      client.once('close', () => this.pairs.delete(held));
      client.resume();
      return;
    }
    const upstream = connect({
      host: this.options.targetHost,
      port: this.options.targetPort,
      noDelay: true,
    });
    upstream.on('error', () => undefined);
    const pair: Pair = { client, upstream };
    this.pairs.add(pair);
    client.setNoDelay(true);
    this.pipe(client, upstream, 'bytesUp');
    this.pipe(upstream, client, 'bytesDown');
    client.once('close', () => this.destroy(pair));
    upstream.once('close', () => this.destroy(pair));
    upstream.once('connect', () => client.resume());
  }

  /** Forwards `from` → `to`, with the current latency, in order, dropping bytes while blackholed. */
  private pipe(from: Socket, to: Socket, counter: 'bytesUp' | 'bytesDown'): void {
    let chain: Promise<void> = Promise.resolve();
    let queued = 0;
    from.on('data', (chunk: Buffer) => {
      if (this.cutMode === 'blackhole') return;
      const delay = this.latencyMs;
      if (delay === 0 && queued === 0) {
        this.write(from, to, chunk, counter);
        return;
      }
      queued += 1;
      const due = Date.now() + delay;
      chain = chain.then(async () => {
        const wait = due - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        queued -= 1;
        if (this.cutMode !== 'blackhole') this.write(from, to, chunk, counter);
      });
    });
    from.once('end', () => {
      void chain.then(() => to.end());
    });
  }

  private write(from: Socket, to: Socket, chunk: Buffer, counter: 'bytesUp' | 'bytesDown'): void {
    if (to.destroyed || to.writableEnded) return;
    this.counters[counter] += chunk.length;
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  }

  private destroy(pair: Pair): void {
    if (!this.pairs.delete(pair)) return;
    pair.client.destroy();
    pair.upstream?.destroy();
  }
}
