import { type DynamicModule, Logger, Module, type Provider } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { Leadership, type NodeConfig } from '@chat/cluster';
import {
  EventFactory,
  EventJournal,
  HybridLogicalClock,
  StateSource,
  UuidV7IdGenerator,
} from '@chat/domain';
import {
  ClusterBus,
  InProcessClusterBus,
  InProcessWorkQueue,
  MessageSigner,
  NodeRpc,
  RabbitMqClusterBus,
  RabbitMqConnection,
  RabbitMqNodeRpc,
  RabbitMqWorkQueue,
  type RejectReason,
  type RejectedKind,
  WorkQueue,
} from '@chat/messaging';
import {
  createDataSource,
  DeadLetterStore,
  runMigrations,
  TypeOrmDeadLetterStore,
  TypeOrmEventJournal,
  TypeOrmOfflineMessages,
  TypeOrmStateSource,
} from '@chat/persistence';
import { LoggerModule } from 'nestjs-pino';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { PasswordHasher } from './auth/password-hasher';
import { TokenService } from './auth/token.service';
import { ClusterNode } from './cluster/cluster-node';
import { ClusterStatusController } from './cluster/cluster-status.controller';
import { RemoteDecisionRequester } from './cluster/remote-decision-requester';
import { AdminController } from './http/admin.controller';
import { ADMIN_API_KEY, AdminKeyGuard, OperatorAuthGuard } from './http/guards';
import { HealthController } from './http/health.controller';
import { ClientLimits } from './limits/client-limits';
import { RateLimitGuard } from './limits/rate-limit.guard';
import { Metrics } from './metrics/metrics';
import { MetricsController } from './metrics/metrics.controller';
import { OperatorController } from './http/operator.controller';
import { VisitorController } from './http/visitor.controller';
import { AutoAssigner } from './runtime/auto-assigner';
import { BrokerDeadLetters } from './runtime/broker-dead-letters';
import { ChatRuntime } from './runtime/chat-runtime';
import { DecisionRequester } from './runtime/decisions';
import { NodeHealth } from './runtime/node-health';
import {
  DEMO_SEED_LISTENER,
  type DemoSeedListener,
  NODE_CONFIG,
  NodeLifecycle,
} from './runtime/node-lifecycle';
import { PersistenceWorker } from './runtime/persistence-worker';
import { FaultPointStatePublisher } from './runtime/write-path-faults';
import {
  BusAndQueueStatePublisher,
  FanoutStatePublisher,
  PERSISTENCE_QUEUE,
  StatePublisher,
} from './runtime/state-publisher';
import { type NodeSecrets } from './runtime/secrets';
import { AdminUseCase } from './use-cases/admin.use-case';
import { DeadLettersUseCase } from './use-cases/dead-letters.use-case';
import { AssignmentRequestsUseCase } from './use-cases/assignment-requests.use-case';
import { EndChatUseCase } from './use-cases/end-chat.use-case';
import { LeaveOfflineMessageUseCase } from './use-cases/leave-offline-message.use-case';
import { LiveSessionUseCase } from './use-cases/live-session.use-case';
import { OperatorAuthUseCase } from './use-cases/operator-auth.use-case';
import { PostMessageUseCase } from './use-cases/post-message.use-case';
import { SeedDemoUseCase } from './use-cases/seed-demo.use-case';
import { StartChatUseCase } from './use-cases/start-chat.use-case';
import { LiveBroadcaster } from './ws/live-broadcaster';
import { OperatorGateway } from './ws/operator.gateway';
import { MAX_PAYLOAD_BYTES } from './ws/socket-options';
import { VisitorGateway } from './ws/visitor.gateway';

const SECRETS = Symbol('SECRETS');

export interface ChatNodeOptions {
  config: NodeConfig;
  secrets: NodeSecrets;
  onDemoSeed: DemoSeedListener;
}

