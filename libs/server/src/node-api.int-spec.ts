/**
 * The node's edges against the real PostgreSQL (fresh schema): bad input gets a clear error and
 * changes nothing, tenants and visitors are isolated, and concurrent requests never give a chat
 * two operators or an operator more than their limit.
 */
import { loadNodeConfig } from '@chat/cluster';
import { type ChatView, type OperatorSnapshot, stateDigest } from '@chat/domain';
import {
  CLIENT_LIMITS_OFF,
  createTestSchemaName,
  httpJson,
  requireService,
  SocketRecorder,
  waitFor,
} from '@chat/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { startNode, type StartedNode } from './bootstrap';
import { ChatRuntime } from './runtime/chat-runtime';
import { type SocketReply } from './ws/socket-reply';

const DATABASE_URL = process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const ADMIN_KEY = 'int-admin-key-0123456789';
const LOGIN_LIMIT = 40;

interface Operator {
  id: string;
  token: string;
  socket: SocketRecorder;
}

describe('chat node API (real PostgreSQL)', () => {
  const schema = createTestSchemaName('api');
  let dataDir: string;
  let node: StartedNode;
  let base: string;
  let runtime: ChatRuntime;
  const sockets: SocketRecorder[] = [];
  const admin = { 'x-admin-key': ADMIN_KEY };

  const digest = (): string => stateDigest(runtime.state);
  const connect = async (path: string, token: string | undefined): Promise<SocketRecorder> => {
    const s = await SocketRecorder.connect(base, path, token);
    sockets.push(s);
    return s;
  };

  async function site(name: string): Promise<{ siteId: string; departmentId: string }> {
    const s = await httpJson('POST', `${base}/l/admin/sites`, { name }, admin);
    const siteId = (s.body as { id: string }).id;
    const d = await httpJson(
      'POST',
      `${base}/l/admin/sites/${siteId}/departments`,
      { name: 'Support' },
      admin,
    );
    return { siteId, departmentId: (d.body as { id: string }).id };
  }

  async function operator(
    siteId: string,
    email: string,
    options: { maxChats?: number; status?: 'online' | 'away'; departmentIds?: string[] } = {},
  ): Promise<Operator> {
    const created = await httpJson(
      'POST',
      `${base}/l/admin/sites/${siteId}/operators`,
      {
        name: email,
        email,
        password: 'password-123',
        maxChats: options.maxChats ?? 3,
        departmentIds: options.departmentIds ?? [],
      },
      admin,
    );
    expect(created.status).toBe(201);
    const login = await httpJson('POST', `${base}/l/o/login`, { email, password: 'password-123' });
    const { token, operator: me } = login.body as { token: string; operator: { id: string } };
    await httpJson(
      'POST',
      `${base}/l/o/set-status`,
      { status: options.status ?? 'online' },
      { authorization: `Bearer ${token}` },
    );
    const socket = await connect('/ws/o/delta', token);
    await socket.next('state.full');
    return { id: me.id, token, socket };
  }

  async function startChat(
    siteId: string,
    name = 'Visitor',
  ): Promise<{ chatId: string; token: string }> {
    const r = await httpJson('POST', `${base}/l/v/chats`, { siteId, name });
    expect(r.status).toBe(201);
    return r.body as { chatId: string; token: string };
  }

  beforeAll(async () => {
    await requireService('postgres', async () => {
      const client = new Client({ connectionString: DATABASE_URL });
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
    });
    dataDir = mkdtempSync(join(tmpdir(), 'chat-int-'));
    const config = loadNodeConfig([], {
      PORT: '0',
      DATA_DIR: dataDir,
      DATABASE_URL,
      DATABASE_SCHEMA: schema,
      ADMIN_API_KEY: ADMIN_KEY,
      JWT_SECRET: 'int-test-secret-int-test-secret-0123456789',
      SEED_DEMO: 'false',
      LOG_LEVEL: 'silent',
      LOGIN_RATE_LIMIT_PER_MINUTE: String(LOGIN_LIMIT),
      ...CLIENT_LIMITS_OFF,
    });
    node = await startNode(config);
    base = node.url;
    runtime = node.app.get(ChatRuntime);
  });

  afterAll(async () => {
    for (const s of sockets) s.close();
    await node?.app.close();
    rmSync(dataDir, { recursive: true, force: true });
    const client = new Client({ connectionString: DATABASE_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  });

  describe('bad HTTP input', () => {
    it('answers each with a named error and changes nothing', async () => {
      const { siteId } = await site('Bad input');
      const before = digest();
      const raw = (body: string): Promise<Response> =>
        fetch(`${base}/l/o/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });

      const malformed = await raw('{"email": ');
      expect(malformed.status).toBe(400);
      await expect(malformed.json()).resolves.toEqual({
        error: { code: 'VALIDATION_FAILED', message: 'malformed JSON body' },
      });

      const oversized = await raw(
        JSON.stringify({ email: 'a@b.c', password: 'x'.repeat(70 * 1024) }),
      );
      expect(oversized.status).toBe(413);
      await expect(oversized.json()).resolves.toMatchObject({
        error: { code: 'PAYLOAD_TOO_LARGE' },
      });

      await expect(
        httpJson('POST', `${base}/l/o/login`, { email: 'a@example.com' }),
      ).resolves.toMatchObject({
        status: 400,
        body: { error: { code: 'VALIDATION_FAILED', details: [{ path: 'password' }] } },
      });
      await expect(
        httpJson('POST', `${base}/l/v/chats`, { siteId, name: 'V', admin: true }),
      ).resolves.toMatchObject({
        status: 400,
        body: {
          error: {
            code: 'VALIDATION_FAILED',
            message: expect.stringContaining('admin') as unknown,
          },
        },
      });
      await expect(
        httpJson('GET', `${base}/l/v/sites/not-a-uuid/availability`),
      ).resolves.toMatchObject({ status: 400 });
      await expect(
        httpJson('POST', `${base}/l/v/chats`, {
          siteId: '01900000-0000-7000-8000-000000000000',
          name: 'V',
        }),
      ).resolves.toMatchObject({ status: 404, body: { error: { code: 'SITE_NOT_FOUND' } } });
      await expect(httpJson('GET', `${base}/no/such/route`)).resolves.toMatchObject({
        status: 404,
        body: { error: { code: 'NOT_FOUND' } },
      });
      expect(digest()).toBe(before);
    });

    it('refuses missing, forged and wrong-role tokens and admin keys', async () => {
      const { siteId } = await site('Auth');
      const op = await operator(siteId, 'auth-op@example.com');
      const visitor = await startChat(siteId);
      const before = digest();
      const setStatus = (headers: Record<string, string>, status = 'away') =>
        httpJson('POST', `${base}/l/o/set-status`, { status }, headers);
      await expect(setStatus({})).resolves.toMatchObject({
        status: 401,
        body: { error: { code: 'UNAUTHORIZED' } },
      });
      await expect(setStatus({ authorization: `Bearer ${op.token}x` })).resolves.toMatchObject({
        status: 401,
      });
      await expect(setStatus({ authorization: `Bearer ${visitor.token}` })).resolves.toMatchObject({
        status: 401,
      });
      await expect(
        setStatus({ authorization: `Bearer ${op.token}` }, 'busy'),
      ).resolves.toMatchObject({ status: 400 });
      await expect(httpJson('GET', `${base}/l/admin/sites`)).resolves.toMatchObject({
        status: 401,
      });
      await expect(
        httpJson('GET', `${base}/l/admin/sites`, undefined, { 'x-admin-key': 'wrong' }),
      ).resolves.toMatchObject({ status: 401 });
      await expect(
        httpJson('POST', `${base}/l/o/login`, {
          email: 'auth-op@example.com',
          password: 'wrong-password',
        }),
      ).resolves.toMatchObject({
        status: 401,
        body: { error: { code: 'UNAUTHORIZED', message: 'wrong e-mail or password' } },
      });
      await expect(
        httpJson(
          'POST',
          `${base}/l/admin/sites/${siteId}/operators`,
          { name: 'Dup', email: 'AUTH-OP@example.com', password: 'password-123' },
          admin,
        ),
      ).resolves.toMatchObject({ status: 409, body: { error: { code: 'EMAIL_TAKEN' } } });
      expect(digest()).toBe(before);
    });
  });

  describe('bad socket input', () => {
    it('refuses a handshake without a valid token of the right role', async () => {
      const { siteId } = await site('Handshake');
      const visitor = await startChat((await operator(siteId, 'hs-op@example.com')).id && siteId);
      await expect(connect('/ws/o/delta', undefined)).rejects.toThrow('UNAUTHORIZED');
      await expect(connect('/ws/o/delta', 'garbage')).rejects.toThrow('UNAUTHORIZED');
      await expect(connect('/ws/o/delta', visitor.token)).rejects.toThrow('UNAUTHORIZED');
      await expect(connect('/ws/v/chat', undefined)).rejects.toThrow('UNAUTHORIZED');
    });

    it('answers malformed, oversized and unknown events and keeps the connection', async () => {
      const { siteId } = await site('Socket input');
      const op = await operator(siteId, 'sock-op@example.com');
      const { chatId, token } = await startChat(siteId);
      const visitor = await connect('/ws/v/chat', token);
      await visitor.next('chat.state');
      await waitFor(() => runtime.state.chats.get(chatId)?.assignment?.operatorId === op.id, {
        description: 'assignment',
      });
      const before = digest();

      await expect(
        op.socket.request('message.send', { chatId, text: 'no client id' }),
      ).resolves.toMatchObject({
        ok: false,
        error: { code: 'VALIDATION_FAILED', details: [{ path: 'clientMessageId' }] },
      });
      await expect(op.socket.request('message.send', 'just a string')).resolves.toMatchObject({
        ok: false,
        error: { code: 'VALIDATION_FAILED' },
      });
      await expect(
        op.socket.request('message.send', { chatId, clientMessageId: 'c1', text: '   ' }),
      ).resolves.toMatchObject({
        ok: false,
        error: { code: 'VALIDATION_FAILED' },
      });
      await expect(
        op.socket.request('message.send', {
          chatId,
          clientMessageId: 'c1',
          text: 'x'.repeat(80 * 1024),
        }),
      ).resolves.toMatchObject({
        ok: false,
        error: { code: 'PAYLOAD_TOO_LARGE' },
      });
      await expect(op.socket.request('chat.delete', { chatId })).resolves.toMatchObject({
        ok: false,
        error: { code: 'UNKNOWN_EVENT' },
      });
      // A visitor cannot name another chat: the field does not exist for it.
      await expect(
        visitor.request('message.send', {
          chatId: '01900000-0000-7000-8000-000000000000',
          clientMessageId: 'v1',
          text: 'hi',
        }),
      ).resolves.toMatchObject({
        ok: false,
        error: { code: 'VALIDATION_FAILED' },
      });
      await expect(visitor.request('chat.rate', { rating: 5 })).resolves.toMatchObject({
        ok: false,
        error: { code: 'CHAT_NOT_CLOSED' },
      });
      expect(digest()).toBe(before);

      // Still connected and working.
      expect(op.socket.connected && visitor.connected).toBe(true);
      await expect(
        op.socket.request('message.send', { chatId, clientMessageId: 'c1', text: 'fine now' }),
      ).resolves.toMatchObject({ ok: true });
    });
  });

  describe('isolation', () => {
    it('keeps an operator out of another site and a visitor out of another chat', async () => {
      const a = await site('Tenant A');
      const b = await site('Tenant B');
      const opA = await operator(a.siteId, 'iso-a@example.com');
      const opB = await operator(b.siteId, 'iso-b@example.com');
      const secretText = 'secret of tenant A visitor 1';
      const v1 = await startChat(a.siteId, 'First');
      const v2 = await startChat(a.siteId, 'Second');
      const s1 = await connect('/ws/v/chat', v1.token);
      const s2 = await connect('/ws/v/chat', v2.token);
      await s1.next('chat.state');
      await s2.next('chat.state');
      await expect(
        s1.request('message.send', { clientMessageId: 'm1', text: secretText }),
      ).resolves.toMatchObject({ ok: true });
      await opA.socket.next(
        'state.delta',
        (d: { items: { kind: string; message?: { text: string } }[] }) =>
          d.items.some((i) => i.message?.text === secretText),
      );
      const before = digest();

      for (const [event, payload] of [
        ['message.send', { chatId: v1.chatId, clientMessageId: 'x', text: 'intrusion' }],
        ['chat.take', { chatId: v1.chatId }],
        ['chat.close', { chatId: v1.chatId }],
        ['chat.transfer', { chatId: v1.chatId, toOperatorId: opB.id }],
        ['typing', { chatId: v1.chatId, isTyping: true }],
      ] as const) {
        await expect(opB.socket.request(event, payload)).resolves.toMatchObject({
          ok: false,
          error: { code: 'CHAT_NOT_FOUND' },
        });
      }
      const snapB = await opB.socket.request<SocketReply<OperatorSnapshot>>('state.sync');
      expect(JSON.stringify(snapB)).not.toContain(v1.chatId);
      expect(JSON.stringify(opB.socket.events)).not.toContain(v1.chatId);
      expect(JSON.stringify(opB.socket.events)).not.toContain(secretText);
      expect(JSON.stringify(s2.events)).not.toContain(secretText);
      expect(JSON.stringify(opA.socket.events)).not.toContain('passwordHash');
      expect(digest()).toBe(before);
    });
  });

  describe('one chat, one operator', () => {
    it('auto-assigns concurrent chats without exceeding any limit', async () => {
      const { siteId } = await site('Rush');
      const ops = [
        await operator(siteId, 'rush-1@example.com'),
        await operator(siteId, 'rush-2@example.com'),
      ];
      const chats = await Promise.all(
        Array.from({ length: 20 }, (_, i) => startChat(siteId, `Rush ${i}`)),
      );
      await waitFor(
        () =>
          chats.filter((c) => runtime.state.chats.get(c.chatId)?.assignment?.operatorId).length ===
          6,
        { description: 'six chats assigned' },
      );
      for (const op of ops) {
        const held = chats.filter(
          (c) => runtime.state.chats.get(c.chatId)?.assignment?.operatorId === op.id,
        );
        expect(held).toHaveLength(3);
      }
      // Every chat was given at most once, and the rest wait.
      for (const c of chats) {
        const audit = runtime.state.chats.get(c.chatId)?.audit ?? [];
        expect(audit.filter((a) => a.operatorId !== null).length).toBeLessThanOrEqual(1);
      }
      // Capacity frees: closing one chat hands the longest-waiting chat to that operator at once.
      const held = chats.find(
        (c) => runtime.state.chats.get(c.chatId)?.assignment?.operatorId === ops[0]!.id,
      )!;
      await expect(
        ops[0]!.socket.request('chat.close', { chatId: held.chatId }),
      ).resolves.toMatchObject({ ok: true });
      await waitFor(
        () =>
          chats.filter(
            (c) =>
              runtime.state.chats.get(c.chatId)?.assignment?.operatorId === ops[0]!.id &&
              !runtime.state.chats.get(c.chatId)?.closed,
          ).length === 3,
        { description: 'the freed slot to be filled' },
      );
    });

    it('lets exactly one of two concurrent takes win', async () => {
      const { siteId } = await site('Takes');
      const busy = await operator(siteId, 'take-busy@example.com', { maxChats: 1 });
      const first = await startChat(siteId);
      await waitFor(
        () => runtime.state.chats.get(first.chatId)?.assignment?.operatorId === busy.id,
        { description: 'first chat assigned' },
      );
      const waiting = await startChat(siteId);
      const y = await operator(siteId, 'take-y@example.com', { status: 'away' });
      const z = await operator(siteId, 'take-z@example.com', { status: 'away', maxChats: 1 });
      const replies = await Promise.all([
        y.socket.request<SocketReply<ChatView>>('chat.take', { chatId: waiting.chatId }),
        z.socket.request<SocketReply<ChatView>>('chat.take', { chatId: waiting.chatId }),
      ]);
      expect(replies.filter((r) => r.ok)).toHaveLength(1);
      expect(replies.find((r) => !r.ok)).toMatchObject({
        ok: false,
        error: { code: 'CHAT_NOT_WAITING' },
      });
      const winner = replies[0]?.ok ? y : z;
      expect(runtime.state.chats.get(waiting.chatId)?.assignment?.operatorId).toBe(winner.id);

      // At capacity: an operator with a limit of 1 gets one chat by hand, not two.
      const w = await operator(siteId, 'take-w@example.com', { status: 'away', maxChats: 1 });
      const [third, fourth] = [await startChat(siteId), await startChat(siteId)];
      await expect(w.socket.request('chat.take', { chatId: third.chatId })).resolves.toMatchObject({
        ok: true,
      });
      await expect(w.socket.request('chat.take', { chatId: fourth.chatId })).resolves.toMatchObject(
        {
          ok: false,
          error: { code: 'OPERATOR_AT_CAPACITY' },
        },
      );
      expect(runtime.state.chats.get(fourth.chatId)?.assignment?.operatorId ?? null).toBeNull();
    });
  });

  it('transfers a chat to another department, where its operator gets it', async () => {
    const { siteId, departmentId: support } = await site('Departments');
    const sales = (
      await httpJson(
        'POST',
        `${base}/l/admin/sites/${siteId}/departments`,
        { name: 'Sales' },
        admin,
      )
    ).body as { id: string };
    const supporter = await operator(siteId, 'dep-support@example.com', {
      departmentIds: [support],
    });
    const seller = await operator(siteId, 'dep-sales@example.com', { departmentIds: [sales.id] });
    const started = await httpJson('POST', `${base}/l/v/chats`, {
      siteId,
      name: 'D',
      departmentId: support,
    });
    const { chatId } = started.body as { chatId: string };
    await waitFor(() => runtime.state.chats.get(chatId)?.assignment?.operatorId === supporter.id, {
      description: 'assigned in Support',
    });
    await expect(
      supporter.socket.request('chat.transfer', { chatId, toDepartmentId: sales.id }),
    ).resolves.toMatchObject({ ok: true, data: { departmentId: sales.id } });
    await waitFor(() => runtime.state.chats.get(chatId)?.assignment?.operatorId === seller.id, {
      description: 'assigned in Sales',
    });
    expect(runtime.state.chats.get(chatId)?.audit.map((a) => a.reason)).toEqual([
      'auto',
      'transfer',
      'auto',
    ]);
  });

  it('lets the widget call the visitor API from another origin', async () => {
    const preflight = await fetch(`${base}/l/v/chats`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://shop.example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://shop.example.com');
    expect(preflight.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('limits login attempts per client', async () => {
    const statuses: number[] = [];
    let last: unknown;
    for (let i = 0; i <= LOGIN_LIMIT && !statuses.includes(429); i++) {
      const r = await httpJson('POST', `${base}/l/o/login`, {
        email: 'nobody@example.com',
        password: 'wrong-password',
      });
      statuses.push(r.status);
      last = r.body;
    }
    expect(statuses).toContain(429);
    expect(last).toMatchObject({ error: { code: 'RATE_LIMITED' } });
  });
});
