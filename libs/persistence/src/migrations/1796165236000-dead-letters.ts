import type { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf, tableRef } from '../sql';

/**
 * The dead-letter store: events the journal refused for a permanent reason. Ids are UUIDv7 made by
 * the node (newest first = `ORDER BY id DESC`). The payload is its JSON text in a `text` column,
 * never `jsonb`: JSON.stringify escapes U+0000 and lone surrogates as ASCII, so any event fits.
 * One row per (queue, unique id): a redelivered poison updates its row instead of adding one.
 */
export class DeadLetters1796165236000 implements MigrationInterface {
  name = 'DeadLetters1796165236000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const table = deadLetters(queryRunner);
    await queryRunner.query(
      `CREATE TABLE ${table} (
        id uuid PRIMARY KEY,
        queue text NOT NULL,
        unique_id text NOT NULL,
        event_id text,
        event_type text,
        payload text NOT NULL,
        error text NOT NULL,
        sql_state text,
        attempts integer NOT NULL,
        first_failed_at timestamptz NOT NULL,
        last_failed_at timestamptz NOT NULL,
        status text NOT NULL,
        replayed_at timestamptz,
        CONSTRAINT dead_letters_queue_unique_id UNIQUE (queue, unique_id)
      )`,
    );
    await queryRunner.query(`CREATE INDEX dead_letters_status_id_idx ON ${table} (status, id)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE IF EXISTS ${deadLetters(queryRunner)}`);
  }
}

function deadLetters(queryRunner: QueryRunner): string {
  return tableRef(schemaOf(queryRunner.connection), 'dead_letters');
}
