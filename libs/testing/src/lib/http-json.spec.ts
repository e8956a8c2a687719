import { createServer as createHttpServer, type Server } from 'node:http';
import { freePort } from './free-port';
import { httpJson } from './http-json';

describe(`${httpJson.name}`, () => {
  let server: Server;
  let base: string;

  beforeAll(async () => {
    server = createHttpServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        if (req.url === '/text') {
          res.writeHead(503, { 'content-type': 'text/plain' });
          res.end('down for maintenance');
          return;
        }
        if (req.url === '/empty') {
          res.writeHead(204);
          res.end();
          return;
        }
        res.writeHead(req.url === '/missing' ? 404 : 201, {
          'content-type': 'application/json',
          'x-trace': 'abc',
        });
        res.end(
          JSON.stringify({
            method: req.method,
            contentType: req.headers['content-type'] ?? null,
            auth: req.headers.authorization ?? null,
            body: body === '' ? null : (JSON.parse(body) as unknown),
          }),
        );
      });
    });
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('sends the body and headers as JSON and parses the JSON answer', async () => {
    const sut = await httpJson(
      'post',
      `${base}/echo`,
      { text: 'hi' },
      { authorization: 'Bearer t' },
    );

    expect(sut.status).toBe(201);
    expect(sut.body).toEqual({
      method: 'POST',
      contentType: 'application/json',
      auth: 'Bearer t',
      body: { text: 'hi' },
    });
    expect(sut.headers['x-trace']).toBe('abc');
  });

  it('does not throw on error statuses', async () => {
    const sut = await httpJson('GET', `${base}/missing`);

    expect(sut.status).toBe(404);
    expect(sut.body).toMatchObject({ method: 'GET', contentType: null, body: null });
  });

  it('returns a non-JSON body as text and an empty body as undefined', async () => {
    const text = await httpJson('GET', `${base}/text`);
    const empty = await httpJson('DELETE', `${base}/empty`);

    expect(text).toMatchObject({ status: 503, body: 'down for maintenance' });
    expect(empty).toMatchObject({ status: 204, body: undefined });
  });
});
