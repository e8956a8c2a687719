/**
 * A `chat.sync` answer carries the chat as the node saw it when it answered. A push about the same
 * chat (`chat.updated`, a `chat` delta) that the client handled after sending the request is as new
 * or newer, and the answer must not undo it. Two orders reach the client:
 *
 * - the push first, then the answer (a node that computed the answer before a change but sent it
 *   after the change's push);
 * - the answer first, then the push in the same tick: in Node, socket.io hands the push to its
 *   listener before the `await` on the answer resumes (this is how the dead-slave e2e found it: an
 *   operator's chat assigned while its first resync was on the way went back to "waiting").
 *
 * A small socket.io server in the test process plays the node.
 */
import type { ChatView, OperatorChatView, OperatorSnapshot, OperatorView } from '@chat/domain';
import { createServer, type Server as HttpServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import { OperatorClient } from './operator-client';
import { VisitorClient } from './visitor-client';

type Order = 'push, then answer' | 'answer, then push' | 'answer only';

const SITE = '00000000-0000-7000-8000-00000000000a';
const CHAT = '00000000-0000-7000-8000-00000000000c';
const ME: OperatorView = {
  id: '00000000-0000-7000-8000-00000000000e',
  siteId: SITE,
  name: 'Olga',
  email: 'olga@example.com',
  departmentIds: [],
  maxChats: 3,
  status: 'online',
  connected: true,
  load: 0,
};

const waiting: OperatorChatView = {
  id: CHAT,
  siteId: SITE,
  status: 'waiting',
  departmentId: null,
  operator: null,
  visitor: { id: 'visitor-1', name: 'Vera', email: null },
  fields: {},
  startedAt: 1,
  waitingSince: 1,
  closed: null,
  rating: null,
  messages: [],
  audit: [],
};
const assigned: OperatorChatView = {
  ...waiting,
  status: 'assigned',
  operator: { id: ME.id, name: ME.name },
  waitingSince: null,
};

const answer = (chat: ChatView) => ({
  ok: true,
  data: { messages: [], from: 'position', lastMessageId: null, chat },
});

/** Serves one socket.io path; `onConnection` plays the node. */
async function serve(
  path: string,
  onConnection: (socket: Socket) => void,
): Promise<{ url: string; close(): Promise<void> }> {
  const http: HttpServer = createServer();
  const io = new Server(http, { path });
  io.on('connection', onConnection);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const address = http.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () => new Promise<void>((resolve) => void io.close(() => resolve())),
  };
}

/** Lets whatever is still on the way arrive. */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 100));

const ORDERS: Order[] = ['push, then answer', 'answer, then push', 'answer only'];

describe('a resync answer older than a push the client already handled', () => {
  const stops: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  });

  it.each(ORDERS)('visitor: %s', async (order) => {
    const server = await serve('/ws/v/chat', (socket) => {
      socket.emit('chat.state', waiting);
      socket.on('chat.sync', (_position: unknown, ack: (reply: unknown) => void) => {
        if (order === 'push, then answer') {
          socket.emit('chat.updated', assigned);
          ack(answer(waiting));
        } else if (order === 'answer, then push') {
          ack(answer(waiting));
          socket.emit('chat.updated', assigned);
        } else {
          // Nothing pushed in between: the answer is the newest the client knows.
          ack(answer(assigned));
        }
      });
    });
    stops.push(server.close);
    const client = new VisitorClient({
      baseUrl: server.url,
      token: 'visitor-token',
      transports: ['websocket'],
    });
    stops.push(() => client.close());
    const shown: string[] = [];
    client.on('chat', (chat) => shown.push(chat.status));

    await client.connect();
    await settle();
    expect(client.chat?.status).toBe('assigned');
    expect(client.chat?.operator).toEqual({ id: ME.id, name: ME.name });
    expect(shown).toEqual(['waiting', 'assigned']);
  });

  it.each(ORDERS)('operator: %s', async (order) => {
    const server = await serve('/ws/o/delta', (socket) => {
      const full: OperatorSnapshot = {
        revision: 1,
        me: ME,
        departments: [],
        colleagues: [ME],
        queue: [waiting],
        chats: [],
      };
      socket.emit('state.full', full);
      const delta = { revision: 2, items: [{ kind: 'chat', chat: assigned }] };
      socket.on('chat.sync', (_position: unknown, ack: (reply: unknown) => void) => {
        if (order === 'push, then answer') {
          socket.emit('state.delta', delta);
          ack(answer(waiting));
        } else if (order === 'answer, then push') {
          ack(answer(waiting));
          socket.emit('state.delta', delta);
        } else {
          ack(answer(assigned));
        }
      });
    });
    stops.push(server.close);
    const client = new OperatorClient({
      baseUrl: server.url,
      token: 'operator-token',
      transports: ['websocket'],
    });
    stops.push(() => client.close());
    const shown: string[] = [];
    client.on('chat', (chat) => shown.push(chat.status));

    await client.connect();
    await settle();
    expect(client.snapshot?.queue).toEqual([]);
    expect(client.snapshot?.chats.map((c) => [c.id, c.status, c.operator?.id])).toEqual([
      [CHAT, 'assigned', ME.id],
    ]);
    expect(shown).toEqual(['assigned']);
  });
});
