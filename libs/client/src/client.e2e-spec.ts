/**
 * The client library against a real standalone node process (embedded database in a temporary
 * directory, free ports): a visitor and an operator chat through `VisitorClient` and
 * `OperatorClient`; connections dropped while messages are unacknowledged, or while the other side
 * writes, resync to exactly what each side lacks and re-send what the server lacks, nothing lost
 * and nothing shown twice; bad resync input gets an error reply on a connection that carries on;
 * and a `kill -9` of the node with a restart on the same data loses nothing acknowledged.
 *
 * A small TCP proxy sits between some clients and the node, to drop only the node's answers (the
 * server got the message, the client never learns it) or to refuse connections for a while.
 */
import type { ChatView, MessageView, OperatorSnapshot } from '@chat/domain';
import {
  CLIENT_LIMITS_OFF,
  freePort,
  httpJson,
  type NodeProcessHandle,
  SocketRecorder,
  startNodeProcess,
  waitFor,
} from '@chat/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io } from 'socket.io-client';
import {
  type ChatClientError,
  messageIdsDigest,
  OperatorClient,
  type ResyncedInfo,
  VisitorClient,
} from './index';

const MAIN = join(__dirname, '../../../dist/apps/master/src/main.js');
const ADMIN_KEY = 'client-e2e-admin-key-0123456789';

type Ack<T> = { ok: true; data: T } | { ok: false; error: { code: string; message: string } };

/**
 * Forwards TCP to the node. `dropAnswers` keeps connections up but discards everything the node
 * sends (requests still arrive, acknowledgements never come back); `refuse` closes new
 * connections at once; `cut()` destroys the open ones.
 */
class AnswerDropProxy {
  dropAnswers = false;
  refuse = false;
  private readonly open = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<AnswerDropProxy> {
    const server = createServer({ noDelay: true });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no proxy port');
    const proxy = new AnswerDropProxy(server, address.port);
    server.on('connection', (client) => proxy.accept(client, targetPort));
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  cut(): void {
    for (const socket of this.open) socket.destroy();
    this.open.clear();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket, targetPort: number): void {
    if (this.refuse) {
      client.destroy();
      return;
    }
    const upstream = connect({ host: '127.0.0.1', port: targetPort, noDelay: true });
    for (const socket of [client, upstream]) {
      this.open.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.open.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => {
      if (!this.dropAnswers) client.write(chunk);
    });
  }
}

/** Every event a client raised, to check "exactly once". */
class Seen {
  readonly messages: MessageView[] = [];
  readonly resyncs: ResyncedInfo[] = [];
  readonly errors: ChatClientError[] = [];

  static visitor(client: VisitorClient): Seen {
    const seen = new Seen();
    client.on('message', (m) => seen.messages.push(m));
    client.on('resynced', (info) => seen.resyncs.push(info));
    client.on('error', (e) => seen.errors.push(e));
    return seen;
  }

  static operator(client: OperatorClient, chatId?: string): Seen {
    const seen = new Seen();
    client.on('message', (id, m) => {
      if (chatId === undefined || id === chatId) seen.messages.push(m);
    });
    client.on('resynced', (info) => seen.resyncs.push(info));
    client.on('error', (e) => seen.errors.push(e));
    return seen;
  }

  ids(): string[] {
    return this.messages.map((m) => m.id);
  }

