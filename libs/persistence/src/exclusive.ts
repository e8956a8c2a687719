import type { DataSource } from 'typeorm';

const tails = new WeakMap<DataSource, Promise<unknown>>();

/** True for the embedded PGlite, which the data source reaches through a custom `driver`. */
export function isEmbedded(dataSource: DataSource): boolean {
  return (dataSource.options as { driver?: unknown }).driver !== undefined;
}

/**
 * PGlite is a single session: two TypeORM transactions on it would interleave their statements in
 * one transaction. So on PGlite the stores run their work one at a time per data source; on
 * PostgreSQL they run concurrently and rely on the database's own locking.
 */
export function exclusive<T>(dataSource: DataSource, task: () => Promise<T>): Promise<T> {
  if (!isEmbedded(dataSource)) return task();
  const previous = tails.get(dataSource) ?? Promise.resolve();
  const run = previous.then(task, task);
  tails.set(
    dataSource,
    run.then(
      () => undefined,
      () => undefined,
    ),
  );
  return run;
}
