import {
  DomainError,
  EventFactory,
  HybridLogicalClock,
  UuidV7IdGenerator,
  type EventEnvelope,
} from '@chat/domain';
import { InProcessClusterBus, InProcessRpcHub, InProcessWorkQueue } from '@chat/messaging';
import { ChatRuntime } from '../runtime/chat-runtime';
import { ApiError } from '../use-cases/api-error';
import { DecisionRequester } from '../runtime/decisions';
import { DECISION_METHODS } from './decision-schemas';
import { type DecisionRoute, RemoteDecisionRequester } from './remote-decision-requester';
import { BusAndQueueStatePublisher } from '../runtime/state-publisher';

const CHAT = '01900000-0000-7000-8000-0000000000c1';
const SITE = '01900000-0000-7000-8000-0000000000s1'.replace('s', 'a');

function slaveRuntime(): ChatRuntime {
  const clock = new HybridLogicalClock('slave1');
  const bus = new InProcessClusterBus();
  return new ChatRuntime(
    'slave1',
    clock,
    new EventFactory('slave1', clock, new UuidV7IdGenerator()),
    bus,
    new BusAndQueueStatePublisher(bus, new InProcessWorkQueue()),
  );
}

function decision(): EventEnvelope<'chat.assigned'> {
  const clock = new HybridLogicalClock('master');
  return new EventFactory('master', clock, new UuidV7IdGenerator()).create('chat.assigned', {
    chatId: CHAT,
    siteId: SITE,
    operatorId: 'op-1',
    departmentId: null,
    epoch: 1,
    audit: { reason: 'manual', explanation: 'taken by hand', candidates: [], requestedBy: 'op-1' },
  });
}

class LocalDecider extends DecisionRequester {
  readonly calls: string[] = [];
  take(): Promise<EventEnvelope<'chat.assigned'>> {
    this.calls.push('take');
    return Promise.resolve(decision());
  }
  transfer(): Promise<EventEnvelope<'chat.assigned'>> {
    this.calls.push('transfer');
    return Promise.resolve(decision());
  }
}

describe(`${RemoteDecisionRequester.name}`, () => {
  const setup = async (overrides: Partial<DecisionRoute> = {}) => {
    const hub = new InProcessRpcHub();
    const master = hub.node('master');
    const slave = hub.node('slave1');
    const runtime = slaveRuntime();
    const local = new LocalDecider();
    const route: DecisionRoute = {
      actingMaster: () => 'master',
      local,
      isLocal: () => false,
      ...overrides,
    };
    const sut = new RemoteDecisionRequester(slave, runtime, route, 300);
    await slave.start();
    return { hub, master, slave, runtime, sut, local };
  };

  it('decides locally while this node leads, without asking anyone', async () => {
    const { sut, local } = await setup({ isLocal: () => true, actingMaster: () => 'slave1' });
    await expect(sut.take({ operatorId: 'op-1', chatId: CHAT })).resolves.toMatchObject({
      type: 'chat.assigned',
    });
    expect(local.calls).toEqual(['take']);
  });

  it('asks again, and the new master, when the first answer is "not the acting master"', async () => {
    let acting = 'master';
    const { hub, master, runtime, sut } = await setup({ actingMaster: () => acting });
    master.handle(DECISION_METHODS.take, () => {
      acting = 'slave2'; // the failover happened meanwhile
      throw new ApiError('UNAVAILABLE', 'master is not the acting master');
    });
    await master.start();
    const slave2 = hub.node('slave2');
    const event = decision();
    slave2.handle(DECISION_METHODS.take, () => event);
    await slave2.start();
    await expect(sut.take({ operatorId: 'op-1', chatId: CHAT })).resolves.toEqual(event);
    expect(runtime.state.chats.get(CHAT)?.assignment?.operatorId).toBe('op-1');
  });

  it('returns the master decision, already applied on this node', async () => {
    const { master, runtime, sut } = await setup();
    const event = decision();
    const received: unknown[] = [];
    master.handle(DECISION_METHODS.take, (payload) => {
      received.push(payload);
      return event;
    });
    await master.start();
    await expect(sut.take({ operatorId: 'op-1', chatId: CHAT })).resolves.toEqual(event);
    expect(received).toEqual([{ operatorId: 'op-1', chatId: CHAT }]);
    expect(runtime.state.chats.get(CHAT)?.assignment?.operatorId).toBe('op-1');
  });

  it("turns the master's domain refusal into the same domain error", async () => {
    const { master, sut } = await setup();
    master.handle(DECISION_METHODS.transfer, () => {
      throw new DomainError('OPERATOR_AT_CAPACITY', 'op-2 holds 3 of 3');
    });
    await master.start();
    const attempt = sut.transfer({ requestedBy: 'op-1', chatId: CHAT, toOperatorId: 'op-2' });
    await expect(attempt).rejects.toBeInstanceOf(DomainError);
    await expect(attempt).rejects.toMatchObject({
      code: 'OPERATOR_AT_CAPACITY',
      message: 'op-2 holds 3 of 3',
    });
  });

  it('answers UNAVAILABLE when the master is gone or silent, and changes nothing', async () => {
    const { master, runtime, sut } = await setup();
    await expect(sut.take({ operatorId: 'op-1', chatId: CHAT })).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    });
    master.handle(DECISION_METHODS.take, () => new Promise(() => undefined));
    await master.start();
    const silent = sut.take({ operatorId: 'op-1', chatId: CHAT });
    await expect(silent).rejects.toBeInstanceOf(ApiError);
    await expect(silent).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(runtime.state.chats.size).toBe(0);
  });
});
