import { requireService } from './require-service';

describe(`${requireService.name}`, () => {
  it('resolves when the check passes', async () => {
    const check = jest.fn(() => Promise.resolve());

    await requireService('postgres', check);

    expect(check).toHaveBeenCalledTimes(1);
  });

  it('fails loudly with the service name and the reason', async () => {
    await expect(
      requireService('rabbitmq', () =>
        Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5672')),
      ),
    ).rejects.toThrow(
      'rabbitmq is required for integration tests but unreachable: connect ECONNREFUSED 127.0.0.1:5672',
    );
  });

  it('fails when the check does not answer in time', async () => {
    await expect(
      requireService('postgres', () => new Promise<void>(() => undefined), 30),
    ).rejects.toThrow(
      'postgres is required for integration tests but unreachable: no answer within 30 ms',
    );
  });
});
