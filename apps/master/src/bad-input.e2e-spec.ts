/**
 * Bad client input against the standalone node as a real process (issue 9): NUL and lone UTF-16
 * surrogates (which PostgreSQL refuses to store), 10 000-deep JSON, prototype keys, unknown
 * encodings and charsets. Each gets its documented error at once and changes nothing; the other
 * sessions carry on, and what was acknowledged is in the database after a `kill -9`.
 */
import { type ChatView, type MessageView, type OperatorSnapshot } from '@chat/domain';
import type { SocketReply } from '@chat/server';
import {
  CLIENT_LIMITS_OFF,
  freePort,
  httpJson,
  type HttpJsonResponse,
  type NodeProcessHandle,
  okData,
  SocketRecorder,
  startNodeProcess,
  waitFor,
} from '@chat/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io } from 'socket.io-client';

const MAIN = join(__dirname, '../../../dist/apps/master/src/main.js');
const ADMIN_KEY = 'e2e-admin-key-0123456789';
const PASSWORD = 'password-123';

/**
 * The characters refused at the edge, with the message the guard gives for each and how a key
 * holding one is named in the error (the bad character shown as U+FFFD).
 */
const BAD = [
  {
    what: 'NUL',
    text: 'nul\u0000byte',
    shown: 'nul\uFFFDbyte',
    message: 'must not contain U+0000 (NUL)',
  },
  {
    what: 'lone high surrogate',
    text: 'high\ud800',
    shown: 'high\uFFFD',
    message: 'must not contain a lone UTF-16 surrogate',
  },
  {
    what: 'lone low surrogate',
    text: '\udc00low',
    shown: '\uFFFDlow',
    message: 'must not contain a lone UTF-16 surrogate',
  },
] as const;

const DEEP = '['.repeat(10_000) + ']'.repeat(10_000);

/** A refusal must come at once: before the fix, a NUL in a chat's name stalled the node. */
function quick<T>(request: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([request, late]).finally(() => clearTimeout(timer));
}

