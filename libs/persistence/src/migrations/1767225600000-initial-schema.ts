import type { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf, tableRef } from '../sql';

/**
 * The whole schema, hand-written. Ids are application-made UUIDs (no database defaults: PGlite has
 * no uuid-ossp). Clock columns use the "C" collation so that SQL compares HLC stamps exactly like
 * JavaScript does (byte order), which the last-writer-wins guards rely on.
 */
export class InitialSchema1767225600000 implements MigrationInterface {
  name = 'InitialSchema1767225600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const t = tables(queryRunner);
    const statements = [
      `CREATE TABLE ${t.sites} (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        clock text COLLATE "C" NOT NULL,
        event_id uuid NOT NULL
      )`,
      `CREATE TABLE ${t.departments} (
        id uuid PRIMARY KEY,
        site_id uuid NOT NULL,
        name text NOT NULL,
        clock text COLLATE "C" NOT NULL,
        event_id uuid NOT NULL
      )`,
      `CREATE INDEX departments_site_id_idx ON ${t.departments} (site_id)`,
      `CREATE TABLE ${t.operators} (
        id uuid PRIMARY KEY,
        site_id uuid NOT NULL,
        name text,
        email text,
        password_hash text,
        department_ids jsonb,
        max_chats integer,
        disabled boolean,
        profile_clock text COLLATE "C",
        profile_event_id uuid,
        status text,
        status_clock text COLLATE "C",
        status_event_id uuid
      )`,
      `CREATE INDEX operators_site_id_idx ON ${t.operators} (site_id)`,
      `CREATE TABLE ${t.chats} (
        id uuid PRIMARY KEY,
        site_id uuid NOT NULL,
        department_id uuid,
        visitor_id text,
        visitor_name text,
        visitor_email text,
        fields jsonb NOT NULL,
        status text NOT NULL,
        operator_id uuid,
        started_at timestamptz,
        closed_at timestamptz,
        closed_by jsonb,
        close_reason text,
        rating integer,
        rating_comment text,
        audit jsonb NOT NULL,
        last_clock text COLLATE "C" NOT NULL
      )`,
      `CREATE INDEX chats_site_id_status_idx ON ${t.chats} (site_id, status)`,
      `CREATE INDEX chats_closed_at_idx ON ${t.chats} (closed_at)`,
      `CREATE TABLE ${t.chatEvents} (
        id uuid PRIMARY KEY,
        chat_id uuid NOT NULL,
        site_id uuid NOT NULL,
        type text NOT NULL,
        clock text COLLATE "C" NOT NULL,
        origin text NOT NULL,
        data jsonb NOT NULL
      )`,
      `CREATE INDEX chat_events_chat_id_idx ON ${t.chatEvents} (chat_id)`,
      `CREATE TABLE ${t.messages} (
        id uuid PRIMARY KEY,
        event_id uuid NOT NULL,
        chat_id uuid NOT NULL,
        site_id uuid NOT NULL,
        client_message_id text NOT NULL,
        author_kind text NOT NULL,
        author_id text NOT NULL,
        author_name text NOT NULL,
        text text NOT NULL,
        clock text COLLATE "C" NOT NULL,
        origin text NOT NULL,
        created_at timestamptz NOT NULL,
        CONSTRAINT messages_client_key UNIQUE (chat_id, author_kind, author_id, client_message_id)
      )`,
      `CREATE INDEX messages_chat_id_clock_idx ON ${t.messages} (chat_id, clock, id)`,
      `CREATE TABLE ${t.offlineMessages} (
        id uuid PRIMARY KEY,
        event_id uuid NOT NULL,
        site_id uuid NOT NULL,
        department_id uuid,
        name text NOT NULL,
        email text NOT NULL,
        text text NOT NULL,
        clock text COLLATE "C" NOT NULL,
        origin text NOT NULL,
        created_at timestamptz NOT NULL
      )`,
      `CREATE INDEX offline_messages_site_id_clock_idx ON ${t.offlineMessages} (site_id, clock)`,
    ];
    for (const statement of statements) {
      await queryRunner.query(statement);
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const t = tables(queryRunner);
    for (const table of Object.values(t).reverse()) {
      await queryRunner.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}

function tables(queryRunner: QueryRunner) {
  const schema = schemaOf(queryRunner.connection);
  const ref = (name: string) => tableRef(schema, name);
  return {
    sites: ref('sites'),
    departments: ref('departments'),
    operators: ref('operators'),
    chats: ref('chats'),
    chatEvents: ref('chat_events'),
    messages: ref('messages'),
    offlineMessages: ref('offline_messages'),
  };
}
