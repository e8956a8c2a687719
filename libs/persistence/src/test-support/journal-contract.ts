/**
 * The persistence contract, run against PostgreSQL and PGlite alike (see the `*.int-spec.ts`
 * files): one suite proves the same migrations and SQL serve both.
 */
import {
  applyEvent,
  createState,
  evictClosedChats,
  stateDigest,
  type ChatState,
  type DomainEvent,
  type EventEnvelope,
} from '@chat/domain';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { runMigrations } from '../data-source';
import { tableRef } from '../sql';
import { TypeOrmChatHistory } from '../typeorm-chat-history';
import { TypeOrmConfigQueries } from '../typeorm-config-queries';
import { TypeOrmDeadLetterStore } from '../typeorm-dead-letter-store';
import { TypeOrmEventJournal } from '../typeorm-event-journal';
import { TypeOrmOfflineMessages } from '../typeorm-offline-messages';
import { TypeOrmStateSource } from '../typeorm-state-source';
import { buildScenario, seededRandom, shuffledBatches } from './scenario';

export interface ContractHarness {
  /** an initialised data source, not yet migrated */
  dataSource: DataSource;
  /** the schema it was configured with, undefined for the default one */
  schema: string | undefined;
}

export const TABLES = [
  'chat_events',
  'chats',
  'dead_letters',
  'departments',
  'messages',
  'offline_messages',
  'operators',
  'sites',
] as const;

type Dump = Record<string, unknown[]>;

export async function dumpTables(harness: ContractHarness): Promise<Dump> {
  const dump: Dump = {};
  for (const table of TABLES) {
    const rows: unknown = await harness.dataSource.query(
      `SELECT * FROM ${tableRef(harness.schema, table)} ORDER BY id`,
    );
    dump[table] = JSON.parse(JSON.stringify(rows)) as unknown[];
  }
  return dump;
}

export async function truncateTables(harness: ContractHarness): Promise<void> {
  await harness.dataSource.query(
    `TRUNCATE ${TABLES.map((t) => tableRef(harness.schema, t)).join(', ')}`,
  );
}

function stateOf(events: readonly DomainEvent[]): ChatState {
  const state = createState();
  for (const event of events) applyEvent(state, event);
  return state;
}

function rowCounts(dump: Dump): Record<string, number> {
  return Object.fromEntries(Object.entries(dump).map(([table, rows]) => [table, rows.length]));
}

function messageEvents(events: readonly DomainEvent[]): EventEnvelope<'chat.message.added'>[] {
  return events.filter(
    (e): e is EventEnvelope<'chat.message.added'> => e.type === 'chat.message.added',
  );
}

