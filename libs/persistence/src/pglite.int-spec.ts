import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDataSource, runMigrations } from './data-source';
import { describeJournalContract } from './test-support/journal-contract';
import { buildScenario } from './test-support/scenario';
import { TypeOrmEventJournal } from './typeorm-event-journal';
import { TypeOrmStateSource } from './typeorm-state-source';

const contractDir = mkdtempSync(join(tmpdir(), 'persistence-pglite-'));

// The embedded database of a standalone node: default schema, no server.
describeJournalContract(
  'PGlite',
  async () => {
    const dataSource = createDataSource({ dataDir: contractDir });
    await dataSource.initialize();
    return { dataSource, schema: undefined };
  },
  async ({ dataSource }) => {
    await dataSource.destroy();
    rmSync(contractDir, { recursive: true, force: true });
  },
);

describe('PGlite data directory', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'persistence-pglite-restart-'));

  afterAll(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps the journal across a restart', async () => {
    const scenario = buildScenario();
    const first = createDataSource({ dataDir, schema: 'chat' });
    await first.initialize();
    await runMigrations(first);
    await new TypeOrmEventJournal(first).append(scenario.events);
    const before = await new TypeOrmStateSource(first).loadEvents(scenario);
    await first.destroy();

    const second = createDataSource({ dataDir, schema: 'chat' });
    await second.initialize();
    try {
      await runMigrations(second);
      const after = await new TypeOrmStateSource(second).loadEvents(scenario);
      expect(before.length).toBeGreaterThan(20);
      expect(after).toEqual(before);
    } finally {
      await second.destroy();
    }
  });
});
