import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { connect } from 'amqplib';

const run = promisify(execFile);

/** The broker of the integration tests (`TEST_AMQP_URL`, default the local guest account). */
export const TEST_AMQP_URL = process.env['TEST_AMQP_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';

/** A throw-away virtual host on the local broker, so that tests share nothing with anyone. */
export interface TestVhost {
  readonly name: string;
  /** `TEST_AMQP_URL` pointing at this vhost. */
  readonly url: string;
  /** Connections of this vhost whose client properties (e.g. connection name) contain the text. */
  listConnections(nameContains?: string): Promise<Array<{ pid: string; name: string }>>;
  /** Closes, from the broker side, the connections of this vhost whose name contains the text. */
  closeConnections(nameContains: string): Promise<number>;
  delete(): Promise<void>;
}

async function rabbitmqctl(...args: string[]): Promise<string> {
  const { stdout } = await run('rabbitmqctl', args, { timeout: 30_000 });
  return stdout;
}

/** Connects to `TEST_AMQP_URL` and disconnects; throws when the broker is unreachable. */
export async function checkBroker(): Promise<void> {
  const connection = await connect(TEST_AMQP_URL);
  await connection.close();
}

/** Creates a fresh vhost with full permissions for the URL's user (via `rabbitmqctl`). */
export async function createTestVhost(label: string): Promise<TestVhost> {
  const base = new URL(TEST_AMQP_URL);
  const user = decodeURIComponent(base.username) || 'guest';
  const name = `chat-test-${label}-${randomUUID().slice(0, 8)}`;
  await rabbitmqctl('add_vhost', name);
  await rabbitmqctl('set_permissions', '-p', name, user, '.*', '.*', '.*');
  const url = new URL(TEST_AMQP_URL);
  url.pathname = `/${encodeURIComponent(name)}`;

  const listConnections = async (
    nameContains = '',
  ): Promise<Array<{ pid: string; name: string }>> => {
    const out = await rabbitmqctl(
      '-q',
      'list_connections',
      '--no-table-headers',
      'pid',
      'vhost',
      'client_properties',
    );
    return (
      out
        .split('\n')
        .map((line) => line.split('\t'))
        .filter(([pid, vhost]) => pid !== undefined && pid.startsWith('<') && vhost === name)
        // client_properties is an Erlang term that contains {"connection_name",longstr,"..."}.
        .map(([pid, , properties]) => ({ pid: pid ?? '', name: properties ?? '' }))
        .filter((connection) => connection.name.includes(nameContains))
    );
  };

  return {
    name,
    url: url.toString(),
    listConnections,
    async closeConnections(nameContains: string): Promise<number> {
      const victims = await listConnections(nameContains);
      for (const victim of victims) {
        await rabbitmqctl('close_connection', victim.pid, 'closed by a messaging integration test');
      }
      return victims.length;
    },
    async delete(): Promise<void> {
      await rabbitmqctl('delete_vhost', name);
    },
  };
}
