import type { DataSource } from 'typeorm';

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Schema names are spliced into SQL, so only plain lower-case identifiers are accepted. */
export function assertSchemaName(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) {
    throw new RangeError(
      `invalid PostgreSQL schema name ${JSON.stringify(schema)}: use lower-case letters, digits and _`,
    );
  }
  return schema;
}

/** The schema the data source was configured with, if any (else the connection's search_path). */
export function schemaOf(dataSource: DataSource): string | undefined {
  const options = dataSource.options as { schema?: string };
  return options.schema === undefined ? undefined : assertSchemaName(options.schema);
}

/**
 * Table references are qualified with the configured schema explicitly rather than through
 * `search_path`: the embedded PGlite has no connection start-up parameters, and explicit names
 * behave the same on both drivers.
 */
export function tableRef(schema: string | undefined, table: string): string {
  return schema === undefined ? `"${table}"` : `"${schema}"."${table}"`;
}
