import { createServer } from 'node:net';
import { freePort } from './free-port';

describe(`${freePort.name}`, () => {
  it('returns a port that can be bound on 127.0.0.1', async () => {
    const port = await freePort();

    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    const address = server.address();
    await new Promise((resolve) => server.close(resolve));

    expect(port).toBeGreaterThan(0);
    expect(address).toMatchObject({ port });
  });
});
