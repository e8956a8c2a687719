import { type DeadLetterItem, type RabbitMqWorkQueue } from '@chat/messaging';
import { type DeadLetterInput, type DeadLetterStore } from '@chat/persistence';
import { Metrics } from '../metrics/metrics';
import { BrokerDeadLetters } from './broker-dead-letters';

function letter(overrides: Partial<DeadLetterItem> = {}): DeadLetterItem {
  return {
    queue: 'chat.persistence',
    uniqueId: 'e-1',
    body: '{"id":"e-1","type":"chat.closed"}',
    reason: 'delivery_limit',
    deliveryCount: 11,
    signer: 'slave-1',
    deadLetteredAt: new Date(1_700_000_000_000),
    ...overrides,
  };
}

function fakeStore(fail = false) {
  const recorded: DeadLetterInput[] = [];
  const store = {
    record: (input: DeadLetterInput) => {
      if (fail) return Promise.reject(new Error('database down'));
      const created = !recorded.some((r) => r.uniqueId === input.uniqueId);
      recorded.push(input);
      return Promise.resolve({
        deadLetter: { id: 'dl-1', eventId: 'e-1', eventType: 'chat.closed' },
        created,
      });
    },
  } as unknown as DeadLetterStore;
  return { store, recorded };
}

const noQueue = {} as RabbitMqWorkQueue;

describe(`${BrokerDeadLetters.name}`, () => {
  it('stores a signed dead letter with the broker reason and counts it once', async () => {
    const { store, recorded } = fakeStore();
    const metrics = new Metrics('n1');
    const sut = new BrokerDeadLetters(noQueue, store, metrics);
    await sut.record(letter());
    await sut.record(letter()); // a redelivery of the same letter
    expect(recorded[0]).toEqual({
      queue: 'chat.persistence',
      uniqueId: 'e-1',
      payload: { id: 'e-1', type: 'chat.closed' },
      error: {
        message:
          'dead-lettered by the broker: handed out 11 times without being handled (delivery limit)',
        sqlState: null,
      },
      failedAt: new Date(1_700_000_000_000),
    });
    const text = (await metrics.render()).body;
    expect(text).toMatch(
      /chat_dead_letters_total\{queue="chat.persistence",reason="broker_delivery_limit",node="n1"\} 1/,
    );
  });

  it('keeps a body that is not JSON as text', async () => {
    const { store, recorded } = fakeStore();
    await new BrokerDeadLetters(noQueue, store).record(
      letter({ body: '{not json', reason: 'rejected', deliveryCount: 1 }),
    );
    expect(recorded[0]?.payload).toBe('{not json');
    expect(recorded[0]?.error.message).toMatch(/rejected by a consumer on arrival/);
  });

  it('never stores an unsigned dead letter (a replay would journal it)', async () => {
    const { store, recorded } = fakeStore();
    const sut = new BrokerDeadLetters(noQueue, store);
    await expect(sut.record(letter({ signer: null, reason: 'rejected' }))).resolves.toBeUndefined();
    expect(recorded).toEqual([]);
  });

  it('throws when the store fails, so that the letter stays in the broker', async () => {
    const { store } = fakeStore(true);
    await expect(new BrokerDeadLetters(noQueue, store).record(letter())).rejects.toThrow(
      'database down',
    );
  });
});
