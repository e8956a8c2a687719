import type { Channel, ConsumeMessage } from 'amqplib';
import { RabbitMqConnection, redactUrl, withHeartbeat } from './rabbitmq-connection';
import { AckCoalescer, ReturnedMessages, serialise } from './rabbitmq-support';
import { deliveryCountOf } from './rabbitmq-work-queue';

function message(properties: Partial<ConsumeMessage['properties']>, redelivered = false) {
  return {
    content: Buffer.from('{}'),
    fields: { redelivered },
    properties: { headers: undefined, ...properties },
  } as unknown as ConsumeMessage;
}

describe(`${withHeartbeat.name}`, () => {
  it('adds a heartbeat unless the URL sets one', () => {
    expect(withHeartbeat('amqp://u:p@h:5672/v', 10)).toBe('amqp://u:p@h:5672/v?heartbeat=10');
    expect(withHeartbeat('amqps://h/v?heartbeat=3&frameMax=8192', 10)).toBe(
      'amqps://h/v?heartbeat=3&frameMax=8192',
    );
  });

  it('rejects a URL that is malformed or not AMQP, without echoing the password', () => {
    expect(() => withHeartbeat('http://u:secret@h', 10)).toThrow(/amqp:\/\/ or amqps:\/\//);
    expect(() => withHeartbeat('http://u:secret@h', 10)).not.toThrow(/secret/);
    expect(() => new RabbitMqConnection({ url: 'not a url' })).toThrow(/Malformed RabbitMQ URL/);
  });
});

describe(`${redactUrl.name}`, () => {
  it('hides the password only', () => {
    expect(redactUrl('amqp://guest:guest@127.0.0.1:5672/v')).toBe(
      'amqp://guest:***@127.0.0.1:5672/v',
    );
    expect(redactUrl('amqp://127.0.0.1')).toBe('amqp://127.0.0.1');
  });
});

describe(`${ReturnedMessages.name}`, () => {
  it('reports each return once per message id', () => {
    const returned = new ReturnedMessages();
    returned.add(message({ messageId: 'a' }));
    returned.add(message({ messageId: 'a' }));
    expect(returned.take('b')).toBe(false);
    expect(returned.take('a')).toBe(true);
    expect(returned.take('a')).toBe(true);
    expect(returned.take('a')).toBe(false);
  });
});

describe(`${deliveryCountOf.name}`, () => {
  it('counts from x-delivery-count, else from the redelivered flag', () => {
    expect(deliveryCountOf(message({}))).toBe(1);
    expect(deliveryCountOf(message({}, true))).toBe(2);
    expect(deliveryCountOf(message({ headers: { 'x-delivery-count': 3 } }, true))).toBe(4);
  });
});

describe(`${serialise.name}`, () => {
  it('encodes JSON and refuses values without a JSON form', () => {
    expect(serialise({ id: 'x' }, 'Event x').toString()).toBe('{"id":"x"}');
    expect(() => serialise(undefined, 'Event y')).toThrow('Event y is not JSON-serialisable');
  });
});

describe(`${AckCoalescer.name}`, () => {
  const message = (tag: number): ConsumeMessage =>
    ({ fields: { deliveryTag: tag } }) as unknown as ConsumeMessage;
  const fakeChannel = () => {
    const acks: [number, boolean | undefined][] = [];
    const channel = {
      ack: (m: ConsumeMessage, allUpTo?: boolean) => acks.push([m.fields.deliveryTag, allUpTo]),
    } as unknown as Channel;
    return { channel, acks };
  };
  const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

  it('acks everything one turn handled with one frame, `multiple` up to the last', async () => {
    const { channel, acks } = fakeChannel();
    const sut = new AckCoalescer(channel);
    sut.ack(message(1));
    sut.ack(message(2));
    sut.ack(message(3));
    expect(acks).toEqual([]);
    await nextTurn();
    expect(acks).toEqual([[3, true]]);
    sut.ack(message(4));
    await nextTurn();
    expect(acks).toEqual([
      [3, true],
      [4, true],
    ]);
  });

  it('sends what is pending at once on flush, and nothing twice', async () => {
    const { channel, acks } = fakeChannel();
    const sut = new AckCoalescer(channel);
    sut.ack(message(7));
    sut.flush();
    expect(acks).toEqual([[7, true]]);
    await nextTurn();
    sut.flush();
    expect(acks).toEqual([[7, true]]);
  });

  it('survives a closed channel', async () => {
    const channel = {
      ack: () => {
        throw new Error('channel closed');
      },
    } as unknown as Channel;
    const sut = new AckCoalescer(channel);
    sut.ack(message(1));
    await expect(nextTurn()).resolves.toBeUndefined();
  });
});
