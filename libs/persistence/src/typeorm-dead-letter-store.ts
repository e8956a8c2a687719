import { newId } from '@chat/domain';
import type { DataSource } from 'typeorm';
import {
  DeadLetterStore,
  type DeadLetter,
  type DeadLetterError,
  type DeadLetterInput,
  type DeadLetterPage,
  type DeadLetterQuery,
  type DeadLetterRecorded,
  type DeadLetterStatus,
  type DeadLetterWithPayload,
} from './dead-letter-store';
import { exclusive } from './exclusive';
import { schemaOf, tableRef } from './sql';
import { storableText } from './text';

export const DEFAULT_DEAD_LETTERS_LIMIT = 50;
const MAX_DEAD_LETTERS_LIMIT = 500;
const MAX_ERROR_LENGTH = 2000;
const MAX_LABEL_LENGTH = 200;

const COLUMNS =
  'id, queue, unique_id, event_id, event_type, error, sql_state, attempts, first_failed_at, ' +
  'last_failed_at, status, replayed_at';

interface Row {
  id: string;
  queue: string;
  unique_id: string;
  event_id: string | null;
  event_type: string | null;
  error: string;
  sql_state: string | null;
  attempts: number | string;
  first_failed_at: Date | string;
  last_failed_at: Date | string;
  status: string;
  replayed_at: Date | string | null;
  payload?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Text that every `text` column takes, cut to `max` characters. */
function label(value: string, max: number): string {
  return storableText(value.length > max ? value.slice(0, max) : value);
}

function stringField(payload: unknown, key: 'id' | 'type'): string | null {
  if (payload === null || typeof payload !== 'object') return null;
  const value = (payload as Record<string, unknown>)[key];
  return typeof value === 'string' ? label(value, MAX_LABEL_LENGTH) : null;
}

/**
 * The payload as JSON text. `JSON.stringify` writes U+0000 and lone surrogates as the ASCII
 * escapes `\u0000` / `\ud800`, which a `text` column takes: any event can be stored. A value with
 * no JSON form (a cycle, a BigInt) is stored as its description.
 */
function payloadText(payload: unknown): string {
  try {
    const text = JSON.stringify(payload);
    if (typeof text === 'string') return text;
  } catch {
    // fall through
  }
  return JSON.stringify({ unserialisable: label(String(payload), MAX_ERROR_LENGTH) });
}

function date(value: Date | string): Date {
  return value instanceof Date ? value : new Date(value);
}

function deadLetterFrom(row: Row): DeadLetter {
  return {
    id: row.id,
    queue: row.queue,
    uniqueId: row.unique_id,
    eventId: row.event_id,
    eventType: row.event_type,
    error: row.error,
    sqlState: row.sql_state,
    attempts: Number(row.attempts),
    firstFailedAt: date(row.first_failed_at),
    lastFailedAt: date(row.last_failed_at),
    status: row.status as DeadLetterStatus,
    replayedAt: row.replayed_at === null ? null : date(row.replayed_at),
  };
}

/** The dead letters in the `dead_letters` table (migration `DeadLetters1796165236000`). */
export class TypeOrmDeadLetterStore extends DeadLetterStore {
  private readonly table: string;

  constructor(private readonly dataSource: DataSource) {
    super();
    this.table = tableRef(schemaOf(dataSource), 'dead_letters');
  }

