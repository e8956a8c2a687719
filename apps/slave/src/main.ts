import 'reflect-metadata';
import { ConfigError, loadNodeConfig, type NodeConfig } from '@chat/cluster';
import { startNode } from '@chat/server';

const APP = 'slave' as const;

function readConfig(): NodeConfig {
  try {
    return loadNodeConfig(process.argv.slice(2), process.env, { app: APP });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${APP}: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}

async function main(): Promise<void> {
  const config = readConfig();
  if (config.mode === 'cluster') {
    // The flags and the file are valid; the RabbitMQ wiring of the roles is still being built.
    process.stderr.write(
      `${APP}: cluster mode (node "${config.nodeName}" of "${config.cluster?.clusterName ?? ''}") is not available in this build yet; run without --node_name/--cluster_config for a standalone node\n`,
    );
    process.exit(3);
  }
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
    `\n  Chat node "${config.nodeName}" (${APP}, ${config.mode}) listening on ${node.url}\n` +
      `    operator login: POST ${node.url}/l/o/login   delta socket: ${node.url}/ws/o/delta\n` +
      `    visitor chat:   POST ${node.url}/l/v/chats   chat socket:  ${node.url}/ws/v/chat\n\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${APP}: failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
