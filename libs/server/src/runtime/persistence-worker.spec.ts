import { Logger } from '@nestjs/common';
import { EventJournal, type DomainEvent } from '@chat/domain';
import { InProcessWorkQueue, WorkQueueStoppedError } from '@chat/messaging';
import {
  DeadLetterStore,
  type DeadLetter,
  type DeadLetterInput,
  type DeadLetterPage,
  type DeadLetterRecorded,
  type DeadLetterWithPayload,
} from '@chat/persistence';
import { type Response } from 'express';
import { HealthController } from '../http/health.controller';
import { Metrics } from '../metrics/metrics';
import { PERSISTENCE_QUEUE } from './chat-runtime';
import { NodeHealth } from './node-health';
import { PersistenceWorker } from './persistence-worker';

/** A database error as pg raises it. */
const dbError = (code: string, message: string): Error =>
  Object.assign(new Error(message), { code, severity: 'ERROR' });
const refused = (): Error =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), {
    code: 'ECONNREFUSED',
    errno: -111,
    syscall: 'connect',
  });

/** A journal that refuses every batch holding a poison, and can be taken down. */
class FakeJournal extends EventJournal {
  readonly written = new Set<string>();
  appends = 0;
  /** While set, every append fails with this (a transient error). */
  outage: (() => Error) | null = null;

  /**
   * While set, appends fail with an error that names no outage (no SQLSTATE, no socket code) and
   * pings are refused: a connection lost in the middle of a write.
   */
  oddOutage = false;

  override ping(): Promise<void> {
    return this.oddOutage || this.outage ? Promise.reject(refused()) : Promise.resolve();
  }

  override append(events: readonly DomainEvent[]): Promise<void> {
    this.appends += 1;
    if (this.outage) return Promise.reject(this.outage());
    if (this.oddOutage) {
      return Promise.reject(Object.assign(new Error('the driver lost it'), { name: 'OddError' }));
    }
    if (events.some((e) => e.type === 'chat.message.added' && e.data.text === 'poison')) {
      return Promise.reject(dbError('22P05', 'unsupported Unicode escape sequence'));
    }
    if (events.some((e) => (e.data as unknown) === undefined)) {
      return Promise.reject(
        new TypeError("Cannot read properties of undefined (reading 'chatId')"),
      );
    }
    for (const e of events) this.written.add(e.id);
    return Promise.resolve();
  }
}

class MemoryDeadLetters extends DeadLetterStore {
  readonly rows: DeadLetterWithPayload[] = [];
  /** While set, every call fails with this. */
  outage: (() => Error) | null = null;

  override record(input: DeadLetterInput): Promise<DeadLetterRecorded> {
    if (this.outage) return Promise.reject(this.outage());
    const index = this.rows.findIndex(
      (r) => r.queue === input.queue && r.uniqueId === input.uniqueId,
    );
    const existing = this.rows[index];
    if (existing) {
      const updated = {
        ...existing,
        attempts: existing.attempts + 1,
        lastFailedAt: input.failedAt,
      };
      this.rows[index] = updated;
      return Promise.resolve({ deadLetter: updated, created: false });
    }
    const payload = input.payload as { id?: string; type?: string };
    const row: DeadLetterWithPayload = {
      id: `dl-${this.rows.length + 1}`,
      queue: input.queue,
      uniqueId: input.uniqueId,
      eventId: payload.id ?? null,
      eventType: payload.type ?? null,
      error: input.error.message,
      sqlState: input.error.sqlState,
      attempts: 1,
      firstFailedAt: input.failedAt,
      lastFailedAt: input.failedAt,
      status: 'pending',
      replayedAt: null,
      payload: JSON.stringify(input.payload),
    };
    this.rows.push(row);
    return Promise.resolve({ deadLetter: row, created: true });
  }

  override list(): Promise<DeadLetterPage> {
    return Promise.resolve({ items: [...this.rows].reverse(), nextCursor: null });
  }

  override get(id: string): Promise<DeadLetterWithPayload | null> {
    return Promise.resolve(this.rows.find((r) => r.id === id) ?? null);
  }

  override recordFailure(): Promise<DeadLetter | null> {
    return Promise.resolve(null);
  }

  override markReplayed(): Promise<DeadLetter | null> {
    return Promise.resolve(null);
  }
}

let sequence = 0;
function message(text: string): DomainEvent {
  sequence += 1;
  const n = String(sequence).padStart(12, '0');
  return {
    id: `01900000-0000-7000-8000-${n}`,
    type: 'chat.message.added',
    origin: 'n1',
    clock: `${String(1_900_000_000_000 + sequence).padStart(15, '0')}.000000.n1`,
    data: {
      chatId: '01900000-0000-7000-8000-00000000c4a7',
      siteId: '01900000-0000-7000-8000-000000000051',
      messageId: `01900000-0000-7000-9000-${n}`,
      clientMessageId: `c-${n}`,
      author: { kind: 'visitor', id: 'v1', name: 'Vera' },
      text,
    },
  };
}

