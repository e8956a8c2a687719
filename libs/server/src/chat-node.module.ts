import { type DynamicModule, Module } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { ThrottlerModule } from '@nestjs/throttler';
import { type NodeConfig } from '@chat/cluster';
import {
  EventFactory,
  EventJournal,
  HybridLogicalClock,
  StateSource,
  UuidV7IdGenerator,
} from '@chat/domain';
import { ClusterBus, InProcessClusterBus, InProcessWorkQueue, WorkQueue } from '@chat/messaging';
import {
  createDataSource,
  runMigrations,
  TypeOrmEventJournal,
  TypeOrmOfflineMessages,
  TypeOrmStateSource,
} from '@chat/persistence';
import { LoggerModule } from 'nestjs-pino';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { PasswordHasher } from './auth/password-hasher';
import { TokenService } from './auth/token.service';
import { AdminController } from './http/admin.controller';
import { ADMIN_API_KEY, AdminKeyGuard, OperatorAuthGuard } from './http/guards';
import { HealthController } from './http/health.controller';
import { OperatorController } from './http/operator.controller';
import { VisitorController } from './http/visitor.controller';
import { AutoAssigner } from './runtime/auto-assigner';
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
import { type NodeSecrets } from './runtime/secrets';
import { AdminUseCase } from './use-cases/admin.use-case';
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

/**
 * Everything a node runs, wired once. Standalone: both roles, the in-process bus and queue. The
 * cluster drivers replace the `ClusterBus`, `WorkQueue` and `DecisionRequester` providers only.
 */
@Module({})
export class ChatNodeModule {
  static forRoot({ config, secrets, onDemoSeed }: ChatNodeOptions): DynamicModule {
    return {
      module: ChatNodeModule,
      imports: [
        LoggerModule.forRoot({
          pinoHttp: { level: config.logLevel, autoLogging: false, name: config.nodeName },
        }),
        ThrottlerModule.forRoot([{ ttl: 60_000, limit: config.loginRateLimitPerMinute }]),
      ],
      controllers: [HealthController, OperatorController, VisitorController, AdminController],
      providers: [
        { provide: NODE_CONFIG, useValue: config },
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
        { provide: ClusterBus, useFactory: () => new InProcessClusterBus() },
        { provide: WorkQueue, useFactory: () => new InProcessWorkQueue() },
        { provide: HybridLogicalClock, useFactory: () => new HybridLogicalClock(config.nodeName) },
        {
          provide: ChatRuntime,
          useFactory: (clock: HybridLogicalClock, bus: ClusterBus, queue: WorkQueue) =>
            new ChatRuntime(
              config.nodeName,
              clock,
              new EventFactory(config.nodeName, clock, new UuidV7IdGenerator()),
              bus,
              queue,
            ),
          inject: [HybridLogicalClock, ClusterBus, WorkQueue],
        },
        {
          provide: AutoAssigner,
          // Standalone: the only node is always the acting master, epoch 1.
          useFactory: (runtime: ChatRuntime) =>
            new AutoAssigner(runtime, () => 1, { graceMs: config.operatorGraceMs, tickMs: 1000 }),
          inject: [ChatRuntime],
        },
        { provide: DecisionRequester, useExisting: AutoAssigner },
        {
          provide: PersistenceWorker,
          useFactory: (queue: WorkQueue, journal: EventJournal) =>
            new PersistenceWorker(queue, journal, {
              batchSize: config.persistBatchSize,
              lingerMs: config.persistLingerMs,
            }),
          inject: [WorkQueue, EventJournal],
        },
        {
          provide: NodeHealth,
          useFactory: (bus: ClusterBus) => new NodeHealth(config.nodeName, bus),
          inject: [ClusterBus],
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