/** The state publisher, wrapped by the test-only fault point when one is armed. */
function withFaultPoint(config: NodeConfig, publisher: StatePublisher): StatePublisher {
  const fault = config.faultPoint;
  return fault ? new FaultPointStatePublisher(publisher, fault.point, fault.trigger) : publisher;
}

/** Standalone: the in-process bus and queue; the node itself decides. */
function standaloneProviders(config: NodeConfig): Provider[] {
  return [
    { provide: ClusterBus, useFactory: () => new InProcessClusterBus() },
    { provide: WorkQueue, useFactory: () => new InProcessWorkQueue() },
    {
      provide: StatePublisher,
      useFactory: (bus: ClusterBus, queue: WorkQueue) =>
        withFaultPoint(config, new BusAndQueueStatePublisher(bus, queue)),
      inject: [ClusterBus, WorkQueue],
    },
    { provide: DecisionRequester, useExisting: AutoAssigner },
    { provide: HybridLogicalClock, useFactory: () => new HybridLogicalClock(config.nodeName) },
    {
      provide: AutoAssigner,
      // The only node is always the acting master, with epoch 1.
      useFactory: (runtime: ChatRuntime) =>
        new AutoAssigner(runtime, () => 1, assignerOptions(config)),
      inject: [ChatRuntime],
    },
  ];
}

function assignerOptions(config: NodeConfig): { graceMs: number; tickMs: number } {
  return { graceMs: config.operatorGraceMs, tickMs: 1000 };
}

/**
 * Cluster: one RabbitMQ connection per process shared by the bus, the work queue and the node
 * RPC; every exchange and queue name starts with `MQ_NODE_ID_PREFIX` + the cluster name. Every
 * node can decide, but only the elected acting master does (`Leadership`); the others ask it.
 */
