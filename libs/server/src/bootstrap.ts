import { type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type NodeConfig } from '@chat/cluster';
import express, { type NextFunction, type Request, type Response } from 'express';
import { Logger } from 'nestjs-pino';
import { ChatNodeModule } from './chat-node.module';
import { ApiExceptionFilter, bodyParserError } from './http/api-exception.filter';
import { ClientLimits } from './limits/client-limits';
import { Metrics } from './metrics/metrics';
import { loadOrCreateSecrets } from './runtime/secrets';
import { type DemoSeed } from './use-cases/seed-demo.use-case';

export interface StartedNode {
  app: INestApplication;
  url: string;
}

/**
 * Body-parser failures happen before Nest's filters: answer them in the same error shape, with
 * the filter's mapping (413 PAYLOAD_TOO_LARGE, 400 VALIDATION_FAILED, 415 UNSUPPORTED_MEDIA_TYPE).
 */
function bodyErrorHandler(err: unknown, _req: Request, res: Response, next: NextFunction): void {
  const mapped = bodyParserError(err);
  if (mapped) res.status(mapped.status).json({ error: mapped.body });
  else next(err);
}

/** Starts a node (standalone, or one node of a cluster): HTTP, both socket servers, the runtime. */
export async function startNode(
  config: NodeConfig,
  hooks: {
    onDemoSeed?: (seed: DemoSeed) => void;
    onSecretsGenerated?: (adminApiKey: string) => void;
  } = {},
): Promise<StartedNode> {
  const secrets = loadOrCreateSecrets(config.dataDir, {
    adminApiKey: config.adminApiKey,
    jwtSecret: config.jwtSecret,
  });
  if (secrets.generated) hooks.onSecretsGenerated?.(secrets.adminApiKey);
  const app = await NestFactory.create(
    ChatNodeModule.forRoot({ config, secrets, onDemoSeed: hooks.onDemoSeed ?? (() => undefined) }),
    { bufferLogs: true, bodyParser: false },
  );
  app.useLogger(app.get(Logger));
  // TRUST_PROXY: req.ip, and the key every per-client limit counts on, agree (both proxy-addr).
  (app.getHttpAdapter().getInstance() as express.Express).set(
    'trust proxy',
    app.get(ClientLimits).expressTrust,
  );
  // Which node answered: for operators behind a balancer, and for tests of the routing.
  app.use((_req: Request, res: Response, next: NextFunction) => {
    res.setHeader('X-Chat-Node', config.nodeName);
    next();
  });
  app.use(express.json({ limit: config.maxPayloadBytes }));
  app.use(bodyErrorHandler);
  app.useGlobalFilters(new ApiExceptionFilter(app.get(Metrics)));
  // The widget runs on customers' sites and the console may live elsewhere: any origin may call,
  // with bearer tokens (no cookies), so no credentials are shared across origins.
  app.enableCors({ origin: true, credentials: false, maxAge: 600 });
  app.enableShutdownHooks();
  await app.listen(config.port, config.host);
  const server = app.getHttpServer() as { address(): unknown };
  const address = server.address() as { port: number } | string | null;
  const port = typeof address === 'object' && address ? address.port : config.port;
  return { app, url: `http://${config.host}:${port}` };
}
