/**
 * The persistence worker on the real PostgreSQL (fresh schema), behind the standalone in-process
 * work queue: a poison event in a batch is isolated and dead-lettered, the events around it are
 * written, the publishes of all of them are answered, and an admin replays a dead letter once the
 * cause is fixed.
 */
import { Logger } from '@nestjs/common';
import {
  EventFactory,
  HybridLogicalClock,
  UuidV7IdGenerator,
  type DomainEvent,
  type EventEnvelope,
} from '@chat/domain';
import { InProcessWorkQueue } from '@chat/messaging';
import {
  createDataSource,
  runMigrations,
  TypeOrmDeadLetterStore,
  TypeOrmEventJournal,
} from '@chat/persistence';
import { createTestSchemaName, requireService } from '@chat/testing';
import { randomUUID } from 'node:crypto';
import { type DataSource } from 'typeorm';
import { Metrics } from '../metrics/metrics';
import { ApiError } from '../use-cases/api-error';
import { DeadLettersUseCase } from '../use-cases/dead-letters.use-case';
import { PERSISTENCE_QUEUE } from './chat-runtime';
import { PersistenceWorker } from './persistence-worker';

const DATABASE_URL = process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

interface DeadLetterRow {
  id: string;
  unique_id: string;
  event_id: string | null;
  event_type: string | null;
  sql_state: string | null;
  error: string;
  attempts: number;
  status: string;
  payload: string;
}

