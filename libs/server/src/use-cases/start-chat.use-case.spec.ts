import { JwtService } from '@nestjs/jwt';
import { TokenService } from '../auth/token.service';
import { type FlakyQueue, runtimeOverFlakyQueue } from '../test-support/flaky-runtime';
import { StartChatUseCase } from './start-chat.use-case';

const siteId = '01900000-0000-7000-8000-000000000001';
const operatorId = '01900000-0000-7000-8000-0000000000a1';
const KEY = 'retry-key-0123456789';

async function setup() {
  const { runtime, queue } = await runtimeOverFlakyQueue();
  await runtime.commit('site.upserted', { site: { id: siteId, name: 'S' } });
  await runtime.commit('operator.upserted', {
    operator: {
      id: operatorId,
      siteId,
      name: 'Olga',
      email: 'o@x.test',
      passwordHash: 'x',
      departmentIds: [],
      maxChats: 3,
      disabled: false,
    },
  });
  await runtime.commit('operator.status.set', { operatorId, siteId, status: 'online' });
  await runtime.commit('operator.session.opened', {
    operatorId,
    siteId,
    sessionId: 's1',
    nodeId: 'n1',
  });
  const tokens = new TokenService(new JwtService({ secret: 'x'.repeat(32) }), 3600);
  return { sut: new StartChatUseCase(runtime, tokens), runtime, queue };
}

const body = { siteId, name: 'Vera' };
const starts = (queue: FlakyQueue) => queue.accepted.filter((e) => e.type === 'chat.started');

describe(`${StartChatUseCase.name}`, () => {
  it('answers a retry with the same idempotency key with the chat the first attempt opened', async () => {
    const { sut, runtime, queue } = await setup();
    const first = await sut.execute({ body, idempotencyKey: KEY });
    const retry = await sut.execute({ body, idempotencyKey: KEY });
    expect(retry).toMatchObject({ chatId: first.chatId, visitorId: first.visitorId });
    expect(starts(queue)).toHaveLength(1);
    expect([...runtime.state.chats.values()].filter((c) => c.started)).toHaveLength(1);
  });

  it('opens one chat for two attempts racing with the same key', async () => {
    const { sut, queue } = await setup();
    const [a, b] = await Promise.all([
      sut.execute({ body, idempotencyKey: KEY }),
      sut.execute({ body, idempotencyKey: KEY }),
    ]);
    expect(a.chatId).toBe(b.chatId);
    expect(starts(queue)).toHaveLength(1);
  });

  it('opens a new chat per start without a key, and per distinct key', async () => {
    const { sut, queue } = await setup();
    const a = await sut.execute({ body });
    const b = await sut.execute({ body });
    const c = await sut.execute({ body, idempotencyKey: KEY });
    const d = await sut.execute({ body, idempotencyKey: `${KEY}-other` });
    expect(new Set([a.chatId, b.chatId, c.chatId, d.chatId]).size).toBe(4);
    expect(starts(queue)).toHaveLength(4);
  });

  it('publishes the start again when a retry follows a failed confirmation', async () => {
    const { sut, queue } = await setup();
    queue.down = true;
    await expect(sut.execute({ body, idempotencyKey: KEY })).rejects.toThrow('unavailable');
    expect(starts(queue)).toHaveLength(0);
    queue.down = false;
    const retry = await sut.execute({ body, idempotencyKey: KEY });
    expect(starts(queue).map((e) => e.data)).toEqual([
      expect.objectContaining({ chatId: retry.chatId }),
    ]);
  });

  it('answers a retry even when nobody is online any more', async () => {
    const { sut, runtime } = await setup();
    const first = await sut.execute({ body, idempotencyKey: KEY });
    await runtime.commit('operator.status.set', { operatorId, siteId, status: 'offline' });
    await expect(sut.execute({ body })).rejects.toMatchObject({ code: 'NO_OPERATORS_ONLINE' });
    await expect(sut.execute({ body, idempotencyKey: KEY })).resolves.toMatchObject({
      chatId: first.chatId,
    });
  });
});
