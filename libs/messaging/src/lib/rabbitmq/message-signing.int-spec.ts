import { randomUUID } from 'node:crypto';
import { type ChannelModel, type ConfirmChannel, connect } from 'amqplib';
import {
  requireService,
  sleep,
  waitFor,
  type TestVhost,
  checkBroker,
  createTestVhost,
} from '@chat/testing';
import type { QueuedItem } from '../work-queue';
import { MessageSigner, type RejectReason, type RejectedKind } from './message-signing';
import { RabbitMqClusterBus } from './rabbitmq-cluster-bus';
import { RabbitMqConnection } from './rabbitmq-connection';
import { RabbitMqNodeRpc } from './rabbitmq-node-rpc';
import { WORK_QUEUE_DELIVERY_LIMIT } from './rabbitmq-support';
import { type DeadLetterItem, RabbitMqWorkQueue } from './rabbitmq-work-queue';

interface TestEvent {
  readonly id: string;
  readonly origin: string;
  readonly seq: number;
}

const PREFIX = 'chat.';
const SECRET = 'message-signing-int-spec-secret-0123456789';
const STRANGER_SECRET = 'not-the-cluster-secret-at-all-0123456789';

/**
 * Cluster wire security against the real broker: whoever can publish to the cluster's exchanges
 * and queues (the broker credentials) but lacks the cluster secret gets nothing applied, handled
 * or answered, and cannot make a work queue loop.
 */