  /** Waits until `count` resyncs of reconnections happened. */
  reconnected(count = 1): Promise<ResyncedInfo> {
    return waitFor(
      () => {
        const again = this.resyncs.filter((r) => r.reconnect);
        return again.length >= count ? again[count - 1] : undefined;
      },
      { timeoutMs: 30_000, description: `resync after reconnection #${count}` },
    ) as Promise<ResyncedInfo>;
  }
}

function okData<T>(reply: Ack<T>): T {
  if (!reply.ok) throw new Error(`expected ok, got ${reply.error.code}: ${reply.error.message}`);
  return reply.data;
}

const sortedIds = (messages: readonly { id: string }[]): string[] =>
  messages.map((m) => m.id).sort();

describe('@chat/client against a standalone node', () => {
  let dataDir: string;
  let port: number;
  let base: string;
  let node: NodeProcessHandle;
  let proxy: AnswerDropProxy;
  let siteId: string;
  let password: string;
  let bobPassword: string;
  let operatorToken: string;
  const clients: { close(): void }[] = [];
  const raw: SocketRecorder[] = [];

  const start = (): Promise<NodeProcessHandle> =>
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
        ...CLIENT_LIMITS_OFF,
      },
      readyUrl: `http://127.0.0.1:${port}/readyz`,
      readyTimeoutMs: 60_000,
    });

  /** Fast reconnection and a short acknowledgement time-out, so that the tests run quickly. */
  const options = (url: string, token: string) => ({
    baseUrl: url,
    token,
    transports: ['websocket' as const],
    reconnectDelayMs: 100,
    reconnectDelayMaxMs: 500,
    ackTimeoutMs: 800,
  });

  const visitorClient = (token: string, url = base): VisitorClient => {
    const client = new VisitorClient(options(url, token));
    clients.push(client);
    return client;
  };

  const operatorClient = (url = base): OperatorClient => {
    const client = new OperatorClient(options(url, operatorToken));
    clients.push(client);
    return client;
  };

  const rawSocket = async (path: string, token: string): Promise<SocketRecorder> => {
    const socket = await SocketRecorder.connect(base, path, token);
    raw.push(socket);
    return socket;
  };

  /** A new chat, assigned to the one online operator. */
  const startChat = async (name: string): Promise<{ chatId: string; token: string }> => {
    const started = await httpJson('POST', `${base}/l/v/chats`, { siteId, name });
    expect(started.status).toBe(201);
    return started.body as { chatId: string; token: string };
  };

  /** Every message the node holds for the chat, read on a separate plain socket. */
  const serverMessages = async (visitorToken: string): Promise<MessageView[]> => {
    const socket = await rawSocket('/ws/v/chat', visitorToken);
    const chat = await socket.next<ChatView>('chat.state');
    socket.close();
    return chat.messages;
  };

  const assignedTo = (client: OperatorClient, chatId: string): Promise<unknown> =>
    waitFor(() => client.snapshot?.chats.some((c) => c.id === chatId), {
      timeoutMs: 15_000,
      description: `chat ${chatId} assigned to the operator`,
    });

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'chat-client-e2e-'));
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    node = await start();
    proxy = await AnswerDropProxy.start(port);
    const out = await waitFor(
      () => (/operator:\s+alice@demo\.local \/ (\S+)/.test(node.output()) ? node.output() : ''),
      { description: 'demo credentials on stdout' },
    );
    siteId = /site id:\s+(\S+)/.exec(out)?.[1] ?? '';
    password = /operator:\s+alice@demo\.local \/ (\S+)/.exec(out)?.[1] ?? '';
    bobPassword = /operator:\s+bob@demo\.local \/ (\S+)/.exec(out)?.[1] ?? '';
    const login = await httpJson('POST', `${base}/l/o/login`, {
      email: 'alice@demo.local',
      password,
    });
    if (login.status !== 200) throw new Error(`login: ${login.status}`);
    operatorToken = (login.body as { token: string }).token;
    const online = await httpJson(
      'POST',
      `${base}/l/o/set-status`,
      { status: 'online' },
      { authorization: `Bearer ${operatorToken}` },
    );
    if (online.status !== 200) throw new Error(`set-status: ${online.status}`);
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    for (const socket of raw) socket.close();
    await proxy?.close();
    await node?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    proxy.dropAnswers = false;
    proxy.refuse = false;
    proxy.cut();
    // Free the operator's capacity (3 chats) for the next test.
    const admin = await SocketRecorder.connect(base, '/ws/o/delta', operatorToken);
    const snapshot = okData(await admin.request<Ack<OperatorSnapshot>>('state.sync'));
    for (const chat of snapshot.chats) await admin.request('chat.close', { chatId: chat.id });
    admin.close();
  });

  it('carries a conversation both ways through the client library', async () => {
    const operator = operatorClient();
    const opSeen = Seen.operator(operator);
    await operator.connect();
    expect(operator.snapshot?.me).toMatchObject({ status: 'online', connected: true });

    const { chatId, token } = await startChat('Vera Visitor');
    const visitor = visitorClient(token);
    const visitorSeen = Seen.visitor(visitor);
    await visitor.connect();
    expect(visitor.chat?.id).toBe(chatId);
    await assignedTo(operator, chatId);

    const hello = await visitor.send('Hello, my order is late');
    expect(hello).toMatchObject({
      chatId,
      text: 'Hello, my order is late',
      author: { kind: 'visitor' },
    });
    await waitFor(() => operator.messages(chatId).some((m) => m.id === hello.id), {
      description: 'the operator to receive the message',
    });
    const answer = await operator.send(chatId, 'Let me check that for you');
    await waitFor(() => visitor.messages.some((m) => m.id === answer.id), {
      description: 'the visitor to receive the answer',
    });

    // Typing reaches the other side.
    const typing = new Promise<string>((resolve) =>
      visitor.on('typing', (t) => resolve(t.author.kind)),
    );
    await operator.typing(chatId, true);
    await expect(typing).resolves.toBe('operator');

    // Both sides hold the same ordered messages, each announced once, nothing pending.
    const expected = [hello.id, answer.id];
    expect(visitor.messages.map((m) => m.id)).toEqual(expected);
    expect(operator.messages(chatId).map((m) => m.id)).toEqual(expected);
    expect(visitorSeen.ids()).toEqual(expected);
    expect(opSeen.ids()).toEqual(expected);
    expect(visitor.pending).toEqual([]);
    expect(operator.pending).toEqual([]);

    // A permanent refusal rejects the send: the chat is closed.
    const closed = await visitor.closeChat('thanks');
    expect(closed.status).toBe('closed');
    await expect(visitor.send('one more thing')).rejects.toMatchObject({ code: 'CHAT_CLOSED' });
    expect(visitor.pending).toEqual([]);
    await expect(visitor.rate(5, 'quick')).resolves.toMatchObject({ rating: { rating: 5 } });
    await waitFor(() => visitor.chat?.rating?.rating === 5, { description: 'the rating shown' });
    await waitFor(() => !operator.snapshot?.chats.some((c) => c.id === chatId), {
      description: 'the closed chat to leave the operator view',
    });
  });

  it('re-sends what was unacknowledged when the connection drops, nothing lost or doubled', async () => {
    const operator = operatorClient(proxy.url);
    const opSeen = Seen.operator(operator);
    await operator.connect();
    const { chatId, token } = await startChat('Dora Dropped');
    const visitor = visitorClient(token, proxy.url);
    const visitorSeen = Seen.visitor(visitor);
    await visitor.connect();
    await assignedTo(operator, chatId);
    const before = await visitor.send('before the drop');
    const watcher = await rawSocket('/ws/v/chat', token);
    await watcher.next('chat.state');

    // The node still gets every request, but none of its answers reaches the clients.
    proxy.dropAnswers = true;
    const sends = [visitor.send('lost ack 1'), visitor.send('lost ack 2')];
    const opSend = operator.send(chatId, 'operator lost ack');
    // The node accepted both first messages (the watcher sees them)...
    const accepted = await Promise.all(
      ['lost ack 1', 'operator lost ack'].map((text) =>
        watcher.next<MessageView>('message.new', (m) => m.text === text),
      ),
    );
    // ...and the clients, which never got the acknowledgements, keep them pending and retry.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(visitor.pending.map((p) => p.text)).toEqual(['lost ack 1', 'lost ack 2']);
    expect(operator.pending.map((p) => p.text)).toEqual(['operator lost ack']);

    // The connections drop; the clients reconnect, resync, and re-send in order.
    proxy.dropAnswers = false;
    proxy.cut();
    const [first, second] = await Promise.all(sends);
    const fromOperator = await opSend;
    await visitorSeen.reconnected();
    await opSeen.reconnected();

    // The re-sent messages are the ones the node accepted the first time: same ids.
    expect(first?.id).toBe(accepted[0]?.id);
    expect(fromOperator.id).toBe(accepted[1]?.id);
    expect(second?.text).toBe('lost ack 2');

    // On the node: every message once.
    const stored = await serverMessages(token);
    const texts = stored.map((m) => m.text);
    expect([...texts].sort()).toEqual(
      ['before the drop', 'lost ack 1', 'lost ack 2', 'operator lost ack'].sort(),
    );
    expect(stored.map((m) => m.id)).toContain(before.id);

    // Both sides hold exactly the node's messages in its order, each announced exactly once.
    await waitFor(() => operator.messages(chatId).length === stored.length, {
      description: 'the operator to hold every message',
    });
    expect(visitor.messages.map((m) => m.id)).toEqual(stored.map((m) => m.id));
    expect(operator.messages(chatId).map((m) => m.id)).toEqual(stored.map((m) => m.id));
    expect(sortedIds(visitorSeen.messages)).toEqual(sortedIds(stored));
    expect(sortedIds(opSeen.messages)).toEqual(sortedIds(stored));
    expect(visitor.pending).toEqual([]);
    expect(operator.pending).toEqual([]);
    expect([...visitorSeen.errors, ...opSeen.errors]).toEqual([]);
  });

  it('never duplicates a message re-sent with the same client message id', async () => {
    const operator = operatorClient();
    await operator.connect();
    const { chatId, token } = await startChat('Rita Resend');
    const visitor = visitorClient(token);
    const visitorSeen = Seen.visitor(visitor);
    await visitor.connect();
    await assignedTo(operator, chatId);

    const original = await visitor.send('the original', 'visitor-fixed-1');
    const again = await visitor.send('a different text', 'visitor-fixed-1');
    expect(again).toEqual(original);
    const opOriginal = await operator.send(chatId, 'from the operator', 'operator-fixed-1');
    await expect(operator.send(chatId, 'changed', 'operator-fixed-1')).resolves.toEqual(opOriginal);

    // A second client of the same visitor (another tab) re-sends it too: still one message.
    const tab = visitorClient(token);
    await tab.connect();
    await expect(tab.send('from the other tab', 'visitor-fixed-1')).resolves.toEqual(original);

    const stored = await serverMessages(token);
    expect(stored.map((m) => m.clientMessageId)).toEqual(['visitor-fixed-1', 'operator-fixed-1']);
    expect(stored[0]?.text).toBe('the original');
    await waitFor(() => visitor.messages.length === 2, { description: 'both messages shown' });
    expect(visitor.messages.map((m) => m.id)).toEqual(stored.map((m) => m.id));
    expect(visitorSeen.ids().filter((id) => id === original.id)).toHaveLength(1);
  });

  it('delivers exactly the messages missed while disconnected, and sends what was queued', async () => {
    const operator = operatorClient();
    await operator.connect();
    const { chatId, token } = await startChat('Otto Offline');
    const visitor = visitorClient(token, proxy.url);
    const visitorSeen = Seen.visitor(visitor);
    await visitor.connect();
    await assignedTo(operator, chatId);
    await visitor.send('still here');
    await operator.send(chatId, 'seen before the drop');
    await waitFor(() => visitor.messages.length === 2, { description: 'two messages shown' });
    const disconnected = new Promise<void>((resolve) =>
      visitor.on('disconnected', () => resolve()),
    );

    // The visitor goes offline and stays so; the operator writes three messages meanwhile.
    proxy.refuse = true;
    proxy.cut();
    await disconnected;
    expect(visitor.ready).toBe(false);
    const heldBefore = visitorSeen.messages.length;
    const missed: MessageView[] = [];
    for (const text of ['missed 1', 'missed 2', 'missed 3'])
      missed.push(await operator.send(chatId, text));
    const queued = visitor.send('written while offline');
    expect(visitor.pending.map((p) => p.text)).toEqual(['written while offline']);

    proxy.refuse = false;
    const resync = await visitorSeen.reconnected();
    // The node answered from the client's position: exactly the three it lacked.
    expect(resync).toMatchObject({ received: 3, added: 3, fromStart: 0, chats: 1 });
    expect(visitorSeen.messages.slice(heldBefore, heldBefore + 3).map((m) => m.id)).toEqual(
      missed.map((m) => m.id),
    );
    const sent = await queued;
    expect(visitor.messages.map((m) => m.text)).toEqual([
      'still here',
      'seen before the drop',
      'missed 1',
      'missed 2',
      'missed 3',
      'written while offline',
    ]);
    await waitFor(() => operator.messages(chatId).some((m) => m.id === sent.id), {
      description: 'the operator to receive the queued message',
    });
    expect(sortedIds(visitorSeen.messages)).toEqual(sortedIds(await serverMessages(token)));
  });

  it('answers bad resync input with an error and keeps the connection', async () => {
    const operator = await rawSocket('/ws/o/delta', operatorToken);
    await operator.next('state.full');
    const { chatId, token } = await startChat('Bea Bad-input');
    const visitor = await rawSocket('/ws/v/chat', token);
    const state = await visitor.next<ChatView>('chat.state');
    expect(state.id).toBe(chatId);
    const m1 = okData(
      await visitor.request<Ack<MessageView>>('message.send', {
        clientMessageId: 'b-1',
        text: 'one',
      }),
    );
    const m2 = okData(
      await visitor.request<Ack<MessageView>>('message.send', {
        clientMessageId: 'b-2',
        text: 'two',
      }),
    );

    for (const bad of [
      undefined,
      { afterMessageId: 42 },
      { afterMessageId: '' },
      { afterMessageId: null, digest: 'not-hex' },
      { afterMessageId: null, extra: true },
      { afterMessageId: 'x'.repeat(101) },
    ]) {
      await expect(visitor.request('chat.sync', bad)).resolves.toMatchObject({
        ok: false,
        error: { code: 'VALIDATION_FAILED' },
      });
    }
    // The connection carries on: a good sync from a known position answers exactly what follows...
    await expect(
      visitor.request('chat.sync', { afterMessageId: m1.id, digest: messageIdsDigest([m1.id]) }),
    ).resolves.toMatchObject({
      ok: true,
      data: {
        from: 'position',
        messages: [{ id: m2.id }],
        lastMessageId: m2.id,
        chat: { messages: [] },
      },
    });
    // ...a position whose digest differs (the client lacks or holds something else) gets everything...
    await expect(
      visitor.request('chat.sync', { afterMessageId: m2.id, digest: messageIdsDigest([m2.id]) }),
    ).resolves.toMatchObject({
      ok: true,
      data: { from: 'start', messages: [{ id: m1.id }, { id: m2.id }] },
    });
    // ...and messages still go through.
    await expect(
      visitor.request('message.send', { clientMessageId: 'b-3', text: 'three' }),
    ).resolves.toMatchObject({ ok: true });
    expect(visitor.connected).toBe(true);

    // The operator's chat.sync: same rules, plus the chat must be one the operator may see.
    await expect(
      operator.request('chat.sync', { chatId: 'not-a-uuid', afterMessageId: null }),
    ).resolves.toMatchObject({ ok: false, error: { code: 'VALIDATION_FAILED' } });
    await expect(operator.request('chat.sync', { afterMessageId: null })).resolves.toMatchObject({
      ok: false,
      error: { code: 'VALIDATION_FAILED' },
    });
    await expect(
      operator.request('chat.sync', {
        chatId: '00000000-0000-7000-8000-000000000000',
        afterMessageId: null,
      }),
    ).resolves.toMatchObject({ ok: false, error: { code: 'CHAT_NOT_FOUND' } });
    await expect(
      operator.request('chat.sync', { chatId, afterMessageId: null }),
    ).resolves.toMatchObject({
      ok: true,
      data: { from: 'start', messages: [{ id: m1.id }, { id: m2.id }, { text: 'three' }] },
    });
    expect(operator.connected).toBe(true);

    // A colleague's chat is not the operator's to sync.
    const bobLogin = await httpJson('POST', `${base}/l/o/login`, {
      email: 'bob@demo.local',
      password: bobPassword,
    });
    const bobAuth = { authorization: `Bearer ${(bobLogin.body as { token: string }).token}` };
    const bob = await rawSocket('/ws/o/delta', (bobLogin.body as { token: string }).token);
    await bob.next('state.full');
    await httpJson('POST', `${base}/l/o/set-status`, { status: 'online' }, bobAuth);
    const colleagueChat = await startChat('Cora Colleague');
    const held = await waitFor(
      async () => {
        const snap = okData(await bob.request<Ack<OperatorSnapshot>>('state.sync'));
        return snap.chats.some((c) => c.id === colleagueChat.chatId) ? true : undefined;
      },
      { description: 'the least loaded colleague to get the chat' },
    );
    expect(held).toBe(true);
    await expect(
      operator.request('chat.sync', { chatId: colleagueChat.chatId, afterMessageId: null }),
    ).resolves.toMatchObject({ ok: false, error: { code: 'NOT_CHAT_OPERATOR' } });
    await httpJson('POST', `${base}/l/o/set-status`, { status: 'away' }, bobAuth);
    bob.close();

    // A malformed resync flag in the handshake is refused before the connection opens.
    const flagged = io(base, {
      path: '/ws/v/chat',
      auth: { token, resync: 'yes' },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
    });
    await expect(
      new Promise<string>((resolve) => flagged.once('connect_error', (e) => resolve(e.message))),
    ).resolves.toBe('VALIDATION_FAILED');
    flagged.close();
  });

  it('loses nothing acknowledged when the node is killed with -9 and restarted', async () => {
    const operator = operatorClient();
    const opSeen = Seen.operator(operator);
    await operator.connect();
    const { chatId, token } = await startChat('Karl Killed');
    const visitor = visitorClient(token);
    const visitorSeen = Seen.visitor(visitor);
    await visitor.connect();
    await assignedTo(operator, chatId);
    const acknowledged = [
      await visitor.send('acknowledged 1'),
      await operator.send(chatId, 'acknowledged 2'),
      await visitor.send('acknowledged 3'),
    ];
    // One more is racing the crash: stored or not, it must be there exactly once afterwards.
    const racing = visitor.send('racing the crash');
    await node.kill9();
    const offline = visitor.send('written while the node is down');
    const opOffline = operator.send(chatId, 'operator while down');
    node = await start();

    const [raced, afterCrash, opAfterCrash] = await Promise.all([racing, offline, opOffline]);
    await visitorSeen.reconnected();
    await opSeen.reconnected();
    const stored = await serverMessages(token);
    expect(stored.map((m) => m.id)).toEqual(
      expect.arrayContaining([...acknowledged, raced, afterCrash, opAfterCrash].map((m) => m?.id)),
    );
    const byClientId = new Map<string, number>();
    for (const m of stored)
      byClientId.set(m.clientMessageId, (byClientId.get(m.clientMessageId) ?? 0) + 1);
    expect([...byClientId.values()].every((n) => n === 1)).toBe(true);
    expect(stored).toHaveLength(6);

    // Each side was shown every stored message once (a message shown before the crash and
    // stored again under a new id after it counts as the same message).
    await waitFor(() => operator.messages(chatId).length === 6 && visitor.messages.length === 6, {
      description: 'both sides to hold six messages',
    });
    for (const seen of [visitorSeen, opSeen]) {
      const clientIds = seen.messages.map((m) => m.clientMessageId).sort();
      expect(clientIds).toEqual(stored.map((m) => m.clientMessageId).sort());
    }
    expect([...visitorSeen.errors, ...opSeen.errors]).toEqual([]);
  });
});
