import { mkdirSync } from 'node:fs';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { PGliteDriver } from 'typeorm-pglite';
import { PERSISTENCE_ENTITIES } from './entities';
import { InitialSchema1767225600000 } from './migrations/1767225600000-initial-schema';
import { DeadLetters1796165236000 } from './migrations/1796165236000-dead-letters';
import { assertSchemaName, schemaOf } from './sql';

export interface PersistenceOptions {
  /** `postgres://...`; without it an embedded PGlite database in `dataDir` is used */
  url?: string;
  /** PGlite data directory, default `./data/pglite` (ignored with `url`) */
  dataDir?: string;
  /** PostgreSQL schema holding every table, the migrations table included; default `public` */
  schema?: string;
  logging?: boolean;
}

export const DEFAULT_PGLITE_DATA_DIR = './data/pglite';

export const PERSISTENCE_MIGRATIONS = [InitialSchema1767225600000, DeadLetters1796165236000];

/**
 * A data source for PostgreSQL (`url`) or the embedded PGlite. Not initialised; call
 * `initialize()` then {@link runMigrations}. PGlite runs one database per process
 * (typeorm-pglite keeps a single instance), so open at most one PGlite data source at a time.
 */
export function createDataSource(options: PersistenceOptions): DataSource {
  const schema = options.schema === undefined ? undefined : assertSchemaName(options.schema);
  const common = {
    type: 'postgres',
    ...(schema === undefined ? {} : { schema }),
    entities: PERSISTENCE_ENTITIES,
    migrations: PERSISTENCE_MIGRATIONS,
    migrationsTableName: 'migrations',
    migrationsRun: false,
    synchronize: false,
    installExtensions: false,
    logging: options.logging ?? false,
  } as const;
  let dataSourceOptions: DataSourceOptions;
  if (options.url !== undefined) {
    dataSourceOptions = { ...common, url: options.url };
  } else {
    const dataDir = options.dataDir ?? DEFAULT_PGLITE_DATA_DIR;
    mkdirSync(dataDir, { recursive: true });
    dataSourceOptions = { ...common, driver: new PGliteDriver({ dataDir }).driver };
  }
  return new DataSource(dataSourceOptions);
}

/** Creates the configured schema if missing, then applies pending migrations in one transaction. */
export async function runMigrations(dataSource: DataSource): Promise<void> {
  const schema = schemaOf(dataSource);
  if (schema !== undefined) {
    await dataSource.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  }
  await dataSource.runMigrations({ transaction: 'all' });
}
