import type { DataSource, EntityManager, EntityTarget, ObjectLiteral } from 'typeorm';
import { schemaOf, tableRef } from './sql';

export interface Recordset {
  /** schema-qualified target table */
  table: string;
  /** `jsonb_to_recordset($1::jsonb) AS x(...)`: the rows, typed by the entity's columns */
  source: string;
  /** entity columns: property name (key in `x`) and database name */
  columns: { property: string; name: string }[];
  /** quoted database names of the non-primary columns */
  updatable: string[];
  parameters: unknown[];
}

/**
 * Rows of an entity as one JSON parameter expanded by `jsonb_to_recordset`: a multi-row statement
 * of any size with a single bind parameter, the column list and types taken from the metadata.
 */
export function recordset<E extends ObjectLiteral>(
  dataSource: DataSource,
  entity: EntityTarget<E>,
  rows: readonly E[],
): Recordset {
  const metadata = dataSource.getMetadata(entity);
  const columns = metadata.columns.map((column) => {
    if (typeof column.type !== 'string') {
      throw new TypeError(`${metadata.name}.${column.propertyName} needs an explicit column type`);
    }
    return { property: column.propertyName, name: column.databaseName, type: column.type };
  });
  const primary = new Set(metadata.primaryColumns.map((c) => c.databaseName));
  return {
    table: tableRef(schemaOf(dataSource), metadata.tableName),
    source: `jsonb_to_recordset($1::jsonb) AS x(${columns.map((c) => `"${c.property}" ${c.type}`).join(', ')})`,
    columns: columns.map(({ property, name }) => ({ property, name })),
    updatable: columns.filter((c) => !primary.has(c.name)).map((c) => `"${c.name}"`),
    parameters: [JSON.stringify(rows)],
  };
}

/**
 * `INSERT INTO <table> AS t (...) SELECT ... FROM <recordset> [where] <conflict>`; `conflict`
 * gets the quoted updatable columns and returns the `ON CONFLICT` clause.
 */
export async function insertRecordset<E extends ObjectLiteral>(
  manager: EntityManager,
  entity: EntityTarget<E>,
  rows: readonly E[],
  conflict: (updatable: string[]) => string,
  where = '',
): Promise<void> {
  const set = recordset(manager.connection, entity, rows);
  const targets = set.columns.map((c) => `"${c.name}"`).join(', ');
  const values = set.columns.map((c) => `x."${c.property}"`).join(', ');
  await manager.query(
    `INSERT INTO ${set.table} AS t (${targets}) SELECT ${values} FROM ${set.source} ${where} ` +
      conflict(set.updatable),
    set.parameters,
  );
}