function clusterProviders(config: NodeConfig): Provider[] {
  const cluster = config.cluster;
  if (!cluster) throw new Error('cluster providers need a cluster configuration');
  const instanceId = randomUUID();
  const logger = new Logger('RabbitMQ');
  const report = (error: unknown, context: unknown): void =>
    logger.warn({ err: error, context }, 'broker problem (recovering)');
  const isMaster = cluster.nodeName === cluster.masterNodeName;
  const workQueuePrefix = `${config.mq.prefix}${cluster.clusterName}.`;
  if (!config.clusterSecret) throw new Error('cluster providers need CLUSTER_SECRET');
  // Every message this node publishes is signed, every one it receives verified (docs/protocol.md
  // "Cluster wire security"); what fails is dropped and counted here.
  const signer = new MessageSigner(
    config.clusterSecret.current,
    cluster.nodeName,
    config.clusterSecret.accepted === null ? [] : [config.clusterSecret.accepted],
  );
  const verified = (metrics: Metrics) => ({
    signer,
    onRejected: (kind: RejectedKind, reason: RejectReason) =>
      metrics.busRejected.inc({ kind, reason }),
  });
  const common = {
    prefix: config.mq.prefix,
    clusterName: cluster.clusterName,
    nodeName: cluster.nodeName,
    instanceId,
  };
  return [
    {
      provide: RabbitMqConnection,
      useFactory: () =>
        new RabbitMqConnection({
          url: config.mq.url,
          connectionName: `${cluster.clusterName}/${cluster.nodeName}/${instanceId}`,
          onError: report,
        }),
    },
    {
      provide: ClusterBus,
      useFactory: (connection: RabbitMqConnection, metrics: Metrics) =>
        new RabbitMqClusterBus({
          ...common,
          connection,
          boundWorkQueues: [`${workQueuePrefix}${PERSISTENCE_QUEUE}`],
          ...verified(metrics),
          // A heartbeat names its node: only that node may send it.
          signalOriginField: 'node',
          onError: report,
        }),
      inject: [RabbitMqConnection, Metrics],
    },
    {
      provide: StatePublisher,
      useFactory: (bus: ClusterBus) => withFaultPoint(config, new FanoutStatePublisher(bus)),
      inject: [ClusterBus],
    },
    {
      provide: WorkQueue,
      useFactory: (connection: RabbitMqConnection, metrics: Metrics) =>
        new RabbitMqWorkQueue({
          connection,
          prefix: workQueuePrefix,
          ...verified(metrics),
          onError: report,
        }),
      inject: [RabbitMqConnection, Metrics],
    },
    {
      // What the broker dead-lettered from the work queues goes to the dead-letter store.
      provide: BrokerDeadLetters,
      useFactory: (queue: WorkQueue, store: DeadLetterStore, metrics: Metrics) =>
        new BrokerDeadLetters(queue as RabbitMqWorkQueue, store, metrics),
      inject: [WorkQueue, DeadLetterStore, Metrics],
    },
    {
      provide: NodeRpc,
      useFactory: (connection: RabbitMqConnection, metrics: Metrics) =>
        new RabbitMqNodeRpc({ ...common, connection, ...verified(metrics), onError: report }),
      inject: [RabbitMqConnection, Metrics],
    },
    { provide: HybridLogicalClock, useFactory: () => new HybridLogicalClock(cluster.nodeName) },
    {
      provide: Leadership,
      useFactory: () => {
        const { deadlineMs, heartbeatIntervalMs } = config.membership;
        // A lease shorter than the deadline: a paused node stops deciding before others give up
        // on it, and one fresh echo per interval keeps a healthy leader's lease alive.
        return new Leadership(cluster.nodeName, {
          leaseMs: deadlineMs - Math.round(heartbeatIntervalMs / 2),
        });
      },
    },
    {
      provide: AutoAssigner,
      useFactory: (runtime: ChatRuntime, leadership: Leadership) =>
        new AutoAssigner(
          runtime,
          () => leadership.decidingEpoch(Date.now()),
          assignerOptions(config),
        ),
      inject: [ChatRuntime, Leadership],
    },
    {
      provide: ClusterNode,
      useFactory: (
        runtime: ChatRuntime,
        bus: ClusterBus,
        rpc: NodeRpc,
        stateSource: StateSource,
        broadcaster: LiveBroadcaster,
        health: NodeHealth,
        assigner: AutoAssigner,
        leadership: Leadership,
      ) =>
        new ClusterNode({
          config,
          cluster,
          app: isMaster ? 'master' : 'slave',
          instanceId,
          runtime,
          bus,
          rpc,
          stateSource,
          broadcaster,
          health,
          leadership,
          decider: assigner,
        }),
      inject: [
        ChatRuntime,
        ClusterBus,
        NodeRpc,
        StateSource,
        LiveBroadcaster,
        NodeHealth,
        AutoAssigner,
        Leadership,
      ],
    },
    {
      provide: DecisionRequester,
      useFactory: (rpc: NodeRpc, runtime: ChatRuntime, node: ClusterNode, assigner: AutoAssigner) =>
        new RemoteDecisionRequester(
          rpc,
          runtime,
          {
            actingMaster: () => node.actingMaster().node,
            local: assigner,
            isLocal: () => node.isDeciding(),
          },
          config.membership.decisionTimeoutMs,
        ),
      inject: [NodeRpc, ChatRuntime, ClusterNode, AutoAssigner],
    },
  ];
}

/**
 * Everything a node runs, wired once. Standalone and cluster share every use case, gateway and
 * controller; only the transports, the decision path and catch-up differ.
 */