describe('bad input, end to end', () => {
  let dataDir: string;
  let port: number;
  let base: string;
  let node: NodeProcessHandle;
  const sockets: SocketRecorder[] = [];
  const admin = { 'x-admin-key': ADMIN_KEY };

  const start = async (): Promise<NodeProcessHandle> =>
    startNodeProcess({
      script: MAIN,
      name: 'standalone',
      env: {
        PORT: String(port),
        HOST: '127.0.0.1',
        DATA_DIR: dataDir,
        ADMIN_API_KEY: ADMIN_KEY,
        DATABASE_URL: '',
        SEED_DEMO: 'false',
        OPERATOR_GRACE_MS: '60000',
        LOG_LEVEL: 'warn',
        ...CLIENT_LIMITS_OFF,
      },
      readyUrl: `http://127.0.0.1:${port}/readyz`,
      readyTimeoutMs: 60_000,
    });

  const connect = async (path: string, token: string): Promise<SocketRecorder> => {
    const s = await SocketRecorder.connect(base, path, token);
    sockets.push(s);
    return s;
  };

  /** A POST with a raw body and headers of our choosing. */
  const raw = async (
    path: string,
    body: string,
    headers: Record<string, string> = { 'content-type': 'application/json' },
  ): Promise<HttpJsonResponse> => {
    const res = await fetch(`${base}${path}`, { method: 'POST', headers, body });
    const text = await res.text();
    return { status: res.status, body: JSON.parse(text) as unknown, headers: {} };
  };

  const refused = (path: string, message: string): Record<string, unknown> => ({
    status: 400,
    body: {
      error: {
        code: 'VALIDATION_FAILED',
        details: [{ path, message: expect.stringContaining(message) as unknown }],
      },
    },
  });
  const refusedAck = (path: string, message: string): Record<string, unknown> => ({
    ok: false,
    error: {
      code: 'VALIDATION_FAILED',
      details: [{ path, message: expect.stringContaining(message) as unknown }],
    },
  });

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'chat-e2e-bad-'));
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    node = await start();
  });

  afterAll(async () => {
    for (const s of sockets) s.close();
    await node?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers each bad input at once, changes nothing, and every other session carries on', async () => {
    // A site, a department, an operator online with an open delta socket.
    const site = await httpJson('POST', `${base}/l/admin/sites`, { name: 'Acme' }, admin);
    expect(site.status).toBe(201);
    const siteId = (site.body as { id: string }).id;
    const dept = await httpJson(
      'POST',
      `${base}/l/admin/sites/${siteId}/departments`,
      { name: 'Support' },
      admin,
    );
    const departmentId = (dept.body as { id: string }).id;
    const created = await httpJson(
      'POST',
      `${base}/l/admin/sites/${siteId}/operators`,
      { name: 'Olga', email: 'olga@acme.test', password: PASSWORD, maxChats: 10 },
      admin,
    );
    expect(created.status).toBe(201);
    const operatorId = (created.body as { id: string }).id;
    const login = await httpJson('POST', `${base}/l/o/login`, {
      email: 'olga@acme.test',
      password: PASSWORD,
    });
    const opToken = (login.body as { token: string }).token;
    const bearer = { authorization: `Bearer ${opToken}` };
    expect(
      (await httpJson('POST', `${base}/l/o/set-status`, { status: 'online' }, bearer)).status,
    ).toBe(200);
    const operator = await connect('/ws/o/delta', opToken);
    await operator.next('state.full');

    const startChat = async (name: string): Promise<{ chatId: string; socket: SocketRecorder }> => {
      const res = await httpJson('POST', `${base}/l/v/chats`, { siteId, departmentId, name });
      expect(res.status).toBe(201);
      const { chatId, token } = res.body as { chatId: string; token: string };
      const socket = await connect('/ws/v/chat', token);
      await socket.next<ChatView>('chat.state', (c) => c.id === chatId);
      return { chatId, socket };
    };
    const snapshot = async (): Promise<OperatorSnapshot> =>
      okData(await operator.request<SocketReply<OperatorSnapshot>>('state.sync'));
    const chatIds = async (): Promise<string[]> => {
      const s = await snapshot();
      return [...s.queue, ...s.chats].map((c) => c.id).sort();
    };

    const a = await startChat('Vera');
    const b = await startChat('Bert');
    await waitFor(
      async () =>
        (await snapshot()).chats.filter((c) => c.operator?.id === operatorId).length === 2,
      { description: 'both chats to be assigned to the operator' },
    );
    const good: MessageView[] = [];
    good.push(
      okData(
        await a.socket.request<SocketReply<MessageView>>('message.send', {
          clientMessageId: 'v-1',
          text: 'Hello 😀',
        }),
      ),
    );
    // Bert's chat is closed, to be rated later.
    okData(await operator.request('chat.close', { chatId: b.chatId, reason: 'done' }));
    await b.socket.next<ChatView>('chat.updated', (c) => c.status === 'closed');

    const chatsBefore = await chatIds();
    const offlineBefore = await httpJson(
      'GET',
      `${base}/l/admin/sites/${siteId}/offline-messages`,
      undefined,
      admin,
    );
    const listing = async (): Promise<unknown[]> =>
      Promise.all(
        [
          '/l/admin/sites',
          `/l/admin/sites/${siteId}/departments`,
          `/l/admin/sites/${siteId}/operators`,
        ].map(async (path) => (await httpJson('GET', `${base}${path}`, undefined, admin)).body),
      );
    const adminBefore = await listing();

    // --- HTTP: each bad string, in every field a client can send.
    for (const bad of BAD) {
      const chat = { siteId, departmentId, name: 'Vera' };
      const cases: [path: string, body: unknown, fieldPath: string, headers?: typeof admin][] = [
        ['/l/v/chats', { ...chat, name: bad.text }, 'name'],
        ['/l/v/chats', { ...chat, email: `v${bad.text}@example.com` }, 'email'],
        ['/l/v/chats', { ...chat, fields: { [`k${bad.text}`]: 'v' } }, `fields.k${bad.shown}`],
        ['/l/v/chats', { ...chat, fields: { order: bad.text } }, 'fields.order'],
        [
          '/l/v/offline-messages',
          { siteId, name: 'Vera', email: 'v@example.com', text: bad.text },
          'text',
        ],
        ['/l/admin/sites', { name: bad.text }, 'name', admin],
        [`/l/admin/sites/${siteId}/departments`, { name: bad.text }, 'name', admin],
        [
          `/l/admin/sites/${siteId}/operators`,
          { name: bad.text, email: 'new@acme.test', password: PASSWORD },
          'name',
          admin,
        ],
        ['/l/o/login', { email: 'olga@acme.test', password: `${PASSWORD}${bad.text}` }, 'password'],
      ];
      for (const [path, body, fieldPath, headers] of cases) {
        const what = `${bad.what} in ${path} ${fieldPath}`;
        const res = await quick(httpJson('POST', `${base}${path}`, body, headers), what);
        expect({ what, res }).toMatchObject({ what, res: refused(fieldPath, bad.message) });
      }
      const patch = await httpJson(
        'PATCH',
        `${base}/l/admin/operators/${operatorId}`,
        { name: bad.text },
        admin,
      );
      expect(patch).toMatchObject(refused('name', bad.message));
    }
    // Prototype keys: refused, never silently dropped.
    await expect(
      raw(
        '/l/v/chats',
        `{"siteId":"${siteId}","name":"Vera","fields":{"order":"A-1","__proto__":"x"}}`,
      ),
    ).resolves.toMatchObject(refused('fields.__proto__', 'key "__proto__" is not allowed'));
    await expect(
      raw('/l/v/chats', `{"siteId":"${siteId}","name":"Vera","fields":{"constructor":"x"}}`),
    ).resolves.toMatchObject(refused('fields.constructor', 'is not allowed'));
    // 10 000-deep JSON.
    await expect(
      raw('/l/v/chats', `{"siteId":"${siteId}","name":"Vera","fields":${DEEP}}`),
    ).resolves.toMatchObject({
      status: 400,
      body: {
        error: { code: 'VALIDATION_FAILED', message: expect.stringContaining('nested') as unknown },
      },
    });
    // Encodings and charsets the node does not read.
    const body = JSON.stringify({ siteId, departmentId, name: 'Vera' });
    await expect(
      raw('/l/v/chats', body, {
        'content-type': 'application/json',
        'content-encoding': 'x-unknown',
      }),
    ).resolves.toMatchObject({ status: 415, body: { error: { code: 'UNSUPPORTED_MEDIA_TYPE' } } });
    await expect(
      raw('/l/v/chats', body, { 'content-type': 'application/json; charset=latin1' }),
    ).resolves.toMatchObject({ status: 415, body: { error: { code: 'UNSUPPORTED_MEDIA_TYPE' } } });
    await expect(raw('/l/v/chats', '{"siteId": ')).resolves.toMatchObject({
      status: 400,
      body: { error: { code: 'VALIDATION_FAILED', message: 'malformed JSON body' } },
    });
    await expect(
      raw('/l/v/chats', JSON.stringify({ siteId, name: 'x'.repeat(70 * 1024) })),
    ).resolves.toMatchObject({ status: 413, body: { error: { code: 'PAYLOAD_TOO_LARGE' } } });
    // A body that is not JSON is not read: the request has no body.
    await expect(raw('/l/v/chats', body, { 'content-type': 'text/plain' })).resolves.toMatchObject(
      refused('(root)', 'expected object'),
    );
    // Route parameters and query values go through the same rule.
    await expect(
      httpJson('GET', `${base}/l/v/sites/${siteId}%00/availability`),
    ).resolves.toMatchObject(refused('(root)', 'U+0000'));
    await expect(
      httpJson(
        'GET',
        `${base}/l/admin/sites/${siteId}/offline-messages?limit=1%00`,
        undefined,
        admin,
      ),
    ).resolves.toMatchObject(refused('(root)', 'U+0000'));

    // --- Sockets: visitor and operator events with each bad string.
    for (const bad of BAD) {
      await expect(
        a.socket.request('message.send', { clientMessageId: `v-${bad.what}`, text: bad.text }),
      ).resolves.toMatchObject(refusedAck('text', bad.message));
      await expect(
        operator.request('message.send', {
          chatId: a.chatId,
          clientMessageId: `o-${bad.what}`,
          text: bad.text,
        }),
      ).resolves.toMatchObject(refusedAck('text', bad.message));
      await expect(a.socket.request('chat.close', { reason: bad.text })).resolves.toMatchObject(
        refusedAck('reason', bad.message),
      );
      await expect(
        operator.request('chat.close', { chatId: a.chatId, reason: bad.text }),
      ).resolves.toMatchObject(refusedAck('reason', bad.message));
      await expect(
        b.socket.request('chat.rate', { rating: 4, comment: bad.text }),
      ).resolves.toMatchObject(refusedAck('comment', bad.message));
    }
    // 10 000-deep JSON on a socket event: an answer, not a stack overflow.
    for (const [socket, chat] of [
      [a.socket, ''],
      [operator, `"chatId":"${a.chatId}",`],
    ] as const) {
      await expect(
        socket.requestRaw('message.send', `{${chat}"clientMessageId":"deep","text":${DEEP}}`),
      ).resolves.toMatchObject({
        ok: false,
        error: { code: 'VALIDATION_FAILED', message: expect.stringContaining('nested') as unknown },
      });
    }
    await expect(
      a.socket.requestRaw('message.send', '{"clientMessageId":"p","__proto__":{"text":"x"}}'),
    ).resolves.toMatchObject(refusedAck('__proto__', 'is not allowed'));
    // The handshake's auth object too: the connection never opens.
    const bad = io(base, {
      path: '/ws/o/delta',
      auth: { token: opToken, note: 'nul\u0000' },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
    });
    const connectError = await new Promise<Error>((resolve) => {
      bad.once('connect_error', resolve);
      bad.once('connect', () => resolve(new Error('connected')));
    });
    bad.close();
    expect(connectError.message).toBe('VALIDATION_FAILED');

    // --- Nothing changed.
    expect(await chatIds()).toEqual(chatsBefore);
    await expect(
      httpJson('GET', `${base}/l/admin/sites/${siteId}/offline-messages`, undefined, admin),
    ).resolves.toEqual(expect.objectContaining({ body: offlineBefore.body }));
    expect(await listing()).toEqual(adminBefore);
    const aNow = (await snapshot()).chats.find((c) => c.id === a.chatId);
    expect(aNow).toMatchObject({ status: 'assigned', closed: null });
    expect(aNow?.messages.map((m) => m.id)).toEqual(good.map((m) => m.id));
    expect(a.socket.count('message.new', (m) => (m as MessageView).id !== good[0]?.id)).toBe(0);

    // --- Every session carries on: the same sockets, another visitor, set-status.
    expect(a.socket.connected && b.socket.connected && operator.connected).toBe(true);
    good.push(
      okData(
        await a.socket.request<SocketReply<MessageView>>('message.send', {
          clientMessageId: 'v-2',
          text: 'Still here',
        }),
      ),
    );
    good.push(
      okData(
        await operator.request<SocketReply<MessageView>>('message.send', {
          chatId: a.chatId,
          clientMessageId: 'o-1',
          text: 'Yes, how can I help?',
        }),
      ),
    );
    const c = await startChat('Carl');
    const carl = okData(
      await c.socket.request<SocketReply<MessageView>>('message.send', {
        clientMessageId: 'c-1',
        text: 'Another visitor',
      }),
    );
    expect(
      okData(await b.socket.request<SocketReply<ChatView>>('chat.rate', { rating: 4 })),
    ).toMatchObject({ rating: { rating: 4, comment: null } });
    await expect(
      httpJson('POST', `${base}/l/o/set-status`, { status: 'away' }, bearer),
    ).resolves.toMatchObject({ status: 200, body: { operator: { status: 'away' } } });

    // Every refusal was counted, by channel.
    const metrics = await httpJson('GET', `${base}/metrics`, undefined, admin);
    const counted = (channel: string): number =>
      Number(
        new RegExp(`chat_input_rejected_total\\{[^}]*channel="${channel}"[^}]*\\} (\\d+)`).exec(
          String(metrics.body),
        )?.[1] ?? 0,
      );
    expect(counted('http')).toBeGreaterThanOrEqual(BAD.length * 10 + 5);
    expect(counted('socket')).toBeGreaterThanOrEqual(BAD.length * 5 + 3);
    expect(counted('handshake')).toBe(1);

    // --- What was acknowledged is in the database: crash, restart, read it back.
    for (const s of sockets) s.close();
    await node.kill9();
    node = await start();
    const relogin = await httpJson('POST', `${base}/l/o/login`, {
      email: 'olga@acme.test',
      password: PASSWORD,
    });
    const after = await connect('/ws/o/delta', (relogin.body as { token: string }).token);
    const full = await after.next<OperatorSnapshot>('state.full');
    const byId = new Map([...full.queue, ...full.chats].map((chat) => [chat.id, chat]));
    expect(byId.get(a.chatId)?.messages.map((m) => [m.id, m.text])).toEqual(
      good.map((m) => [m.id, m.text]),
    );
    expect(byId.get(c.chatId)?.messages.map((m) => m.id)).toEqual([carl.id]);
    expect([...byId.keys()].sort()).toEqual([a.chatId, c.chatId].sort());
    const sites = await httpJson('GET', `${base}/l/admin/sites`, undefined, admin);
    expect(sites.body).toEqual([{ id: siteId, name: 'Acme' }]);
  });
});