describe('PersistenceWorker on PostgreSQL', () => {
  const schema = createTestSchemaName('pworker');
  let dataSource: DataSource;
  let queue: InProcessWorkQueue;
  let worker: PersistenceWorker;
  let useCase: DeadLettersUseCase;
  let appended: number[];
  const handlerErrors: unknown[] = [];

  const clock = new HybridLogicalClock('int');
  const factory = new EventFactory('int', clock, new UuidV7IdGenerator());
  const siteId = randomUUID();
  const chatId = randomUUID();

  const t = (table: string): string => `"${schema}"."${table}"`;
  const count = async (table: string, where = 'true', params: unknown[] = []): Promise<number> => {
    const rows = await dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM ${t(table)} WHERE ${where}`,
      params,
    );
    return rows[0]?.n ?? -1;
  };
  const deadLetters = (): Promise<DeadLetterRow[]> =>
    dataSource.query<DeadLetterRow[]>(`SELECT * FROM ${t('dead_letters')} ORDER BY id`);
  const publish = (event: DomainEvent): Promise<void> =>
    queue.publish(PERSISTENCE_QUEUE, event.id, event);
  const message = (text: string): EventEnvelope<'chat.message.added'> =>
    factory.create('chat.message.added', {
      chatId,
      siteId,
      messageId: randomUUID(),
      clientMessageId: `c-${randomUUID()}`,
      author: { kind: 'visitor', id: 'visitor-1', name: 'Vera' },
      text,
    });
  /** An event whose data has the wrong shape: the mapper throws a TypeError. */
  const malformed = (): DomainEvent =>
    ({ ...message('malformed'), data: { chatId, siteId } }) as unknown as DomainEvent;

  beforeAll(async () => {
    await requireService('postgres', async () => {
      const probe = createDataSource({ url: DATABASE_URL });
      await probe.initialize();
      await probe.destroy();
    });
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'debug').mockImplementation(() => undefined);
    dataSource = createDataSource({ url: DATABASE_URL, schema });
    await dataSource.initialize();
    await runMigrations(dataSource);
    const journal = new TypeOrmEventJournal(dataSource);
    const append = journal.append.bind(journal);
    appended = [];
    jest.spyOn(journal, 'append').mockImplementation((events) => {
      appended.push(events.length);
      return append(events);
    });
    const store = new TypeOrmDeadLetterStore(dataSource);
    queue = new InProcessWorkQueue({ onHandlerError: (error) => handlerErrors.push(error) });
    worker = new PersistenceWorker(
      queue,
      journal,
      store,
      { batchSize: 200, lingerMs: 50 },
      new Metrics('int'),
    );
    useCase = new DeadLettersUseCase(store, journal);
    await queue.start();
    worker.start();
  });

  afterAll(async () => {
    await worker?.stop();
    await queue?.stop();
    if (dataSource?.isInitialized) {
      await dataSource.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await dataSource.destroy();
    }
    jest.restoreAllMocks();
  });

  it('writes a batch of 50 around one poison, dead-letters the poison once, and carries on', async () => {
    const good: DomainEvent[] = [
      factory.create('site.upserted', { site: { id: siteId, name: 'Poison test' } }),
      factory.create('chat.started', {
        chatId,
        siteId,
        departmentId: null,
        visitor: { id: 'visitor-1', name: 'Vera', email: null },
        fields: {},
      }),
      ...Array.from({ length: 48 }, (_, i) => message(`message ${i}`)),
    ];
    const poison = malformed();
    const batch = [...good.slice(0, 25), poison, ...good.slice(25)];

    // one linger window: the 51 events make one batch; every publish is answered
    const results = await Promise.allSettled(batch.map(publish));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(appended[0]).toBe(51);

    await expect(count('sites', 'id = $1', [siteId])).resolves.toBe(1);
    await expect(count('chats', 'id = $1', [chatId])).resolves.toBe(1);
    await expect(count('chat_events', 'chat_id = $1', [chatId])).resolves.toBe(1);
    await expect(count('messages', 'chat_id = $1', [chatId])).resolves.toBe(48);
    const rows = await deadLetters();
    expect(rows).toMatchObject([
      {
        unique_id: poison.id,
        event_id: poison.id,
        event_type: 'chat.message.added',
        sql_state: null,
        attempts: 1,
        status: 'pending',
        error: expect.stringContaining('Cannot read properties of undefined') as unknown,
      },
    ]);
    expect(JSON.parse(rows[0]?.payload ?? '')).toEqual(poison);
    expect(handlerErrors).toEqual([]);

    // the next batch is written
    const next = message('after the poison');
    await publish(next);
    await expect(count('messages', 'event_id = $1', [next.id])).resolves.toBe(1);

    // a redelivery of the same poison (a node died before the ack) is the same dead letter
    await publish(poison);
    const again = await deadLetters();
    expect(again).toHaveLength(1);
    expect(again[0]).toMatchObject({ unique_id: poison.id, attempts: 2 });
    expect(worker.progress()).toEqual({ stalledForMs: 0, backlog: 0 });
  });

  it('records what the database refuses with its SQLSTATE', async () => {
    const before = message('before');
    const badId = { ...message('bad id'), id: 'not-a-uuid' };
    const after = message('after');
    await Promise.all([before, badId, after].map(publish));

    await expect(
      count('messages', 'event_id = ANY($1::uuid[])', [[before.id, after.id]]),
    ).resolves.toBe(2);
    const rows = await dataSource.query<DeadLetterRow[]>(
      `SELECT * FROM ${t('dead_letters')} WHERE unique_id = 'not-a-uuid'`,
    );
    expect(rows).toMatchObject([
      {
        event_id: 'not-a-uuid',
        sql_state: '22P02',
        error: expect.stringContaining('uuid') as unknown,
      },
    ]);
  });

  it('writes an event holding NUL characters and lone surrogates (U+FFFD), dead-letters nothing', async () => {
    const before = (await deadLetters()).length;
    const odd = message('nul \u0000 and \ud800 lone');
    await publish(odd);
    const rows = await dataSource.query<{ text: string }[]>(
      `SELECT text FROM ${t('messages')} WHERE event_id = $1`,
      [odd.id],
    );
    expect(rows).toEqual([{ text: 'nul \ufffd and \ufffd lone' }]);
    expect(await deadLetters()).toHaveLength(before);
  });

  it('replays a dead letter once its cause is fixed', async () => {
    // a rule of the database that refuses this one message (as a stricter column once did)
    await dataSource.query(
      `ALTER TABLE ${t('messages')} ADD CONSTRAINT no_blocked_text CHECK (text <> 'blocked')`,
    );
    const blocked = message('blocked');
    await publish(blocked);
    const [row] = await dataSource.query<DeadLetterRow[]>(
      `SELECT * FROM ${t('dead_letters')} WHERE unique_id = $1`,
      [blocked.id],
    );
    expect(row).toMatchObject({ sql_state: '23514', attempts: 1, status: 'pending' });
    const id = row?.id ?? '';

    // still refused: the attempt is counted, the answer says why
    const failed = await useCase.retry(id).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(ApiError);
    expect(failed).toMatchObject({
      code: 'REPLAY_FAILED',
      message: expect.stringContaining('no_blocked_text') as unknown,
      details: { sqlState: '23514', attempts: 2 },
    });

    await dataSource.query(`ALTER TABLE ${t('messages')} DROP CONSTRAINT no_blocked_text`);
    const replayed = await useCase.retry(id);
    expect(replayed).toMatchObject({
      id,
      eventId: blocked.id,
      status: 'replayed',
      attempts: 2,
      sqlState: '23514',
    });
    expect(replayed.replayedAt).toEqual(expect.any(Number) as unknown);
    await expect(count('messages', 'event_id = $1', [blocked.id])).resolves.toBe(1);
    // replaying again changes nothing
    await expect(useCase.retry(id)).resolves.toEqual(replayed);
    const page = await useCase.list({ status: 'replayed' });
    expect(page.items.map((d) => d.id)).toEqual([id]);
  });

  it('answers why a malformed dead letter cannot be replayed, and an unknown id', async () => {
    const page = await useCase.list({ status: 'pending', limit: 500 });
    const poison = page.items.find((d) => d.error.includes('Cannot read properties'));
    expect(poison).toBeDefined();
    await expect(useCase.retry(poison?.id ?? '')).rejects.toMatchObject({
      code: 'REPLAY_FAILED',
      details: { sqlState: null, attempts: (poison?.attempts ?? 0) + 1 },
    });
    await expect(useCase.retry(randomUUID())).rejects.toMatchObject({
      code: 'DEAD_LETTER_NOT_FOUND',
    });
  });
});
