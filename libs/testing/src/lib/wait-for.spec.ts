import { waitFor } from './wait-for';

describe(`${waitFor.name}`, () => {
  it('returns the first truthy result, retrying through falsy results and errors', async () => {
    let calls = 0;
    const sut = await waitFor(
      () => {
        calls += 1;
        if (calls === 1) {
          throw new Error('not yet');
        }
        return calls >= 3 ? { calls } : null;
      },
      { intervalMs: 1 },
    );

    expect(sut).toEqual({ calls: 3 });
  });

  it('times out naming the description and the last error', async () => {
    await expect(
      waitFor(
        () => {
          throw new Error('connection refused');
        },
        { timeoutMs: 50, intervalMs: 5, description: 'the slave to answer' },
      ),
    ).rejects.toThrow(
      /^Timed out after 50 ms waiting for the slave to answer \(\d+ attempts\); last error: connection refused$/,
    );
  });

  it('times out naming the last falsy result', async () => {
    await expect(
      waitFor(() => Promise.resolve(0), { timeoutMs: 30, intervalMs: 5, description: 'a count' }),
    ).rejects.toThrow(/waiting for a count .*last result: 0$/);
  });

  it('times out when the probe never settles', async () => {
    await expect(
      waitFor(() => new Promise<boolean>(() => undefined), { timeoutMs: 30, description: 'x' }),
    ).rejects.toThrow(/waiting for x .*did not settle/);
  });
});
