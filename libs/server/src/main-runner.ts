import { ConfigError, loadNodeConfig, type AppName, type NodeConfig } from '@chat/cluster';
import { NodeNameInUseError } from '@chat/messaging';
import { startNode } from './bootstrap';

/** The first error in the `cause` chain that is a duplicate node name, if any. */
function nameInUse(error: unknown): NodeNameInUseError | null {
  for (let current = error, depth = 0; current && depth < 10; depth++) {
    if (current instanceof NodeNameInUseError) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return null;
}

function readConfig(app: AppName): NodeConfig {
  try {
    return loadNodeConfig(process.argv.slice(2), process.env, { app });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${app}: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}

/**
 * What `main.ts` of either app runs: read and check the command line and environment (exit 2
 * naming every problem), start the node (exit 1 on failure), print where it listens.
 */
export function runFromCommandLine(app: AppName): void {
  const main = async (): Promise<void> => {
    const config = readConfig(app);
    const node = await startNode(config, {
      onSecretsGenerated: (adminApiKey) =>
        process.stdout.write(
          `\n  Generated secrets in ${config.dataDir}/secrets.json (admin API key: ${adminApiKey})\n`,
        ),
      onDemoSeed: (seed) =>
        process.stdout.write(
          [
            '',
            '  Demo site created (first run):',
            `    site id:    ${seed.siteId}`,
            ...seed.operators.map((o) => `    operator:   ${o.email} / ${o.password}`),
            '',
          ].join('\n') + '\n',
        ),
    });
    process.stdout.write(
      `\n  Chat node "${config.nodeName}" (${app}, ${config.mode}) listening on ${node.url}\n` +
        `    operator login: POST ${node.url}/l/o/login   delta socket: ${node.url}/ws/o/delta\n` +
        `    visitor chat:   POST ${node.url}/l/v/chats   chat socket:  ${node.url}/ws/v/chat\n\n`,
    );
  };
  main().catch((error: unknown) => {
    const duplicate = nameInUse(error);
    if (duplicate) {
      process.stderr.write(`${app}: ${duplicate.message}\n`);
      process.exit(2);
    }
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`${app}: failed to start: ${text}\n`);
    process.exit(1);
  });
}
