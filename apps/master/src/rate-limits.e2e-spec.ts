/**
 * The per-client limits against a real standalone node, with small budgets: a visitor flooding
 * `message.send` is answered RATE_LIMITED and stores no more than its chat's budget, while
 * another visitor keeps chatting and the operator keeps receiving; too many sockets from one
 * address are refused at the handshake; chat starts and offline messages beyond the budget answer
 * 429 with Retry-After. Each "client" sends its own X-Forwarded-For, which the node believes
 * because the test connects from loopback (TRUST_PROXY=loopback, nginx's place in production).
 */
import { type ChatView, type MessageView, type OperatorDeltaItem } from '@chat/domain';
import type { ChatSync, SocketReply } from '@chat/server';
import {
  freePort,
  httpJson,
  type NodeProcessHandle,
  okData,
  sleep,
  SocketRecorder,
  startNodeProcess,
  waitFor,
} from '@chat/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MAIN = join(__dirname, '../../../dist/apps/master/src/main.js');
const ADMIN_KEY = 'e2e-admin-key-0123456789';
const ADMIN = { 'x-admin-key': ADMIN_KEY };

const SOCKET_EVENTS_PER_SECOND = 5;
const CHAT_MESSAGES_PER_MINUTE = 8;
const CONNECTIONS_PER_IP = 3;
const CHAT_STARTS_PER_MINUTE = 3;
const OFFLINE_MESSAGES_PER_MINUTE = 2;

interface Delta {
  revision: number;
  items: OperatorDeltaItem[];
}

type Refused = {
  ok: false;
  error: { code: string; message: string; details?: { limit?: string; retryAfterMs?: number } };
};

