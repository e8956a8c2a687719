import { randomBytes } from 'node:crypto';
import { createDataSource, runMigrations } from './data-source';
import {
  describeJournalContract,
  dumpTables,
  truncateTables,
  type ContractHarness,
} from './test-support/journal-contract';
import { buildScenario, seededRandom, shuffledBatches } from './test-support/scenario';
import { TypeOrmEventJournal } from './typeorm-event-journal';

const url = process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `persistence_${Date.now()}_${randomBytes(4).toString('hex')}`;

/** A data source on the test schema; an unreachable server fails the suite, CI or not. */
async function connect(schemaName = schema): Promise<ContractHarness> {
  const dataSource = createDataSource({ url, schema: schemaName });
  try {
    await dataSource.initialize();
  } catch (error) {
    throw new Error(
      `PostgreSQL is required for the persistence integration tests but unreachable at ${url} ` +
        `(set TEST_DATABASE_URL): ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  return { dataSource, schema: schemaName };
}

describeJournalContract('PostgreSQL', connect, async ({ dataSource }) => {
  await dataSource.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await dataSource.destroy();
});

describe('TypeOrmEventJournal on PostgreSQL, two nodes writing at once', () => {
  const nodes: ContractHarness[] = [];
  const nodeSchema = `${schema}_n`;

  beforeAll(async () => {
    for (let i = 0; i < 2; i += 1) nodes.push(await connect(nodeSchema));
    const [first] = nodes;
    if (first) await runMigrations(first.dataSource);
  });

  afterAll(async () => {
    const [first] = nodes;
    if (first) await first.dataSource.query(`DROP SCHEMA IF EXISTS "${nodeSchema}" CASCADE`);
    await Promise.all(nodes.map((n) => n.dataSource.destroy()));
  });

  it('converges to the tables of a single in-order writer', async () => {
    const [a, b] = nodes;
    if (!a || !b) throw new Error('nodes not connected');
    const scenario = buildScenario();
    const journals = [new TypeOrmEventJournal(a.dataSource), new TypeOrmEventJournal(b.dataSource)];
    await journals[0]?.append(scenario.events);
    const reference = await dumpTables(a);

    for (const seed of [11, 12, 13]) {
      await truncateTables(a);
      // every event reaches both nodes (as from the durable queue after a redelivery), in
      // different orders and batches, written concurrently
      await Promise.all(
        journals.map((journal, i) =>
          Promise.all(
            shuffledBatches(scenario.events, seededRandom(seed * 10 + i)).map((batch) =>
              journal.append(batch),
            ),
          ),
        ),
      );
      expect({ seed, dump: await dumpTables(b) }).toEqual({ seed, dump: reference });
    }
  });
});
