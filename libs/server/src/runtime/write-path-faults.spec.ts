import { Logger } from '@nestjs/common';
import { type DomainEvent } from '@chat/domain';
import { StatePublisher } from './state-publisher';
import { FaultPointStatePublisher } from './write-path-faults';

class RecordingPublisher extends StatePublisher {
  readonly published: string[] = [];
  publish(event: DomainEvent): Promise<void> {
    this.published.push(event.id);
    return Promise.resolve();
  }
}

const message = (id: string, text: string) =>
  ({ id, type: 'chat.message.added', data: { text } }) as unknown as DomainEvent;
const settledWithin = (promise: Promise<void>, ms = 30): Promise<boolean> =>
  Promise.race([
    promise.then(() => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), ms)),
  ]);

describe(`${FaultPointStatePublisher.name}`, () => {
  beforeEach(() => jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined));
  afterEach(() => jest.restoreAllMocks());

  it('passes every other event through untouched', async () => {
    const inner = new RecordingPublisher();
    const sut = new FaultPointStatePublisher(inner, 'hold-before-publish', '#fp');
    await expect(settledWithin(sut.publish(message('a', 'hello')))).resolves.toBe(true);
    expect(inner.published).toEqual(['a']);
  });

  it('hold-before-publish: never publishes the armed message, never confirms it', async () => {
    const inner = new RecordingPublisher();
    const sut = new FaultPointStatePublisher(inner, 'hold-before-publish', '#fp');
    await expect(settledWithin(sut.publish(message('b', 'x #fp')))).resolves.toBe(false);
    expect(inner.published).toEqual([]);
  });

  it('hold-before-ack: publishes it, never confirms it', async () => {
    const inner = new RecordingPublisher();
    const sut = new FaultPointStatePublisher(inner, 'hold-before-ack', '#fp');
    await expect(settledWithin(sut.publish(message('c', 'x #fp')))).resolves.toBe(false);
    expect(inner.published).toEqual(['c']);
  });

  it('kill-after-publish: publishes it, then SIGKILLs the process', async () => {
    const inner = new RecordingPublisher();
    const kill = jest.spyOn(process, 'kill').mockImplementation(() => true);
    const sut = new FaultPointStatePublisher(inner, 'kill-after-publish', '#fp');
    await expect(settledWithin(sut.publish(message('d', 'x #fp')))).resolves.toBe(false);
    expect(inner.published).toEqual(['d']);
    expect(kill).toHaveBeenCalledWith(process.pid, 'SIGKILL');
  });
});
