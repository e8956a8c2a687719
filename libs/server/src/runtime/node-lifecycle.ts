import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  Optional,
} from '@nestjs/common';
import { evictClosedChats, StateSource } from '@chat/domain';
import { ClusterBus, NodeRpc, RabbitMqConnection, WorkQueue } from '@chat/messaging';
import { type NodeConfig } from '@chat/cluster';
import { DataSource } from 'typeorm';
import { ClusterNode } from '../cluster/cluster-node';
import { SeedDemoUseCase, type DemoSeed } from '../use-cases/seed-demo.use-case';
import { AutoAssigner } from './auto-assigner';
import { ChatRuntime } from './chat-runtime';
import { NodeHealth } from './node-health';
import { PersistenceWorker } from './persistence-worker';

export const NODE_CONFIG = Symbol('NODE_CONFIG');
export const DEMO_SEED_LISTENER = Symbol('DEMO_SEED_LISTENER');
export type DemoSeedListener = (seed: DemoSeed) => void;

/**
 * Start and stop in the one order that keeps the guarantees: load the state before taking
 * clients; on shutdown stop deciding, then drain what waits for the database.
 */
@Injectable()
export class NodeLifecycle
  implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  private readonly logger = new Logger(NodeLifecycle.name);
  private housekeeping: NodeJS.Timeout | null = null;
  private stopReconnectListener: (() => void) | null = null;

  constructor(
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
    @Inject(DEMO_SEED_LISTENER) private readonly onSeed: DemoSeedListener,
    private readonly runtime: ChatRuntime,
    private readonly stateSource: StateSource,
    private readonly bus: ClusterBus,
    private readonly workQueue: WorkQueue,
    private readonly worker: PersistenceWorker,
    private readonly assigner: AutoAssigner,
    private readonly health: NodeHealth,
    private readonly seeder: SeedDemoUseCase,
    private readonly dataSource: DataSource,
    @Optional() @Inject(ClusterNode) private readonly cluster: ClusterNode | null = null,
    @Optional() @Inject(NodeRpc) private readonly rpc: NodeRpc | null = null,
    @Optional()
    @Inject(RabbitMqConnection)
    private readonly connection: RabbitMqConnection | null = null,
  ) {}

  /** Standalone, or the configured master of a cluster: this node seeds an empty database. */
  private get seeds(): boolean {
    return this.cluster === null || this.cluster.isMaster;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.cluster) await this.startClustered(this.cluster);
    else await this.startStandalone();
    if (this.config.seedDemo && this.seeds) {
      const seed = await this.seeder.seedIfEmpty();
      if (seed) this.onSeed(seed);
    }
    // On every node: in a cluster it decides only while this node is the elected acting master.
    this.assigner.start();
    this.housekeeping = setInterval(() => {
      evictClosedChats(this.runtime.state, Date.now() - this.config.closedChatRetentionMs);
    }, 60_000);
    this.housekeeping.unref();
  }

  private async startStandalone(): Promise<void> {
    const events = await this.stateSource.loadEvents({
      closedWithinMs: this.config.closedChatRetentionMs,
      nowMs: Date.now(),
    });
    const applied = this.runtime.replay(events);
    this.runtime.attach();
    await this.workQueue.start();
    await this.bus.start();
    this.worker.start();
    this.health.markStateLoaded();
    this.logger.log(
      { events: events.length, applied, chats: this.runtime.state.chats.size },
      'state loaded',
    );
  }

  /**
   * Claim the node name (a second live process of the same name stops here), bind the state
   * queue while holding what arrives, hear who is alive, catch up from a peer (or the database),
   * then apply what queued meanwhile. After a lost broker connection, catch up again.
   */
  private async startClustered(cluster: ClusterNode): Promise<void> {
    if (!this.rpc) throw new Error('cluster mode needs the node RPC');
    cluster.register();
    this.runtime.attach();
    this.runtime.holdIncoming();
    await this.rpc.start();
    await this.bus.start();
    cluster.startHeartbeats();
    await this.workQueue.start();
    this.worker.start();
    const peers = await cluster.discoverPeers();
    const result = await cluster.catchUp('start');
    const stale = await cluster.closeOwnStaleSessions();
    this.health.markStateLoaded();
    this.logger.log(
      {
        peers: peers.map((p) => p.node),
        ...result,
        staleSessionsClosed: stale,
        chats: this.runtime.state.chats.size,
      },
      'joined the cluster',
    );
    if (this.connection) {
      this.stopReconnectListener = this.connection.onReconnected(() => {
        cluster.catchUp('reconnect').catch((error: unknown) => {
          this.logger.error({ err: error }, 'catch-up after reconnect failed');
        });
      });
    }
  }

  /** Before the HTTP server closes: report not ready, stop deciding, hand leadership over. */
  async beforeApplicationShutdown(signal?: string): Promise<void> {
    this.logger.log({ signal }, 'draining');
    this.health.markDraining();
    if (this.housekeeping) clearInterval(this.housekeeping);
    this.assigner.stop();
    await this.cluster?.resign();
  }

  /** After the last client is gone: write what still waits for the database, then disconnect. */
  async onApplicationShutdown(): Promise<void> {
    const drained = await this.runtime.drain(this.config.shutdownDrainMs);
    if (!drained) this.logger.warn('shutdown: some events were not confirmed in time');
    await this.worker.stop();
    this.stopReconnectListener?.();
    this.cluster?.stopHeartbeats();
    await this.bus.stop();
    await this.workQueue.stop();
    await this.rpc?.stop();
    await this.connection?.close();
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
    this.logger.log('stopped');
  }
}
