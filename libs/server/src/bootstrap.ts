import { type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type NodeConfig } from '@chat/cluster';
import express, { type NextFunction, type Request, type Response } from 'express';
import { Logger } from 'nestjs-pino';
import { ChatNodeModule } from './chat-node.module';
import { ApiExceptionFilter } from './http/api-exception.filter';
import { loadOrCreateSecrets } from './runtime/secrets';
import { type DemoSeed } from './use-cases/seed-demo.use-case';

export interface StartedNode {
  app: INestApplication;
  url: string;
}

/**
 * Body-parser failures happen before Nest's filters: answer them in the same error shape
 * (oversized body -> 413 PAYLOAD_TOO_LARGE, malformed JSON -> 400 VALIDATION_FAILED).
 */
function bodyErrorHandler(err: unknown, _req: Request, res: Response, next: NextFunction): void {
  const e = err as { type?: string; status?: number; message?: string };
  if (e.type === 'entity.too.large') {
    res
      .status(413)
      .json({ error: { code: 'PAYLOAD_TOO_LARGE', message: 'request body too large' } });
  } else if (e.status === 400 || e.type === 'entity.parse.failed') {
    res.status(400).json({ error: { code: 'VALIDATION_FAILED', message: 'malformed JSON body' } });
  } else {
    next(err);
  }
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
  // Which node answered: for operators behind a balancer, and for tests of the routing.
  app.use((_req: Request, res: Response, next: NextFunction) => {
    res.setHeader('X-Chat-Node', config.nodeName);
    next();
  });
  app.use(express.json({ limit: config.maxPayloadBytes }));
  app.use(bodyErrorHandler);
  app.useGlobalFilters(new ApiExceptionFilter());
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