const waitUntil = async (check: () => boolean, timeoutMs = 5000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe(`${PersistenceWorker.name}`, () => {
  let queue: InProcessWorkQueue;
  let journal: FakeJournal;
  let deadLetters: MemoryDeadLetters;
  let metrics: Metrics;
  let worker: PersistenceWorker;
  let warn: jest.SpyInstance;
  let info: jest.SpyInstance;
  const handlerErrors: unknown[] = [];

  const publish = (event: DomainEvent): Promise<void> =>
    queue.publish(PERSISTENCE_QUEUE, event.id, event);
  const deadLetterCount = async (): Promise<number> =>
    (await metrics.registry.getSingleMetric('chat_dead_letters_total')?.get())?.values.reduce(
      (sum, v) => sum + v.value,
      0,
    ) ?? 0;

  beforeEach(async () => {
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    info = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'debug').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    handlerErrors.length = 0;
    queue = new InProcessWorkQueue({
      retryBaseDelayMs: 5,
      retryMaxDelayMs: 20,
      onHandlerError: (error) => handlerErrors.push(error),
    });
    journal = new FakeJournal();
    deadLetters = new MemoryDeadLetters();
    metrics = new Metrics('n1');
    worker = new PersistenceWorker(
      queue,
      journal,
      deadLetters,
      { batchSize: 100, lingerMs: 20, retryBaseDelayMs: 5, retryMaxDelayMs: 20 },
      metrics,
    );
    await queue.start();
    worker.start();
  });

  afterEach(async () => {
    await worker.stop();
    await queue.stop();
    jest.restoreAllMocks();
  });

  it('writes around a poison: the good events are written, the poison dead-lettered once, every publish answered', async () => {
    const good = Array.from({ length: 50 }, (_, i) => message(`hello ${i}`));
    const poison = message('poison');
    const batch = [...good.slice(0, 25), poison, ...good.slice(25)];

    const results = await Promise.allSettled(batch.map(publish));

    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    expect([...journal.written].sort()).toEqual(good.map((e) => e.id).sort());
    expect(deadLetters.rows).toMatchObject([
      {
        queue: PERSISTENCE_QUEUE,
        uniqueId: poison.id,
        eventId: poison.id,
        eventType: 'chat.message.added',
        sqlState: '22P05',
        attempts: 1,
      },
    ]);
    expect(JSON.parse(deadLetters.rows[0]?.payload ?? '')).toEqual(poison);
    // bisecting 51 events costs a handful of appends, not one per event
    expect(journal.appends).toBeLessThan(20);
    expect(handlerErrors).toEqual([]); // the batch was acked, never handed back
    await expect(deadLetterCount()).resolves.toBe(1);
    expect(warn).toHaveBeenCalledTimes(1);
    const [context, text] = warn.mock.calls[0] as [Record<string, unknown>, string];
    expect(text).toContain('dead letters');
    expect(context).toMatchObject({ eventId: poison.id, reason: '22P05' });
    expect(JSON.stringify(context)).not.toContain('poison'); // the payload's text is not logged

    // the queue carries on with what comes next
    const next = message('after the poison');
    await publish(next);
    expect(journal.written.has(next.id)).toBe(true);
    expect(worker.progress()).toEqual({ stalledForMs: 0, backlog: 0 });
  });

  it('never dead-letters what failed only because the database went away mid-write', async () => {
    journal.oddOutage = true;
    const events = [message('a'), message('b')];
    let answered = 0;
    const pending = Promise.all(events.map((e) => publish(e).then(() => (answered += 1))));

    // Looks permanent (no SQLSTATE), is bisected down to single events, but the database does
    // not answer: the worker waits instead of dead-lettering.
    await waitUntil(() => journal.appends >= 2); // the batch, then its first half alone
    await new Promise((r) => setTimeout(r, 100));
    expect(answered).toBe(0);
    expect(deadLetters.rows).toEqual([]);

    journal.oddOutage = false;
    await pending;
    expect([...journal.written].sort()).toEqual(events.map((e) => e.id).sort());
    expect(deadLetters.rows).toEqual([]);
    await expect(deadLetterCount()).resolves.toBe(0);
  });

  it('dead-letters a malformed event (a mapper TypeError), and a redelivery of it once', async () => {
    const malformed = { ...message('x'), data: undefined } as unknown as DomainEvent;
    await publish(malformed);
    await publish(malformed);
    expect(deadLetters.rows).toMatchObject([
      {
        uniqueId: malformed.id,
        sqlState: null,
        attempts: 2,
        error: expect.stringContaining('Cannot read properties of undefined') as unknown,
      },
    ]);
    await expect(deadLetterCount()).resolves.toBe(1);
    const labels = (await metrics.registry.getSingleMetric('chat_dead_letters_total')?.get())
      ?.values[0]?.labels;
    expect(labels).toEqual({ queue: PERSISTENCE_QUEUE, reason: 'TypeError' });
  });

  it('waits out a transient failure without dead-lettering and without handing the batch back, logging once', async () => {
    journal.outage = refused;
    const events = [message('a'), message('b'), message('poison')];
    let answered = 0;
    const pending = Promise.all(events.map((e) => publish(e).then(() => (answered += 1))));

    await waitUntil(() => journal.appends >= 5);
    expect(answered).toBe(0);
    expect(journal.written.size).toBe(0);
    expect(deadLetters.rows).toEqual([]);
    expect(worker.progress().backlog).toBe(3);
    const outageWarnings = (warn.mock.calls as unknown[][]).filter(([, text]) =>
      String(text).includes('unreachable'),
    );
    expect(outageWarnings).toHaveLength(1);
    expect(outageWarnings[0]?.[0]).toMatchObject({
      error: expect.stringContaining('ECONNREFUSED') as unknown,
    });

    journal.outage = null;
    await pending;
    expect([...journal.written].sort()).toEqual([events[0]?.id, events[1]?.id].sort());
    expect(deadLetters.rows.map((r) => r.uniqueId)).toEqual([events[2]?.id]);
    expect(handlerErrors).toEqual([]);
    expect(
      info.mock.calls.filter(([, text]) => String(text).includes('reachable again')),
    ).toHaveLength(1);
    expect(warn.mock.calls.filter(([, text]) => String(text).includes('unreachable'))).toHaveLength(
      1,
    );
  });

  it('retries the dead-letter store through an outage too', async () => {
    deadLetters.outage = () =>
      dbError('57P01', 'terminating connection due to administrator command');
    const poison = message('poison');
    const pending = publish(poison);
    await waitUntil(() => worker.progress().backlog === 1 && journal.appends >= 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(deadLetters.rows).toEqual([]);
    deadLetters.outage = null;
    await pending;
    expect(deadLetters.rows).toHaveLength(1);
  });

  it('hands the batch back when stopped during an outage', async () => {
    journal.outage = refused;
    const pending = publish(message('waits'));
    await waitUntil(() => journal.appends >= 2);
    await worker.stop();
    await queue.stop();
    await expect(pending).rejects.toBeInstanceOf(WorkQueueStoppedError);
    expect(deadLetters.rows).toEqual([]);
    expect(worker.progress()).toEqual({ stalledForMs: 0, backlog: 0 });
  });

  it('makes /readyz answer 503 while the journal stalls longer than the setting, then 200 again', async () => {
    const bus = { connected: true } as ConstructorParameters<typeof NodeHealth>[1];
    const health = new NodeHealth('n1', bus, { source: worker, stallMs: 100 });
    health.markStateLoaded();
    const controller = new HealthController(health);
    const readyz = (): { status: number; body: ReturnType<HealthController['readyz']> } => {
      let status = 0;
      const res = {
        status: (code: number) => {
          status = code;
          return res;
        },
      } as unknown as Response;
      const body = controller.readyz(res);
      return { status, body };
    };
    expect(readyz()).toEqual({
      status: 200,
      body: {
        ready: true,
        checks: { state: true, bus: true, accepting: true, persistence: true },
        persistence: { stalledForMs: 0, backlog: 0 },
      },
    });

    journal.outage = refused;
    const pending = publish(message('stalled'));
    await waitUntil(() => journal.appends >= 1);
    expect(readyz().status).toBe(200); // not stalled long enough yet
    await waitUntil(() => readyz().status === 503);
    const stalled = readyz().body;
    expect(stalled.ready).toBe(false);
    expect(stalled.checks).toMatchObject({ persistence: false, state: true, bus: true });
    expect(stalled.persistence?.backlog).toBe(1);
    expect(stalled.persistence?.stalledForMs).toBeGreaterThan(100);
    // the cluster membership never sees the database
    expect(health.checks()).toEqual({ state: true, bus: true, accepting: true });
    let gauge = '';
    await waitUntil(() => {
      void metrics.registry
        .getSingleMetricAsString('chat_persistence_stalled_seconds')
        .then((text) => (gauge = text));
      return /chat_persistence_stalled_seconds\{node="n1"\} 0\.[1-9]/.test(gauge);
    });

    journal.outage = null;
    await pending;
    expect(readyz().status).toBe(200);
    expect(readyz().body.persistence).toEqual({ stalledForMs: 0, backlog: 0 });
  });
});
