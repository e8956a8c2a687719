/**
 * The whole conversation against the standalone node as a real process, on its embedded database
 * (the newcomer's path): first-run seeding, operators online, a visitor's chat auto-assigned,
 * messages and typing both ways, transfer, close, rating; then `kill -9` and a restart that
 * finds every acknowledged message again.
 */
import {
  type ChatView,
  type MessageView,
  type OperatorDeltaItem,
  type OperatorSnapshot,
} from '@chat/domain';
import type { SocketReply } from '@chat/server';
import {
  freePort,
  httpJson,
  type NodeProcessHandle,
  SocketRecorder,
  startNodeProcess,
  waitFor,
  okData,
} from '@chat/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MAIN = join(__dirname, '../../../dist/apps/master/src/main.js');
const ADMIN_KEY = 'e2e-admin-key-0123456789';

interface Delta {
  revision: number;
  items: OperatorDeltaItem[];
}

describe('standalone node, end to end', () => {
  let dataDir: string;
  let port: number;
  let node: NodeProcessHandle;
  const sockets: SocketRecorder[] = [];
  let base: string;

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
        OPERATOR_GRACE_MS: '60000',
        LOG_LEVEL: 'warn',
      },
      readyUrl: `http://127.0.0.1:${port}/readyz`,
      readyTimeoutMs: 60_000,
    });

  const connect = async (path: string, token: string): Promise<SocketRecorder> => {
    const s = await SocketRecorder.connect(base, path, token);
    sockets.push(s);
    return s;
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'chat-e2e-'));
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    node = await start();
  });

  afterAll(async () => {
    for (const s of sockets) s.close();
    await node?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('runs a whole conversation and keeps the history across a crash', async () => {
    // First run: a demo site with two operators, credentials printed.
    const out = await waitFor(
      () => (/operator:\s+bob@demo\.local \/ (\S+)/.test(node.output()) ? node.output() : ''),
      { description: 'demo credentials on stdout' },
    );
    const siteId = /site id:\s+(\S+)/.exec(out)?.[1] ?? '';
    const passwords: Record<string, string> = Object.fromEntries(
      [...out.matchAll(/operator:\s+(\S+) \/ (\S+)/g)].map((m) => [m[1] ?? '', m[2] ?? '']),
    );
    expect(Object.keys(passwords)).toEqual(['alice@demo.local', 'bob@demo.local']);

    // Nobody online yet: the widget offers the offline form, and starting a chat is refused.
    await expect(
      httpJson('GET', `${base}/l/v/sites/${siteId}/availability`),
    ).resolves.toMatchObject({
      status: 200,
      body: { online: false },
    });
    await expect(
      httpJson('POST', `${base}/l/v/chats`, { siteId, name: 'Early visitor' }),
    ).resolves.toMatchObject({ status: 409, body: { error: { code: 'NO_OPERATORS_ONLINE' } } });
    await expect(
      httpJson('POST', `${base}/l/v/offline-messages`, {
        siteId,
        name: 'Early visitor',
        email: 'early@example.com',
        text: 'Call me back please',
      }),
    ).resolves.toMatchObject({ status: 201 });

    const left = await httpJson(
      'GET',
      `${base}/l/admin/sites/${siteId}/offline-messages`,
      undefined,
      {
        'x-admin-key': ADMIN_KEY,
      },
    );
    expect(left).toMatchObject({
      status: 200,
      body: [{ name: 'Early visitor', text: 'Call me back please' }],
    });

    // Admin: a second department to transfer to.
    const sales = await httpJson(
      'POST',
      `${base}/l/admin/sites/${siteId}/departments`,
      { name: 'Sales' },
      { 'x-admin-key': ADMIN_KEY },
    );
    expect(sales.status).toBe(201);
    const support = (
      await httpJson('GET', `${base}/l/admin/sites/${siteId}/departments`, undefined, {
        'x-admin-key': ADMIN_KEY,
      })
    ).body as { id: string; name: string }[];
    const supportId = support.find((d) => d.name === 'Support')?.id;
    expect(supportId).toBeDefined();

    // Both operators log in, go online and open their delta sockets.
    const ops: Record<string, { token: string; id: string; socket: SocketRecorder }> = {};
    for (const email of ['alice@demo.local', 'bob@demo.local']) {
      const login = await httpJson('POST', `${base}/l/o/login`, {
        email,
        password: passwords[email],
      });
      expect(login.status).toBe(200);
      const { token, operator } = login.body as { token: string; operator: { id: string } };
      const status = await httpJson(
        'POST',
        `${base}/l/o/set-status`,
        { status: 'online' },
        { authorization: `Bearer ${token}` },
      );
      expect(status).toMatchObject({ status: 200, body: { operator: { status: 'online' } } });
      const socket = await connect('/ws/o/delta', token);
      const full = await socket.next<OperatorSnapshot>('state.full');
      expect(full.me).toMatchObject({ id: operator.id, status: 'online', connected: true });
      ops[email] = { token, id: operator.id, socket };
    }

    // A visitor starts a chat in Support: it is auto-assigned to one of them at once.
    const started = await httpJson('POST', `${base}/l/v/chats`, {
      siteId,
      name: 'Vera Visitor',
      email: 'vera@example.com',
      departmentId: supportId,
      fields: { order: 'A-1001' },
    });
    expect(started.status).toBe(201);
    const { chatId, token: visitorToken } = started.body as { chatId: string; token: string };
    const visitor = await connect('/ws/v/chat', visitorToken);
    await visitor.next<ChatView>('chat.state', (c) => c.id === chatId);
    const assignedView = (await waitFor(
      async () => {
        const snap = okData(
          await ops['alice@demo.local']!.socket.request<SocketReply<OperatorSnapshot>>(
            'state.sync',
          ),
        );
        const chat = [...snap.queue, ...snap.chats].find((c) => c.id === chatId);
        return chat?.status === 'assigned' ? chat : undefined;
      },
      { description: 'the chat to be auto-assigned' },
    )) as OperatorSnapshot['chats'][number];
    const first = Object.values(ops).find((o) => o.id === assignedView.operator?.id);
    const second = Object.values(ops).find((o) => o.id !== assignedView.operator?.id);
    if (!first || !second) throw new Error('assigned to an unknown operator');
    expect(assignedView.audit.at(-1)).toMatchObject({ reason: 'auto', operatorId: first.id });
    // The visitor learns who answers: in its first full state or in an update after it.
    await waitFor(
      () =>
        [...visitor.all<ChatView>('chat.state'), ...visitor.all<ChatView>('chat.updated')].some(
          (c) => c.status === 'assigned' && c.operator?.id === first.id,
        ),
      { description: 'the visitor to see the assigned operator' },
    );

    // Visitor -> operator, idempotent by client message id.
    const m1 = okData(
      await visitor.request<SocketReply<MessageView>>('message.send', {
        clientMessageId: 'v-1',
        text: 'Hello, my order is late',
      }),
    );
    const again = okData(
      await visitor.request<SocketReply<MessageView>>('message.send', {
        clientMessageId: 'v-1',
        text: 'Hello, my order is late',
      }),
    );
    expect(again.id).toBe(m1.id);
    await first.socket.next<Delta>('state.delta', (d) =>
      d.items.some((i) => i.kind === 'message' && i.message.id === m1.id),
    );

    // Operator -> visitor.
    const m2 = okData(
      await first.socket.request<SocketReply<MessageView>>('message.send', {
        chatId,
        clientMessageId: 'o-1',
        text: 'Let me check that for you',
      }),
    );
    await visitor.next<MessageView>('message.new', (m) => m.id === m2.id);

    // Typing both ways.
    okData(await visitor.request('typing', { isTyping: true }));
    await first.socket.next<{ chatId: string; author: { kind: string } }>(
      'typing',
      (t) => t.chatId === chatId && t.author.kind === 'visitor',
    );
    okData(await first.socket.request('typing', { chatId, isTyping: true }));
    await visitor.next<{ author: { kind: string } }>('typing', (t) => t.author.kind === 'operator');

    // Transfer to the colleague.
    const transferred = okData(
      await first.socket.request<SocketReply<ChatView>>('chat.transfer', {
        chatId,
        toOperatorId: second.id,
      }),
    );
    expect(transferred.operator?.id).toBe(second.id);
    await second.socket.next<Delta>('state.delta', (d) =>
      d.items.some(
        (i) => i.kind === 'chat' && i.chat.id === chatId && i.chat.operator?.id === second.id,
      ),
    );
    await visitor.next<ChatView>('chat.updated', (c) => c.operator?.id === second.id);
    // The first operator may not write to it any more.
    const denied = await first.socket.request<SocketReply<MessageView>>('message.send', {
      chatId,
      clientMessageId: 'o-2',
      text: 'still here?',
    });
    expect(denied).toMatchObject({ ok: false, error: { code: 'NOT_CHAT_OPERATOR' } });

    const m3 = okData(
      await second.socket.request<SocketReply<MessageView>>('message.send', {
        chatId,
        clientMessageId: 'o-1',
        text: 'Your parcel ships today',
      }),
    );
    await visitor.next<MessageView>('message.new', (m) => m.id === m3.id);

    // Close by the operator, rating by the visitor (once).
    okData(await second.socket.request('chat.close', { chatId, reason: 'resolved' }));
    await visitor.next<ChatView>('chat.updated', (c) => c.status === 'closed');
    const rated = okData(
      await visitor.request<SocketReply<ChatView>>('chat.rate', { rating: 5, comment: 'Great' }),
    );
    expect(rated.rating).toEqual({ rating: 5, comment: 'Great' });
    await expect(visitor.request('chat.rate', { rating: 1 })).resolves.toMatchObject({
      ok: false,
      error: { code: 'ALREADY_RATED' },
    });

    const finalAudit = okData(
      await second.socket.request<SocketReply<OperatorSnapshot>>('state.sync'),
    );
    expect(finalAudit.queue.concat(finalAudit.chats).some((c) => c.id === chatId)).toBe(false);

    // A second chat stays open across the crash.
    const open = await httpJson('POST', `${base}/l/v/chats`, { siteId, name: 'Otto Open' });
    const { chatId: openId, token: openToken } = open.body as { chatId: string; token: string };
    const visitor2 = await connect('/ws/v/chat', openToken);
    await visitor2.next('chat.state');
    const m4 = okData(
      await visitor2.request<SocketReply<MessageView>>('message.send', {
        clientMessageId: 'v2-1',
        text: 'Are you there?',
      }),
    );

    // kill -9: everything acknowledged must be back after the restart.
    for (const s of sockets) s.close();
    await node.kill9();
    node = await start();
    expect(node.output()).not.toMatch(/Demo site created/);

    const reconnected = await connect('/ws/v/chat', visitorToken);
    const closedChat = await reconnected.next<ChatView>('chat.state');
    expect(closedChat).toMatchObject({ id: chatId, status: 'closed', rating: { rating: 5 } });
    expect(closedChat.messages.map((m) => m.id)).toEqual([m1.id, m2.id, m3.id]);
    expect(closedChat.messages.map((m) => m.text)).toEqual([
      'Hello, my order is late',
      'Let me check that for you',
      'Your parcel ships today',
    ]);

    const reconnected2 = await connect('/ws/v/chat', openToken);
    const openChat = await reconnected2.next<ChatView>('chat.state');
    expect(openChat.status).not.toBe('closed');
    expect(openChat.messages.map((m) => m.id)).toEqual([m4.id]);
    // Resync from the last message it has: nothing newer; from nothing: everything.
    await expect(
      reconnected2.request('chat.sync', { afterMessageId: m4.id }),
    ).resolves.toMatchObject({
      ok: true,
      data: { messages: [], lastMessageId: m4.id },
    });
    const relogin = await httpJson('POST', `${base}/l/o/login`, {
      email: 'alice@demo.local',
      password: passwords['alice@demo.local'],
    });
    expect(relogin.status).toBe(200);
    expect(openId).toBeDefined();
  });
});