describe('signed cluster messages (real RabbitMQ)', () => {
  let vhost: TestVhost;
  let admin: ChannelModel;
  let raw: ConfirmChannel;
  let cluster = '';
  const stoppers: Array<() => Promise<void>> = [];
  let rejected: string[] = [];
  const onRejected = (kind: RejectedKind, reason: RejectReason): void => {
    rejected.push(`${kind}/${reason}`);
  };

  beforeAll(async () => {
    await requireService('rabbitmq', checkBroker);
    vhost = await createTestVhost('signing');
    admin = await connect(vhost.url);
    admin.on('error', () => undefined);
  });

  beforeEach(async () => {
    cluster = `c${randomUUID().slice(0, 8)}`;
    rejected = [];
    raw = await admin.createConfirmChannel();
    raw.on('error', () => undefined);
  });

  afterEach(async () => {
    for (const stop of stoppers.splice(0).reverse()) await stop();
    await raw.close().catch(() => undefined);
  });

  afterAll(async () => {
    await admin?.close().catch(() => undefined);
    await vhost?.delete();
  });

  function bus(nodeName: string, boundWorkQueues: string[] = []) {
    const created = new RabbitMqClusterBus<TestEvent, TestEvent & { node?: string }>({
      url: vhost.url,
      prefix: PREFIX,
      clusterName: cluster,
      nodeName,
      instanceId: randomUUID(),
      signer: new MessageSigner(SECRET, nodeName),
      onRejected,
      signalOriginField: 'node',
      boundWorkQueues,
      onError: () => undefined,
    });
    stoppers.push(() => created.stop());
    return created;
  }

  function workQueue(nodeName: string, signed = true) {
    const created = new RabbitMqWorkQueue({
      url: vhost.url,
      prefix: `${PREFIX}${cluster}.`,
      retryBaseDelayMs: 10,
      retryMaxDelayMs: 20,
      ...(signed ? { signer: new MessageSigner(SECRET, nodeName) } : {}),
      onRejected,
      onHandlerError: () => undefined,
      onError: () => undefined,
    });
    stoppers.push(() => created.stop());
    return created;
  }

  /** Publishes like an attacker with broker credentials would: any headers, any body. */
  async function inject(
    exchange: string,
    routingKey: string,
    body: string,
    messageId: string,
    headers?: Record<string, string>,
  ): Promise<void> {
    raw.publish(exchange, routingKey, Buffer.from(body, 'utf8'), {
      messageId,
      persistent: true,
      ...(headers ? { headers } : {}),
    });
    await raw.waitForConfirms();
  }

  function headersOf(secret: string, signer: string, id: string, body: string) {
    return new MessageSigner(secret, signer).headers(id, Buffer.from(body, 'utf8'));
  }

  function deadLetters(queue: RabbitMqWorkQueue): DeadLetterItem[] {
    const letters: DeadLetterItem[] = [];
    queue.consumeDeadLetters((letter) => {
      letters.push(letter);
      return Promise.resolve();
    });
    return letters;
  }

  it('applies only state events signed by the node they name as origin', async () => {
    const a = bus('a');
    const b = bus('b');
    const seen: TestEvent[] = [];
    b.subscribe((e) => {
      seen.push(e);
    });
    await Promise.all([a.start(), b.start()]);
    const exchange = b.names.stateExchange;
    const forged = (origin: string, seq: number) =>
      JSON.stringify({ id: `forged-${seq}`, origin, seq });

    // No signature at all.
    await inject(exchange, '', forged('a', 1), 'forged-1');
    // Signed with a key derived from another secret.
    await inject(exchange, '', forged('a', 2), 'forged-2', {
      ...headersOf(STRANGER_SECRET, 'a', 'forged-2', forged('a', 2)),
    });
    // A valid signature of a, over another body.
    await inject(exchange, '', forged('a', 3), 'forged-3', {
      ...headersOf(SECRET, 'a', 'forged-3', forged('a', 99)),
    });
    // Correctly signed by a, but claiming to come from b.
    await inject(exchange, '', forged('b', 4), 'forged-4', {
      ...headersOf(SECRET, 'a', 'forged-4', forged('b', 4)),
    });
    // Correctly signed, but the message id is not the event's.
    await inject(exchange, '', forged('a', 5), 'other-id', {
      ...headersOf(SECRET, 'a', 'other-id', forged('a', 5)),
    });
    // Correctly signed and not JSON.
    await inject(exchange, '', 'not json', 'forged-6', {
      ...headersOf(SECRET, 'a', 'forged-6', 'not json'),
    });
    // The real thing, from the driver, and a barrier-like marker signed by its origin.
    const valid: TestEvent = { id: randomUUID(), origin: 'a', seq: 7 };
    await a.publish(valid);
    const marker = { id: randomUUID(), origin: 'b', seq: 8 };
    await b.publish(marker);

    await waitFor(() => seen.length >= 2, { description: 'the valid events' });
    await sleep(300);
    expect(seen).toEqual([valid, marker]);
    // Each node's queue got every message: both drop the same six.
    const expected = [
      'event/unsigned',
      'event/signature',
      'event/signature',
      'event/origin',
      'event/malformed',
      'event/malformed',
    ];
    await waitFor(() => rejected.length >= 12, { description: 'both nodes to count' });
    expect(rejected.sort()).toEqual([...expected, ...expected].sort());
  });

  it('drops unsigned and forged signals, keeps signed ones', async () => {
    const a = bus('a');
    const b = bus('b');
    const seen: Array<TestEvent & { node?: string }> = [];
    b.subscribeSignals((s) => {
      seen.push(s);
    });
    await Promise.all([a.start(), b.start()]);
    const exchange = b.names.signalExchange;
    const heartbeat = JSON.stringify({ id: 'hb-1', origin: 'x', seq: 1, node: 'master' });
    await inject(exchange, '', heartbeat, 'hb-1');
    await inject(exchange, '', heartbeat, 'hb-1', {
      ...headersOf(SECRET, 'a', 'hb-1', heartbeat),
    }); // signed by a, claims to be the master's
    a.publishSignal({ id: 'typing-1', origin: 'a', seq: 2 });
    a.publishSignal({ id: 'hb-2', origin: 'a', seq: 3, node: 'a' });
    await waitFor(() => seen.length >= 2, { description: 'the signed signals' });
    await sleep(200);
    expect(seen.map((s) => s.id)).toEqual(['typing-1', 'hb-2']);
    expect(rejected.filter((r) => r.startsWith('signal/')).sort()).toEqual(
      expect.arrayContaining(['signal/origin', 'signal/unsigned']),
    );
  });

  it('dead-letters a forged item published straight into the persistence queue, and handles the next valid one', async () => {
    const queues = workQueue('a');
    const brokerQueue = queues.queueName('jobs.persist');
    const a = bus('a', [brokerQueue]);
    const handled: QueuedItem[] = [];
    queues.consume('jobs.persist', { batchSize: 10, lingerMs: 0 }, (batch) => {
      handled.push(...batch);
      return Promise.resolve();
    });
    const letters = deadLetters(queues);
    await a.start();
    await queues.start();

    const forged = JSON.stringify({ id: 'forged-1', origin: 'a', seq: 1 });
    await inject('', brokerQueue, forged, 'forged-1');
    await inject('', brokerQueue, forged, 'forged-1', {
      ...headersOf(STRANGER_SECRET, 'a', 'forged-1', forged),
    });
    await queues.publish('jobs.persist', 'item-1', { n: 1 }); // signed by the work queue
    const event: TestEvent = { id: randomUUID(), origin: 'a', seq: 2 };
    await a.publish(event); // signed by the bus, routed into the queue by the broker

    await waitFor(() => handled.length >= 2 && letters.length >= 2, {
      description: 'the valid items handled, the forged ones dead-lettered',
    });
    await sleep(300);
    expect(handled.map((item) => item.uniqueId)).toEqual(['item-1', event.id]);
    expect(handled.map((item) => item.payload)).toEqual([{ n: 1 }, event]);
    expect(letters).toHaveLength(2);
    for (const letter of letters) {
      expect(letter).toMatchObject({
        queue: 'jobs.persist',
        uniqueId: 'forged-1',
        body: forged,
        reason: 'rejected',
        deliveryCount: 1,
        signer: null,
      });
      expect(letter.deadLetteredAt).toBeInstanceOf(Date);
    }
    expect(rejected.sort()).toEqual(['work/signature', 'work/unsigned']);
  });

  it('dead-letters a body that is not JSON once, never handing it to a handler', async () => {
    for (const signed of [true, false]) {
      rejected = [];
      const queues = workQueue('a', signed);
      const handled: QueuedItem[] = [];
      const queue = `jobs.garbage.${String(signed)}`;
      queues.consume(queue, { batchSize: 1, lingerMs: 0 }, (batch) => {
        handled.push(...batch);
        return Promise.resolve();
      });
      const letters = deadLetters(queues);
      await queues.start();
      await queues.publish(queue, 'before', 'before');
      const id = `garbage-${String(signed)}`;
      await inject('', queues.queueName(queue), '{not json', id, {
        ...headersOf(SECRET, 'a', id, '{not json'),
      });
      await queues.publish(queue, 'after', 'after');
      await waitFor(() => handled.length >= 2 && letters.length >= 1, {
        description: 'the neighbours handled, the garbage dead-lettered',
      });
      await sleep(300);
      expect(handled.map((item) => item.uniqueId)).toEqual(['before', 'after']);
      expect(letters).toEqual([
        expect.objectContaining({
          queue,
          uniqueId: id,
          body: '{not json',
          reason: 'rejected',
          signer: signed ? 'a' : null,
        }),
      ]);
      expect(rejected).toEqual(['work/malformed']);
      await queues.stop();
    }
  });

  it('stops redelivering an item whose handler always throws after the delivery limit; the item is dead-lettered with the reason', async () => {
    const queues = workQueue('a');
    const deliveries: number[] = [];
    queues.consume('jobs.poison', { batchSize: 1, lingerMs: 0 }, (batch) => {
      deliveries.push(...batch.map((item) => item.deliveryCount));
      return Promise.reject(new Error('always fails'));
    });
    const letters = deadLetters(queues);
    await queues.start();
    await queues.publish('jobs.poison', 'poison-1', { poison: true });

    await waitFor(() => letters.length === 1, {
      description: 'the dead letter',
      timeoutMs: 20_000,
    });
    await sleep(500);
    expect(deliveries).toEqual(
      Array.from({ length: WORK_QUEUE_DELIVERY_LIMIT + 1 }, (_, i) => i + 1),
    );
    expect(letters[0]).toMatchObject({
      queue: 'jobs.poison',
      uniqueId: 'poison-1',
      body: '{"poison":true}',
      reason: 'delivery_limit',
      deliveryCount: WORK_QUEUE_DELIVERY_LIMIT + 1,
      signer: 'a', // a real item: signed, and the signature survives dead-lettering
    });
    const channel = await admin.createChannel();
    try {
      expect((await channel.checkQueue(queues.queueName('jobs.poison'))).messageCount).toBe(0);
    } finally {
      await channel.close();
    }
  });

  it('keeps a dead letter whose handler failed, and hands it again', async () => {
    const queues = workQueue('a');
    const attempts: string[] = [];
    queues.consumeDeadLetters((letter) => {
      attempts.push(letter.uniqueId);
      return attempts.length === 1 ? Promise.reject(new Error('store down')) : Promise.resolve();
    });
    await queues.start();
    // Straight into the dead-letter exchange: no x-death, reason unknown.
    await inject(queues.deadLetterQueueName, '', 'junk', 'dl-2');
    await waitFor(() => attempts.length >= 2, { description: 'the second attempt' });
    expect(attempts.filter((id) => id === 'dl-2').length).toBeGreaterThanOrEqual(2);
  });

  it('explains a work queue declared by an older version (PRECONDITION_FAILED)', async () => {
    const queues = workQueue('a');
    const channel = await admin.createChannel();
    channel.on('error', () => undefined);
    await channel.assertQueue(queues.queueName('jobs.old'), {
      durable: true,
      arguments: { 'x-queue-type': 'quorum' },
    });
    await channel.close();
    await queues.start();
    await expect(queues.publish('jobs.old', 'x', {})).rejects.toThrow(
      /exists with other arguments.*drain and delete it/s,
    );
  });

  describe('node RPC', () => {
    function rpcNode(nodeName: string) {
      const instanceId = randomUUID();
      const connection = new RabbitMqConnection({
        url: vhost.url,
        connectionName: `${cluster}/${nodeName}/${instanceId}`,
        onError: () => undefined,
      });
      const rpc = new RabbitMqNodeRpc({
        connection,
        prefix: PREFIX,
        clusterName: cluster,
        nodeName,
        instanceId,
        signer: new MessageSigner(SECRET, nodeName),
        onRejected,
        onError: () => undefined,
      });
      stoppers.push(async () => {
        await rpc.stop();
        await connection.close();
      });
      return rpc;
    }

    it('answers signed requests only, from the node they name as caller', async () => {
      const master = rpcNode('master');
      const slave = rpcNode('slave');
      const calls: unknown[] = [];
      master.handle('decide', (payload) => {
        calls.push(payload);
        return Promise.resolve({ decided: payload });
      });
      await master.start();
      await slave.start();
      const replyQueue = `${PREFIX}${cluster}.attacker-replies`;
      await raw.assertQueue(replyQueue, { exclusive: true });
      const replies: string[] = [];
      await raw.consume(replyQueue, (m) => m && replies.push(m.content.toString()), {
        noAck: true,
      });
      const request = (node: string, payload: unknown) =>
        JSON.stringify({ method: 'decide', caller: { node, instanceId: 'x' }, payload });
      const send = (body: string, correlationId: string, headers?: Record<string, string>) =>
        raw.publish('', master.queueName, Buffer.from(body), {
          type: 'request',
          correlationId,
          replyTo: replyQueue,
          ...(headers ? { headers } : {}),
        });

      send(request('slave', 'unsigned'), 'c-1');
      send(request('slave', 'forged-caller'), 'c-2', {
        ...headersOf(
          SECRET,
          'other',
          `request:c-2:${replyQueue}`,
          request('slave', 'forged-caller'),
        ),
      });
      send(request('slave', 'stranger'), 'c-3', {
        ...headersOf(
          STRANGER_SECRET,
          'slave',
          `request:c-3:${replyQueue}`,
          request('slave', 'stranger'),
        ),
      });
      // A signature over another reply queue: replaying a captured request elsewhere fails.
      send(request('slave', 'moved'), 'c-4', {
        ...headersOf(SECRET, 'slave', 'request:c-4:elsewhere', request('slave', 'moved')),
      });

      await expect(slave.request('master', 'decide', 'real')).resolves.toEqual({
        decided: 'real',
      });
      await sleep(300);
      expect(calls).toEqual(['real']);
      expect(replies).toEqual([]);
      expect(rejected.sort()).toEqual([
        'rpc/origin',
        'rpc/signature',
        'rpc/signature',
        'rpc/unsigned',
      ]);
    });

    it('ignores a forged reply and takes the real one', async () => {
      const master = rpcNode('master');
      const slave = rpcNode('slave');
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let correlationId = '';
      master.handle('slow', async () => {
        await gate;
        return 'real answer';
      });
      await master.start();
      await slave.start();
      const reply = slave.request('master', 'slow', null, { timeoutMs: 5000 });
      // The attacker knows the correlation id (the worst case: it could bind a queue and watch).
      const pending = (slave as unknown as { pending: Map<string, unknown> }).pending;
      await waitFor(() => pending.size === 1, { description: 'the pending request' });
      correlationId = [...pending.keys()][0] ?? '';
      const forgedBody = JSON.stringify({ ok: true, data: 'forged answer' });
      raw.publish('', slave.queueName, Buffer.from(forgedBody), { type: 'reply', correlationId });
      raw.publish('', slave.queueName, Buffer.from(forgedBody), {
        type: 'reply',
        correlationId,
        // Signed by a node, but not by the one that was asked.
        headers: headersOf(SECRET, 'slave', `reply:${correlationId}`, forgedBody),
      });
      await waitFor(() => rejected.length >= 2, { description: 'the forged replies dropped' });
      release();
      await expect(reply).resolves.toBe('real answer');
      expect(rejected.sort()).toEqual(['rpc/origin', 'rpc/unsigned']);
    });
  });
});