@Module({})
export class ChatNodeModule {
  static forRoot({ config, secrets, onDemoSeed }: ChatNodeOptions): DynamicModule {
    const clustered = config.mode === 'cluster';
    return {
      module: ChatNodeModule,
      imports: [
        LoggerModule.forRoot({
          pinoHttp: { level: config.logLevel, autoLogging: false, name: config.nodeName },
        }),
      ],
      controllers: [
        HealthController,
        MetricsController,
        OperatorController,
        VisitorController,
        AdminController,
        ...(clustered ? [ClusterStatusController] : []),
      ],
      providers: [
        { provide: NODE_CONFIG, useValue: config },
        { provide: Metrics, useFactory: () => new Metrics(config.nodeName) },
        {
          provide: ClientLimits,
          useFactory: (metrics: Metrics) => ClientLimits.fromConfig(config, metrics),
          inject: [Metrics],
        },
        RateLimitGuard,
        { provide: SECRETS, useValue: secrets },
        { provide: DEMO_SEED_LISTENER, useValue: onDemoSeed },
        { provide: ADMIN_API_KEY, useValue: secrets.adminApiKey },
        { provide: MAX_PAYLOAD_BYTES, useValue: config.maxPayloadBytes },
        {
          provide: DataSource,
          useFactory: async () => {
            const dataSource = createDataSource({
              url: config.database.url ?? undefined,
              dataDir: join(config.dataDir, 'pglite'),
              schema: config.database.schema ?? undefined,
            });
            await dataSource.initialize();
            await runMigrations(dataSource);
            return dataSource;
          },
        },
        {
          provide: EventJournal,
          useFactory: (ds: DataSource) => new TypeOrmEventJournal(ds),
          inject: [DataSource],
        },
        {
          provide: StateSource,
          useFactory: (ds: DataSource) => new TypeOrmStateSource(ds),
          inject: [DataSource],
        },
        {
          provide: TypeOrmOfflineMessages,
          useFactory: (ds: DataSource) => new TypeOrmOfflineMessages(ds),
          inject: [DataSource],
        },
        ...(clustered ? clusterProviders(config) : standaloneProviders(config)),
        {
          provide: ChatRuntime,
          useFactory: (
            clock: HybridLogicalClock,
            bus: ClusterBus,
            publisher: StatePublisher,
            metrics: Metrics,
          ) =>
            new ChatRuntime(
              config.nodeName,
              clock,
              new EventFactory(config.nodeName, clock, new UuidV7IdGenerator()),
              bus,
              publisher,
              // Wrong-shape events from the bus are dropped before the reducer, and counted.
              { onRejected: (reason) => metrics.busRejected.inc({ kind: 'event', reason }) },
            ),
          inject: [HybridLogicalClock, ClusterBus, StatePublisher, Metrics],
        },
        {
          provide: PersistenceWorker,
          useFactory: (
            queue: WorkQueue,
            journal: EventJournal,
            deadLetters: DeadLetterStore,
            metrics: Metrics,
          ) =>
            new PersistenceWorker(
              queue,
              journal,
              deadLetters,
              { batchSize: config.persistBatchSize, lingerMs: config.persistLingerMs },
              metrics,
            ),
          inject: [WorkQueue, EventJournal, DeadLetterStore, Metrics],
        },
        {
          provide: DeadLetterStore,
          useFactory: (ds: DataSource) => new TypeOrmDeadLetterStore(ds),
          inject: [DataSource],
        },
        {
          provide: NodeHealth,
          // /readyz also watches the journal writer; the cluster membership reads checks() only.
          useFactory: (bus: ClusterBus, worker: PersistenceWorker) =>
            new NodeHealth(config.nodeName, bus, {
              source: worker,
              stallMs: config.persistenceStallMs,
            }),
          inject: [ClusterBus, PersistenceWorker],
        },
        { provide: PasswordHasher, useFactory: () => new PasswordHasher() },
        {
          provide: TokenService,
          useFactory: () =>
            new TokenService(
              new JwtService({
                secret: secrets.jwtSecret,
                signOptions: { expiresIn: config.jwtTtlSeconds },
              }),
              config.jwtTtlSeconds,
            ),
        },
        OperatorAuthGuard,
        AdminKeyGuard,
        OperatorAuthUseCase,
        StartChatUseCase,
        LeaveOfflineMessageUseCase,
        PostMessageUseCase,
        AssignmentRequestsUseCase,
        EndChatUseCase,
        AdminUseCase,
        DeadLettersUseCase,
        SeedDemoUseCase,
        LiveSessionUseCase,
        LiveBroadcaster,
        OperatorGateway,
        VisitorGateway,
        NodeLifecycle,
      ],
    };
  }
}
