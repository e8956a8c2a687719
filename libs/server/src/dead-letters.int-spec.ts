/**
 * Dead letters end to end on a standalone node over the real PostgreSQL (fresh schema): a request
 * whose event the database refuses is still answered, the event lands in the dead letters, the
 * admin API lists it and replays it once the cause is fixed; `/readyz` reports the journal writer.
 */
import { loadNodeConfig } from '@chat/cluster';
import { WorkQueue } from '@chat/messaging';
import { createTestSchemaName, httpJson, requireService } from '@chat/testing';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { startNode, type StartedNode } from './bootstrap';
import { PERSISTENCE_QUEUE } from './runtime/chat-runtime';
import { type DeadLetterView } from './use-cases/dead-letters.use-case';

const DATABASE_URL = process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const ADMIN_KEY = 'int-admin-key-dead-letters-0123';
const BLOCKED = 'refused by a database rule';

describe('dead letters on a standalone node (real PostgreSQL)', () => {
  const schema = createTestSchemaName('deadletters');
  const admin = { 'x-admin-key': ADMIN_KEY };
  let dataDir: string;
  let node: StartedNode;
  let base: string;
  let pg: Client;
  let siteId: string;

  const list = async (
    query = '',
  ): Promise<{ items: DeadLetterView[]; nextCursor: string | null }> => {
    const r = await httpJson('GET', `${base}/l/admin/dead-letters${query}`, undefined, admin);
    expect(r.status).toBe(200);
    return r.body as { items: DeadLetterView[]; nextCursor: string | null };
  };

  beforeAll(async () => {
    await requireService('postgres', async () => {
      const client = new Client({ connectionString: DATABASE_URL });
      await client.connect();
      await client.end();
    });
    pg = new Client({ connectionString: DATABASE_URL });
    await pg.connect();
    dataDir = mkdtempSync(join(tmpdir(), 'chat-dead-letters-'));
    const config = loadNodeConfig([], {
      PORT: '0',
      DATA_DIR: dataDir,
      DATABASE_URL,
      DATABASE_SCHEMA: schema,
      ADMIN_API_KEY: ADMIN_KEY,
      JWT_SECRET: 'int-test-secret-int-test-secret-0123456789',
      SEED_DEMO: 'false',
      LOG_LEVEL: 'silent',
    });
    node = await startNode(config);
    base = node.url;
    const site = await httpJson('POST', `${base}/l/admin/sites`, { name: 'Dead letters' }, admin);
    siteId = (site.body as { id: string }).id;
  });

  afterAll(async () => {
    await node?.app.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    await pg?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pg?.end();
  });

  it('reports the journal writer in /readyz', async () => {
    const ready = await httpJson('GET', `${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({
      ready: true,
      checks: { state: true, bus: true, accepting: true, persistence: true },
      persistence: { stalledForMs: 0, backlog: 0 },
    });
  });

  it('answers a request whose event the database refuses, and lists, refuses and replays its dead letter', async () => {
    await pg.query(
      `ALTER TABLE "${schema}"."offline_messages" ADD CONSTRAINT no_blocked_text CHECK (text <> '${BLOCKED}')`,
    );
    // before dead letters, this request never got an answer (the write was retried for ever)
    const left = await httpJson('POST', `${base}/l/v/offline-messages`, {
      siteId,
      name: 'Night owl',
      email: 'owl@example.com',
      text: BLOCKED,
    });
    expect(left.status).toBe(201);

    const page = await list();
    expect(page.nextCursor).toBeNull();
    expect(page.items).toHaveLength(1);
    const [deadLetter] = page.items;
    expect(deadLetter).toEqual({
      id: expect.any(String) as unknown,
      queue: PERSISTENCE_QUEUE,
      eventId: expect.any(String) as unknown,
      eventType: 'offline.message.left',
      error: expect.stringContaining('no_blocked_text') as unknown,
      sqlState: '23514',
      attempts: 1,
      firstFailedAt: expect.any(Number) as unknown,
      lastFailedAt: expect.any(Number) as unknown,
      status: 'pending',
      replayedAt: null,
    });
    const id = deadLetter?.id ?? '';

    const refused = await httpJson('POST', `${base}/l/admin/dead-letters/${id}/retry`, {}, admin);
    expect(refused.status).toBe(422);
    expect(refused.body).toEqual({
      error: {
        code: 'REPLAY_FAILED',
        message: expect.stringContaining('no_blocked_text') as unknown,
        details: { sqlState: '23514', attempts: 2 },
      },
    });

    await pg.query(`ALTER TABLE "${schema}"."offline_messages" DROP CONSTRAINT no_blocked_text`);
    const replayed = await httpJson('POST', `${base}/l/admin/dead-letters/${id}/retry`, {}, admin);
    expect(replayed.status).toBe(200);
    expect(replayed.body).toMatchObject({ id, status: 'replayed', attempts: 2 });
    const offline = await httpJson(
      'GET',
      `${base}/l/admin/sites/${siteId}/offline-messages`,
      undefined,
      admin,
    );
    expect(offline.body).toMatchObject([{ id: (left.body as { id: string }).id, text: BLOCKED }]);
    await expect(list('?status=pending')).resolves.toEqual({ items: [], nextCursor: null });
    await expect(list('?status=replayed')).resolves.toMatchObject({ items: [{ id }] });
  });

  it('pages newest first', async () => {
    const queue = node.app.get(WorkQueue);
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const uniqueId = randomUUID();
      ids.push(uniqueId);
      // malformed: no data at all
      await queue.publish(PERSISTENCE_QUEUE, uniqueId, {
        id: uniqueId,
        type: 'chat.message.added',
        origin: 'test',
        clock: '000000000000001.000000.test',
      });
    }
    const first = await list('?limit=2&status=pending');
    expect(first.items.map((d) => d.eventId)).toEqual([ids[2], ids[1]]);
    expect(first.items[0]?.sqlState).toBeNull();
    const second = await list(`?limit=2&status=pending&before=${first.nextCursor ?? ''}`);
    expect(second).toEqual({
      items: [expect.objectContaining({ eventId: ids[0] }) as unknown],
      nextCursor: null,
    });
  });

  it('answers bad calls with the API error shape', async () => {
    const unauthorised = await httpJson('GET', `${base}/l/admin/dead-letters`);
    expect(unauthorised.status).toBe(401);
    for (const query of ['?limit=0', '?limit=x', '?before=nope', '?status=lost', '?extra=1']) {
      const r = await httpJson('GET', `${base}/l/admin/dead-letters${query}`, undefined, admin);
      expect({
        query,
        status: r.status,
        code: (r.body as { error: { code: string } }).error.code,
      }).toEqual({
        query,
        status: 400,
        code: 'VALIDATION_FAILED',
      });
    }
    const badId = await httpJson('POST', `${base}/l/admin/dead-letters/nope/retry`, {}, admin);
    expect(badId.status).toBe(400);
    const unknown = await httpJson(
      'POST',
      `${base}/l/admin/dead-letters/${randomUUID()}/retry`,
      {},
      admin,
    );
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ error: { code: 'DEAD_LETTER_NOT_FOUND' } });
  });
});