describe('per-client limits, end to end', () => {
  let dataDir: string;
  let base: string;
  let node: NodeProcessHandle;
  let siteId: string;
  let operator: SocketRecorder;
  let operatorToken: string;
  const sockets: SocketRecorder[] = [];

  const from = (ip: string): Record<string, string> => ({ 'x-forwarded-for': ip });

  const connect = async (path: string, token: string, ip: string): Promise<SocketRecorder> => {
    const socket = await SocketRecorder.connect(base, path, token, { headers: from(ip) });
    sockets.push(socket);
    return socket;
  };

  const startChat = async (
    ip: string,
    name: string,
  ): Promise<{ chatId: string; token: string }> => {
    const started = await httpJson('POST', `${base}/l/v/chats`, { siteId, name }, from(ip));
    expect(started.status).toBe(201);
    return started.body as { chatId: string; token: string };
  };

  /** The operator socket's messages of a chat, as pushed in `state.delta`. */
  const pushedTo = (chatId: string): MessageView[] =>
    operator
      .all<Delta>('state.delta')
      .flatMap((d) => d.items)
      .flatMap((item) =>
        item.kind === 'message' && item.message.chatId === chatId ? [item.message] : [],
      );

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'chat-e2e-limits-'));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    node = await startNodeProcess({
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
        TRUST_PROXY: 'loopback',
        SOCKET_EVENT_RATE_LIMIT_PER_SECOND: String(SOCKET_EVENTS_PER_SECOND),
        IP_EVENT_RATE_LIMIT_PER_SECOND: '50',
        CHAT_MESSAGE_RATE_LIMIT_PER_MINUTE: String(CHAT_MESSAGES_PER_MINUTE),
        IP_CONNECTION_LIMIT: String(CONNECTIONS_PER_IP),
        CHAT_START_RATE_LIMIT_PER_MINUTE: String(CHAT_STARTS_PER_MINUTE),
        OFFLINE_MESSAGE_RATE_LIMIT_PER_MINUTE: String(OFFLINE_MESSAGES_PER_MINUTE),
      },
      readyUrl: `${base}/readyz`,
      readyTimeoutMs: 60_000,
    });

    const site = await httpJson('POST', `${base}/l/admin/sites`, { name: 'Limits' }, ADMIN);
    siteId = (site.body as { id: string }).id;
    const created = await httpJson(
      'POST',
      `${base}/l/admin/sites/${siteId}/operators`,
      { name: 'Olga', email: 'olga@limits.test', password: 'password-123', maxChats: 10 },
      ADMIN,
    );
    if (created.status !== 201) throw new Error(`operator not created: ${created.status}`);
    const login = await httpJson(
      'POST',
      `${base}/l/o/login`,
      { email: 'olga@limits.test', password: 'password-123' },
      from('198.51.100.100'),
    );
    operatorToken = (login.body as { token: string }).token;
    await httpJson(
      'POST',
      `${base}/l/o/set-status`,
      { status: 'online' },
      { authorization: `Bearer ${operatorToken}` },
    );
    operator = await connect('/ws/o/delta', operatorToken, '198.51.100.100');
    await operator.next('state.full');
  });

  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await node?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers a flooding visitor RATE_LIMITED without touching another visitor', async () => {
    const flood = await startChat('203.0.113.1', 'Flood');
    const calm = await startChat('203.0.113.2', 'Calm');
    const floodSocket = await connect('/ws/v/chat', flood.token, '203.0.113.1');
    const calmSocket = await connect('/ws/v/chat', calm.token, '203.0.113.2');
    await waitFor(
      () =>
        [flood.chatId, calm.chatId].every((id) =>
          operator
            .all<Delta>('state.delta')
            .some((d) =>
              d.items.some(
                (i) => i.kind === 'chat' && i.chat.id === id && i.chat.status === 'assigned',
              ),
            ),
        ),
      { description: 'both chats assigned to the operator' },
    );

    const replies: SocketReply<MessageView>[][] = [];
    for (let burst = 0; burst < 3; burst++) {
      const sends = Array.from({ length: 20 }, (_, i) =>
        floodSocket.request<SocketReply<MessageView>>('message.send', {
          clientMessageId: `flood-${burst}-${i}`,
          text: `spam ${burst}.${i}`,
        }),
      );
      const calmReply = await calmSocket.request<SocketReply<MessageView>>('message.send', {
        clientMessageId: `calm-${burst}`,
        text: `hello ${burst}`,
      });
      replies.push(await Promise.all(sends));
      // the calm visitor is never limited by the flood
      expect(okData(calmReply).clientMessageId).toBe(`calm-${burst}`);
      await sleep(1100); // the next burst falls into a new one-second window
    }

    // Burst 1: the socket's budget per second, in order; the rest is refused with a retry time.
    const [first = [], second = [], third = []] = replies;
    expect(first.slice(0, SOCKET_EVENTS_PER_SECOND).every((r) => r.ok)).toBe(true);
    const refused = first.slice(SOCKET_EVENTS_PER_SECOND) as Refused[];
    expect(refused).toHaveLength(20 - SOCKET_EVENTS_PER_SECOND);
    for (const reply of refused) {
      expect(reply).toMatchObject({
        ok: false,
        error: { code: 'RATE_LIMITED', details: { limit: 'socketEvents' } },
      });
      expect(reply.error.details?.retryAfterMs).toBeGreaterThan(0);
      expect(reply.error.details?.retryAfterMs).toBeLessThanOrEqual(1000);
    }
    // Bursts 2 and 3: the chat's budget per minute runs out; those refusals say so.
    const chatRefusals = [...second, ...third].filter(
      (r) => !r.ok && (r as Refused).error.details?.limit === 'chatMessages',
    ) as Refused[];
    expect(chatRefusals.length).toBeGreaterThan(0);
    expect(chatRefusals[0]?.error.details?.retryAfterMs).toBeGreaterThan(1000);
    const accepted = replies.flat().filter((r) => r.ok);
    expect(accepted).toHaveLength(CHAT_MESSAGES_PER_MINUTE);
    // the connection stayed up through all of it
    expect(floodSocket.connected).toBe(true);

    // The flood stored exactly the budget: the chat's history (asked by the operator).
    await sleep(1100);
    const floodHistory = okData(
      await operator.request<SocketReply<ChatSync>>('chat.sync', {
        chatId: flood.chatId,
        afterMessageId: null,
      }),
    );
    const floodStored = floodHistory.messages.filter((m) => m.author.kind === 'visitor');
    expect(floodStored).toHaveLength(CHAT_MESSAGES_PER_MINUTE);
    expect(floodStored.map((m) => m.clientMessageId).sort()).toEqual(
      accepted.map((r) => okData(r).clientMessageId).sort(),
    );

    // The operator received every message of the calm visitor, pushed live.
    await waitFor(() => pushedTo(calm.chatId).length === 3, {
      description: "the calm visitor's three messages at the operator",
    });
    expect(pushedTo(calm.chatId).map((m) => m.text)).toEqual(['hello 0', 'hello 1', 'hello 2']);

    // The chat's budget is the chat's, both sides: the operator cannot post into the flooded
    // chat either this minute, but answers the calm one.
    await expect(
      operator.request('message.send', {
        chatId: flood.chatId,
        clientMessageId: 'op-flood',
        text: 'please stop',
      }),
    ).resolves.toMatchObject({
      ok: false,
      error: { code: 'RATE_LIMITED', details: { limit: 'chatMessages' } },
    });
    okData(
      await operator.request<SocketReply<MessageView>>('message.send', {
        chatId: calm.chatId,
        clientMessageId: 'op-calm',
        text: 'how can I help?',
      }),
    );
    await calmSocket.next<MessageView>('message.new', (m) => m.clientMessageId === 'op-calm');
  });

  it('refuses sockets over the connection budget of an address, both channels together', async () => {
    const ip = '192.0.2.77';
    const visitor = await startChat(ip, 'Many tabs');
    const open: SocketRecorder[] = [];
    for (let i = 0; i < CONNECTIONS_PER_IP; i++) {
      open.push(await connect('/ws/v/chat', visitor.token, ip));
    }
    const refusal = await connect('/ws/v/chat', visitor.token, ip).catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(Error);
    expect(refusal).toMatchObject({
      message: 'RATE_LIMITED',
      data: { code: 'RATE_LIMITED', details: { limit: 'ipConnections' } },
    });
    // the operator channel counts on the same address
    await expect(connect('/ws/o/delta', operatorToken, ip)).rejects.toMatchObject({
      message: 'RATE_LIMITED',
    });
    // the visitor's existing sockets carry on
    okData(await open[0]!.request<SocketReply<ChatSync>>('chat.sync', { afterMessageId: null }));
    // another address is not affected
    const elsewhere = await startChat('192.0.2.78', 'Elsewhere');
    await connect('/ws/v/chat', elsewhere.token, '192.0.2.78');

    // A disconnect gives its place back.
    open[0]!.close();
    const again = (await waitFor(
      () => connect('/ws/v/chat', visitor.token, ip).catch(() => undefined),
      { description: 'a place for the address again' },
    )) as SocketRecorder;
    await again.next<ChatView>('chat.state');
  });

  it('answers chat starts and offline messages beyond the budget with 429 and Retry-After', async () => {
    const ip = '192.0.2.99';
    for (let i = 0; i < CHAT_STARTS_PER_MINUTE; i++) await startChat(ip, `Starter ${i}`);
    const refused = await httpJson(
      'POST',
      `${base}/l/v/chats`,
      { siteId, name: 'One too many' },
      from(ip),
    );
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({
      error: {
        code: 'RATE_LIMITED',
        message: expect.stringContaining('chats started') as unknown,
        details: { limit: 'chatStarts', retryAfterMs: expect.any(Number) as unknown },
      },
    });
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // counted before validation: a malformed start from that address is refused the same way
    await expect(
      httpJson('POST', `${base}/l/v/chats`, { nope: true }, from(ip)),
    ).resolves.toMatchObject({ status: 429 });
    // another address starts chats as before
    await startChat('192.0.2.100', 'Someone else');

    const leave = (who: string) =>
      httpJson(
        'POST',
        `${base}/l/v/offline-messages`,
        { siteId, name: 'Otto', email: 'otto@example.com', text: 'call me' },
        from(who),
      );
    for (let i = 0; i < OFFLINE_MESSAGES_PER_MINUTE; i++) {
      await expect(leave('192.0.2.120')).resolves.toMatchObject({ status: 201 });
    }
    const tooMany = await leave('192.0.2.120');
    expect(tooMany).toMatchObject({
      status: 429,
      body: { error: { code: 'RATE_LIMITED', details: { limit: 'offlineMessages' } } },
    });
    expect(Number(tooMany.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });

  it('counts every refusal in chat_rate_limited_total', async () => {
    const scrape = await httpJson('GET', `${base}/metrics`, undefined, ADMIN);
    const text = String(scrape.body);
    for (const limit of [
      'socketEvents',
      'chatMessages',
      'ipConnections',
      'chatStarts',
      'offlineMessages',
    ]) {
      expect(text).toMatch(
        new RegExp(`chat_rate_limited_total\\{[^}]*limit="${limit}"[^}]*\\} [1-9]`),
      );
    }
  });
});
