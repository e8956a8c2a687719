import { type Author } from '@chat/domain';
import { runtimeOverFlakyQueue } from '../test-support/flaky-runtime';
import { PostMessageUseCase } from './post-message.use-case';

const siteId = '01900000-0000-7000-8000-000000000001';
const chatId = '01900000-0000-7000-8000-000000000002';
const visitor: Author = { kind: 'visitor', id: 'v1', name: 'Vera' };

async function setup() {
  const { runtime, queue } = await runtimeOverFlakyQueue();
  await runtime.commit('chat.started', {
    chatId,
    siteId,
    departmentId: null,
    visitor: { id: 'v1', name: 'Vera', email: null },
    fields: {},
  });
  return { sut: new PostMessageUseCase(runtime), runtime, queue };
}

describe(`${PostMessageUseCase.name}`, () => {
  it('answers a re-send with the first message, never a second one', async () => {
    const { sut, runtime } = await setup();
    const cmd = { chatId, author: visitor, clientMessageId: 'c1', text: 'hello' };
    const [a, b] = await Promise.all([sut.execute(cmd), sut.execute(cmd)]);
    expect(b.id).toBe(a.id);
    expect(runtime.state.chats.get(chatId)?.messages).toHaveLength(1);
  });

  it('still answers a re-send after the chat was closed', async () => {
    const { sut, runtime } = await setup();
    const cmd = { chatId, author: visitor, clientMessageId: 'c1', text: 'hello' };
    const first = await sut.execute(cmd);
    await runtime.commit('chat.closed', { chatId, siteId, by: visitor, reason: 'bye' });
    await expect(sut.execute(cmd)).resolves.toMatchObject({ id: first.id });
    await expect(sut.execute({ ...cmd, clientMessageId: 'c2' })).rejects.toMatchObject({
      code: 'CHAT_CLOSED',
    });
  });

  it('publishes again on re-send when the first confirmation failed', async () => {
    const { sut, queue } = await setup();
    const cmd = { chatId, author: visitor, clientMessageId: 'c1', text: 'hello' };
    queue.down = true;
    await expect(sut.execute(cmd)).rejects.toThrow('unavailable');
    queue.down = false;
    const resent = await sut.execute(cmd);
    const persisted = queue.accepted.filter((e) => e.type === 'chat.message.added');
    expect(persisted).toHaveLength(1);
    expect(persisted[0]?.data).toMatchObject({ messageId: resent.id, clientMessageId: 'c1' });
  });
});