  override record(input: DeadLetterInput): Promise<DeadLetterRecorded> {
    const at = input.failedAt.toISOString();
    const parameters = [
      newId(),
      label(input.queue, MAX_LABEL_LENGTH),
      label(input.uniqueId, MAX_LABEL_LENGTH),
      stringField(input.payload, 'id'),
      stringField(input.payload, 'type'),
      payloadText(input.payload),
      label(input.error.message, MAX_ERROR_LENGTH),
      input.error.sqlState === null ? null : label(input.error.sqlState, 5),
      at,
    ];
    return this.run(async () => {
      const rows = await this.dataSource.query<Row[]>(
        `INSERT INTO ${this.table} AS t (id, queue, unique_id, event_id, event_type, payload, error, ` +
          `sql_state, attempts, first_failed_at, last_failed_at, status) ` +
          `VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9::timestamptz, $9::timestamptz, 'pending') ` +
          `ON CONFLICT (queue, unique_id) DO UPDATE SET attempts = t.attempts + 1, ` +
          `error = excluded.error, sql_state = excluded.sql_state, ` +
          `last_failed_at = excluded.last_failed_at, status = 'pending', replayed_at = NULL ` +
          `RETURNING ${COLUMNS}, (t.id = $1) AS created`,
        parameters,
      );
      const row = rows[0] as (Row & { created: boolean }) | undefined;
      if (!row) throw new Error('dead letter insert returned no row');
      return { deadLetter: deadLetterFrom(row), created: row.created };
    });
  }

  override list(query: DeadLetterQuery = {}): Promise<DeadLetterPage> {
    const limit = Math.min(
      Math.max(Math.trunc(query.limit ?? DEFAULT_DEAD_LETTERS_LIMIT), 1),
      MAX_DEAD_LETTERS_LIMIT,
    );
    const where: string[] = [];
    const parameters: unknown[] = [];
    if (query.before !== undefined) {
      if (!UUID.test(query.before)) return Promise.resolve({ items: [], nextCursor: null });
      parameters.push(query.before);
      where.push(`id < $${parameters.length}::uuid`);
    }
    if (query.status !== undefined) {
      parameters.push(query.status);
      where.push(`status = $${parameters.length}`);
    }
    parameters.push(limit + 1);
    const sql =
      `SELECT ${COLUMNS} FROM ${this.table}` +
      (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
      ` ORDER BY id DESC LIMIT $${parameters.length}`;
    return this.run(async () => {
      const rows = await this.dataSource.query<Row[]>(sql, parameters);
      const items = rows.slice(0, limit).map(deadLetterFrom);
      const last = items[items.length - 1];
      return { items, nextCursor: rows.length > limit && last ? last.id : null };
    });
  }

  override get(id: string): Promise<DeadLetterWithPayload | null> {
    if (!UUID.test(id)) return Promise.resolve(null);
    return this.run(async () => {
      const rows = await this.dataSource.query<Row[]>(
        `SELECT ${COLUMNS}, payload FROM ${this.table} WHERE id = $1`,
        [id],
      );
      const row = rows[0];
      return row ? { ...deadLetterFrom(row), payload: row.payload ?? 'null' } : null;
    });
  }

  override recordFailure(id: string, error: DeadLetterError, at: Date): Promise<DeadLetter | null> {
    return this.update(
      id,
      `attempts = attempts + 1, error = $2, sql_state = $3, last_failed_at = $4::timestamptz, ` +
        `status = 'pending', replayed_at = NULL`,
      [
        label(error.message, MAX_ERROR_LENGTH),
        error.sqlState === null ? null : label(error.sqlState, 5),
        at.toISOString(),
      ],
    );
  }

  override markReplayed(id: string, at: Date): Promise<DeadLetter | null> {
    return this.update(id, `status = 'replayed', replayed_at = $2::timestamptz`, [
      at.toISOString(),
    ]);
  }

  private update(id: string, set: string, parameters: unknown[]): Promise<DeadLetter | null> {
    if (!UUID.test(id)) return Promise.resolve(null);
    return this.run(async () => {
      // pg answers an UPDATE ... RETURNING as [rows, count] through TypeORM's query().
      const result = await this.dataSource.query<unknown>(
        `UPDATE ${this.table} SET ${set} WHERE id = $1 RETURNING ${COLUMNS}`,
        [id, ...parameters],
      );
      const rows = (
        Array.isArray(result) && Array.isArray(result[0]) ? result[0] : result
      ) as Row[];
      const row = rows[0];
      return row ? deadLetterFrom(row) : null;
    });
  }

  private run<T>(task: () => Promise<T>): Promise<T> {
    return exclusive(this.dataSource, task);
  }
}