export function describeJournalContract(
  label: string,
  open: () => Promise<ContractHarness>,
  close: (harness: ContractHarness) => Promise<void>,
): void {
  describe(`persistence contract on ${label}`, () => {
    let harness: ContractHarness;
    let journal: TypeOrmEventJournal;
    const scenario = buildScenario();
    const { ids } = scenario;

    beforeAll(async () => {
      harness = await open();
      await runMigrations(harness.dataSource);
      journal = new TypeOrmEventJournal(harness.dataSource);
    });

    afterAll(async () => {
      if (harness !== undefined) await close(harness);
    });

    beforeEach(async () => {
      await truncateTables(harness);
    });

    it('migrates a fresh schema, the migrations table included, once', async () => {
      const schemaExpr = harness.schema === undefined ? 'current_schema()' : '$1';
      const params = harness.schema === undefined ? [] : [harness.schema];
      const listTables = async () =>
        (
          await harness.dataSource.query<{ table_name: string }[]>(
            `SELECT table_name FROM information_schema.tables WHERE table_schema = ${schemaExpr} ORDER BY table_name`,
            params,
          )
        ).map((r) => r.table_name);
      await expect(listTables()).resolves.toEqual([...TABLES, 'migrations'].sort());

      await runMigrations(harness.dataSource);
      const applied = await harness.dataSource.query<{ name: string }[]>(
        `SELECT name FROM ${tableRef(harness.schema, 'migrations')}`,
      );
      expect(applied.map((r) => r.name).sort()).toEqual([
        'DeadLetters1796165236000',
        'InitialSchema1767225600000',
      ]);
    });

    it('appends idempotently: the same batch twice gives the same rows', async () => {
      await journal.append(scenario.events);
      const once = await dumpTables(harness);
      await journal.append(scenario.events);
      await journal.append(scenario.events.slice(3, 20));
      const twice = await dumpTables(harness);

      expect(twice).toEqual(once);
      const chatEventCount = scenario.events.filter((e) =>
        ['chat.started', 'chat.assigned', 'chat.closed', 'chat.rated'].includes(e.type),
      ).length;
      expect(rowCounts(once)).toEqual({
        chat_events: chatEventCount,
        chats: 5,
        dead_letters: 0,
        departments: 2,
        // one of the two server ids of the re-sent client message is dropped
        messages: messageEvents(scenario.events).length - 1,
        offline_messages: 1,
        operators: 3,
        sites: 1,
      });
    });

    it('gives the same tables whatever the order and batching of the events', async () => {
      await journal.append(scenario.events);
      const reference = await dumpTables(harness);

      for (const seed of [1, 2, 3]) {
        await truncateTables(harness);
        for (const batch of shuffledBatches(scenario.events, seededRandom(seed))) {
          await journal.append(batch);
        }
        expect({ seed, dump: await dumpTables(harness) }).toEqual({ seed, dump: reference });
      }

      await truncateTables(harness);
      await Promise.all(
        shuffledBatches(scenario.events, seededRandom(4)).map((batch) => journal.append(batch)),
      );
      expect(await dumpTables(harness)).toEqual(reference);
    });

    it('projects each chat as the reducer sees it', async () => {
      await journal.append([...scenario.events].reverse());
      const chats = await harness.dataSource.query<
        {
          id: string;
          status: string;
          operator_id: string | null;
          department_id: string | null;
          rating: number | null;
          rating_comment: string | null;
          closed_at: Date | null;
          visitor_id: string | null;
          audit_entries: number;
        }[]
      >(
        `SELECT id, status, operator_id, department_id, rating, rating_comment, closed_at, visitor_id, jsonb_array_length(audit) AS audit_entries FROM ${tableRef(harness.schema, 'chats')}`,
      );
      const byId = new Map(chats.map((c) => [c.id, c]));

      expect(byId.get(ids.openChatId)).toMatchObject({
        status: 'assigned',
        operator_id: ids.operatorIds[0],
        visitor_id: `visitor-${ids.openChatId}`,
      });
      expect(byId.get(ids.waitingChatId)).toMatchObject({ status: 'waiting', operator_id: null });
      expect(byId.get(ids.requeuedChatId)).toMatchObject({
        status: 'waiting',
        operator_id: null,
        department_id: ids.departmentIds[1],
        audit_entries: 3,
      });
      expect(byId.get(ids.recentlyClosedChatId)).toMatchObject({
        status: 'closed',
        rating: 5,
        rating_comment: 'great',
      });
      const closedAt = byId.get(ids.recentlyClosedChatId)?.closed_at;
      expect(closedAt).toBeInstanceOf(Date);
      expect(scenario.nowMs - (closedAt?.getTime() ?? 0)).toBeLessThan(scenario.closedWithinMs);
      expect(byId.get(ids.longClosedChatId)).toMatchObject({ status: 'closed' });
    });

    it('keeps one row for a client message accepted under two server ids, whatever the order', async () => {
      const duplicates = messageEvents(scenario.events).filter(
        (e) => e.data.clientMessageId === ids.duplicateClientMessageId,
      );
      expect(duplicates).toHaveLength(2);
      const kept = stateOf(duplicates)
        .chats.get(ids.openChatId)
        ?.messages.map((m) => m.id);
      expect(kept).toHaveLength(1);

      for (const order of [duplicates, [...duplicates].reverse()]) {
        await truncateTables(harness);
        for (const event of order) await journal.append([event]);
        const rows = await harness.dataSource.query<{ id: string }[]>(
          `SELECT id FROM ${tableRef(harness.schema, 'messages')} WHERE client_message_id = $1`,
          [ids.duplicateClientMessageId],
        );
        expect(rows.map((r) => r.id)).toEqual(kept);
      }
    });

    it('closes a chat closed by two nodes at once once, with the earliest close, whatever the order or redelivery', async () => {
      const first = scenario.events.find(
        (e): e is EventEnvelope<'chat.closed'> =>
          e.type === 'chat.closed' && e.data.chatId === ids.recentlyClosedChatId,
      );
      if (!first) throw new Error('the scenario closes the chat');
      // The chat's operator closed it on the other node at the same moment; by the clock, 1 ms
      // earlier: that close wins (the reducer keeps the earliest by (clock, id)).
      const rival: EventEnvelope<'chat.closed'> = {
        ...first,
        id: '01900000-0000-7000-8000-0000000000c1',
        origin: 'node-b',
        clock: first.clock.replace(/^\d{15}/, (wall) => String(Number(wall) - 1).padStart(15, '0')),
        data: {
          ...first.data,
          by: { kind: 'operator', id: ids.operatorIds[1], name: 'Operator 1' },
          reason: 'closed by operator',
        },
      };
      const others = scenario.events.filter((e) => e.id !== first.id);
      // Each arrangement ends with both closes stored: one batch, either order, and the
      // redeliveries a crash between the write and the acknowledgement causes.
      const arrangements: DomainEvent[][][] = [
        [[first, rival]],
        [[first], [rival]],
        [[rival], [first]],
        [[rival, first], [first], [rival, first]],
        [[first], [first, rival], [rival]],
      ];
      let reference: Dump | undefined;
      for (const [index, arrangement] of arrangements.entries()) {
        await truncateTables(harness);
        await journal.append(others);
        for (const batch of arrangement) await journal.append(batch);
        const dump = await dumpTables(harness);
        reference ??= dump;
        expect({ index, dump }).toEqual({ index, dump: reference });
      }

      const closes = await harness.dataSource.query<{ id: string }[]>(
        `SELECT id FROM ${tableRef(harness.schema, 'chat_events')} WHERE chat_id = $1 AND type = 'chat.closed' ORDER BY id`,
        [ids.recentlyClosedChatId],
      );
      expect(closes.map((c) => c.id)).toEqual([first.id, rival.id].sort());
      const rows = await harness.dataSource.query<Record<string, unknown>[]>(
        `SELECT status, closed_by, close_reason, closed_at, rating FROM ${tableRef(harness.schema, 'chats')} WHERE id = $1`,
        [ids.recentlyClosedChatId],
      );
      expect(rows).toEqual([
        {
          status: 'closed',
          closed_by: rival.data.by,
          close_reason: 'closed by operator',
          closed_at: new Date(Number(rival.clock.slice(0, 15))),
          rating: 5,
        },
      ]);
    });

    it('keeps the latest operator status by clock, whatever the order', async () => {
      const op1 = ids.operatorIds[1];
      const statuses = scenario.events.filter(
        (e): e is EventEnvelope<'operator.status.set'> =>
          e.type === 'operator.status.set' && e.data.operatorId === op1,
      );
      expect(statuses.map((e) => e.data.status)).toEqual(['online', 'away']);
      const latest = statuses[1];

      for (const order of [statuses, [...statuses].reverse()]) {
        await truncateTables(harness);
        for (const event of order) await journal.append([event]);
        const rows = await harness.dataSource.query<Record<string, unknown>[]>(
          `SELECT status, status_clock, status_event_id, profile_clock FROM ${tableRef(harness.schema, 'operators')} WHERE id = $1`,
          [op1],
        );
        expect(rows).toEqual([
          {
            status: 'away',
            status_clock: latest?.clock,
            status_event_id: latest?.id,
            profile_clock: null,
          },
        ]);
      }
    });

    it('loads events that rebuild the configuration and the open and recently closed chats', async () => {
      for (const batch of shuffledBatches(scenario.events, seededRandom(7))) {
        await journal.append(batch);
      }
      const source = new TypeOrmStateSource(harness.dataSource);
      const loaded = await source.loadEvents({
        closedWithinMs: scenario.closedWithinMs,
        nowMs: scenario.nowMs,
      });

      // The original in-memory state, less what is never persisted (sessions) and what the
      // window leaves out (chats closed before it).
      const original = stateOf(scenario.events);
      for (const op of original.operators.values()) {
        op.sessionsOpened.clear();
        op.sessionsClosed.clear();
      }
      expect(evictClosedChats(original, scenario.nowMs - scenario.closedWithinMs)).toBe(1);

      const rebuilt = stateOf(loaded);
      expect([...rebuilt.chats.keys()].sort()).toEqual(
        [ids.openChatId, ids.waitingChatId, ids.requeuedChatId, ids.recentlyClosedChatId].sort(),
      );
      expect(stateDigest(rebuilt)).toBe(stateDigest(original));
      expect(stateDigest(stateOf([...loaded].reverse()))).toBe(stateDigest(original));
    });

    it('reads a chat history ordered by (clock, id)', async () => {
      await journal.append([...scenario.events].reverse());
      const history = new TypeOrmChatHistory(harness.dataSource);
      const expected = stateOf(scenario.events).chats.get(ids.openChatId)?.messages;

      const messages = await history.messages(ids.openChatId);
      expect(messages).toEqual(expected);
      expect(messages.map((m) => m.author.kind)).toEqual([
        'visitor',
        'visitor',
        'operator',
        'system',
      ]);
      await expect(history.messages(ids.waitingChatId)).resolves.toHaveLength(1);
    });

    it('lists offline messages of a site newest first', async () => {
      const offline = new TypeOrmOfflineMessages(harness.dataSource);
      const first = scenario.events.find((e) => e.type === 'offline.message.left');
      expect(first).toBeDefined();
      if (first?.type !== 'offline.message.left') return;
      const later: DomainEvent = {
        ...first,
        id: '01900000-0000-7000-8000-000000000001',
        clock: first.clock.replace(/^\d{15}/, (wall) => String(Number(wall) + 1).padStart(15, '0')),
        data: { ...first.data, id: '01900000-0000-7000-8000-000000000002', text: 'second' },
      };
      await journal.append([later, first, first]);

      await expect(offline.listBySite(ids.siteId)).resolves.toMatchObject([
        { text: 'second' },
        { text: 'call me back', name: 'Night owl', departmentId: null },
      ]);
      await expect(offline.listBySite(ids.siteId, { limit: 1 })).resolves.toHaveLength(1);
      await expect(offline.listBySite(ids.departmentIds[0])).resolves.toEqual([]);
    });

    it('tells whether any configuration is stored', async () => {
      const config = new TypeOrmConfigQueries(harness.dataSource);
      await expect(config.isEmpty()).resolves.toBe(true);
      await journal.append(scenario.events.slice(0, 1));
      await expect(config.isEmpty()).resolves.toBe(false);
    });

    it('writes NUL characters and lone surrogates as U+FFFD, in text and jsonb alike', async () => {
      const started = scenario.events.find(
        (e): e is EventEnvelope<'chat.started'> =>
          e.type === 'chat.started' && e.data.chatId === ids.waitingChatId,
      );
      const message = messageEvents(scenario.events).find(
        (e) => e.data.chatId === ids.waitingChatId,
      );
      if (!started || !message) throw new Error('the scenario has the waiting chat');
      const bad = 'a\u0000b\ud800c\udc00d';
      const fixed = 'a\ufffdb\ufffdc\ufffdd';
      const events: DomainEvent[] = [
        ...scenario.events.filter((e) => e.id !== started.id && e.id !== message.id),
        {
          ...started,
          data: {
            ...started.data,
            visitor: { ...started.data.visitor, name: bad },
            fields: { [`key${bad}`]: bad, emoji: '\ud83d\ude00' },
          },
        },
        { ...message, data: { ...message.data, text: bad } },
      ];
      await journal.append(events);

      const messages = await harness.dataSource.query<{ text: string }[]>(
        `SELECT text FROM ${tableRef(harness.schema, 'messages')} WHERE id = $1`,
        [message.data.messageId],
      );
      expect(messages).toEqual([{ text: fixed }]);
      const chats = await harness.dataSource.query<
        { visitor_name: string; fields: Record<string, string> }[]
      >(`SELECT visitor_name, fields FROM ${tableRef(harness.schema, 'chats')} WHERE id = $1`, [
        ids.waitingChatId,
      ]);
      // a well-formed surrogate pair is kept
      expect(chats).toEqual([
        { visitor_name: fixed, fields: { [`key${fixed}`]: fixed, emoji: '\ud83d\ude00' } },
      ]);
    });

    describe('dead-letter store', () => {
      const queue = 'chat.persistence';
      const failedAt = new Date(Date.UTC(2030, 0, 1, 9, 0, 0));
      const poison = (text: string): DomainEvent => {
        const message = messageEvents(scenario.events)[0];
        if (!message) throw new Error('the scenario has messages');
        return { ...message, id: randomUUID(), data: { ...message.data, text } };
      };
      let store: TypeOrmDeadLetterStore;

      beforeEach(() => {
        store = new TypeOrmDeadLetterStore(harness.dataSource);
      });

      it('stores any payload, NUL characters and lone surrogates included, and gives it back', async () => {
        const event = poison('nul \u0000 high \ud800 low \udc00');
        const { deadLetter, created } = await store.record({
          queue,
          uniqueId: event.id,
          payload: event,
          error: { message: 'invalid byte sequence \u0000', sqlState: '22021' },
          failedAt,
        });
        expect(created).toBe(true);
        expect(deadLetter).toMatchObject({
          queue,
          uniqueId: event.id,
          eventId: event.id,
          eventType: 'chat.message.added',
          error: 'invalid byte sequence \ufffd',
          sqlState: '22021',
          attempts: 1,
          firstFailedAt: failedAt,
          lastFailedAt: failedAt,
          status: 'pending',
          replayedAt: null,
        });
        const stored = await store.get(deadLetter.id);
        expect(JSON.parse(stored?.payload ?? 'null')).toEqual(event);

        // payloads that are no event at all
        for (const payload of [null, 'text \u0000', [1, { type: 7 }], { id: '\u0000' }]) {
          const r = await store.record({
            queue,
            uniqueId: randomUUID(),
            payload,
            error: { message: 'malformed', sqlState: null },
            failedAt,
          });
          expect(JSON.parse((await store.get(r.deadLetter.id))?.payload ?? '')).toEqual(payload);
        }
      });

      it('keeps one row per queue and unique id: a redelivery is one more attempt', async () => {
        const event = poison('again');
        const input = {
          queue,
          uniqueId: event.id,
          payload: event,
          error: { message: 'first', sqlState: '23514' },
          failedAt,
        };
        const first = await store.record(input);
        const later = new Date(failedAt.getTime() + 5000);
        const second = await store.record({
          ...input,
          error: { message: 'second', sqlState: null },
          failedAt: later,
        });
        expect(second.created).toBe(false);
        expect(second.deadLetter).toMatchObject({
          id: first.deadLetter.id,
          attempts: 2,
          error: 'second',
          sqlState: null,
          firstFailedAt: failedAt,
          lastFailedAt: later,
        });
        // the same unique id on another queue is another dead letter
        const other = await store.record({ ...input, queue: 'chat.webhooks' });
        expect(other.created).toBe(true);
        const rows = await harness.dataSource.query<{ n: number }[]>(
          `SELECT count(*)::int AS n FROM ${tableRef(harness.schema, 'dead_letters')} WHERE unique_id = $1`,
          [event.id],
        );
        expect(rows).toEqual([{ n: 2 }]);
      });

      it('lists newest first, page by page, by status', async () => {
        const recorded: string[] = [];
        for (let i = 0; i < 5; i += 1) {
          const event = poison(`page ${i}`);
          const r = await store.record({
            queue,
            uniqueId: event.id,
            payload: event,
            error: { message: `error ${i}`, sqlState: null },
            failedAt,
          });
          recorded.push(r.deadLetter.id);
        }
        const newestFirst = [...recorded].reverse();
        const page1 = await store.list({ limit: 2 });
        expect(page1.items.map((d) => d.id)).toEqual(newestFirst.slice(0, 2));
        const page2 = await store.list({ limit: 2, before: page1.nextCursor ?? '' });
        expect(page2.items.map((d) => d.id)).toEqual(newestFirst.slice(2, 4));
        const page3 = await store.list({ limit: 2, before: page2.nextCursor ?? '' });
        expect(page3).toEqual({
          items: [expect.objectContaining({ id: recorded[0] })],
          nextCursor: null,
        });

        const replayedAt = new Date(failedAt.getTime() + 60_000);
        const replayed = await store.markReplayed(recorded[2] ?? '', replayedAt);
        expect(replayed).toMatchObject({ status: 'replayed', replayedAt, attempts: 1 });
        await expect(store.list({ status: 'replayed' })).resolves.toEqual({
          items: [replayed],
          nextCursor: null,
        });
        await expect(store.list({ status: 'pending' })).resolves.toMatchObject({
          items: { length: 4 },
        });

        const failed = await store.recordFailure(
          recorded[2] ?? '',
          { message: 'still bad', sqlState: '22P02' },
          replayedAt,
        );
        expect(failed).toMatchObject({
          status: 'pending',
          replayedAt: null,
          attempts: 2,
          error: 'still bad',
          sqlState: '22P02',
          lastFailedAt: replayedAt,
        });
        await expect(store.get(randomUUID())).resolves.toBeNull();
        await expect(store.get('not-a-uuid')).resolves.toBeNull();
        await expect(store.markReplayed(randomUUID(), replayedAt)).resolves.toBeNull();
      });
    });
  });
}
