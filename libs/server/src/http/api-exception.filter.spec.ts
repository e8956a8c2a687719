import { type ArgumentsHost, BadRequestException, NotFoundException } from '@nestjs/common';
import express, { type NextFunction, type Request, type Response } from 'express';
import { type AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { Metrics } from '../metrics/metrics';
import { RefusedInputError } from '../schemas/input-guard';
import { ApiError } from '../use-cases/api-error';
import { ApiExceptionFilter, bodyParserError } from './api-exception.filter';

interface Answer {
  status: number;
  body: unknown;
}

function answerOf(filter: ApiExceptionFilter, exception: unknown): Answer {
  const answer: Answer = { status: 0, body: undefined };
  const res = {
    status(code: number) {
      answer.status = code;
      return res;
    },
    json(body: unknown) {
      answer.body = body;
      return res;
    },
  };
  const host = { switchToHttp: () => ({ getResponse: () => res }) } as unknown as ArgumentsHost;
  filter.catch(exception, host);
  return answer;
}

/**
 * The real errors of `express.json()`, as the node's body parser raises them: a tiny express app
 * with the same parser hands each error it gets to the test.
 */
describe('body-parser errors', () => {
  let server: ReturnType<ReturnType<typeof express>['listen']>;
  let url: string;
  let caught: unknown;

  beforeAll(async () => {
    const app = express();
    app.use(express.json({ limit: 100 }));
    app.post('/', (_req, res) => {
      caught = undefined;
      res.status(204).end();
    });
    app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
      caught = err;
      res.status(599).end();
    });
    await new Promise<void>((resolve) => {
      server = app.listen(0, '127.0.0.1', () => resolve());
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  async function errorFor(
    headers: Record<string, string>,
    body: string | Buffer,
  ): Promise<unknown> {
    caught = undefined;
    const res = await fetch(url, { method: 'POST', headers, body });
    expect(res.status).toBe(599);
    return caught;
  }

  const filter = new ApiExceptionFilter();
  const json = { 'content-type': 'application/json' };

  it('maps an unknown Content-Encoding to 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const error = await errorFor({ ...json, 'content-encoding': 'x-unknown' }, '{}');
    expect(error).toMatchObject({ type: 'encoding.unsupported' });
    expect(answerOf(filter, error)).toEqual({
      status: 415,
      body: {
        error: {
          code: 'UNSUPPORTED_MEDIA_TYPE',
          message: 'unsupported Content-Encoding: send identity, gzip, deflate or br',
        },
      },
    });
  });

  it('maps a charset other than UTF-8 to 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const error = await errorFor({ 'content-type': 'application/json; charset=latin1' }, '{}');
    expect(error).toMatchObject({ type: 'charset.unsupported' });
    expect(answerOf(filter, error)).toEqual({
      status: 415,
      body: {
        error: { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'unsupported charset: send UTF-8 JSON' },
      },
    });
  });

  it('maps malformed JSON to 400 and an oversized body to 413', async () => {
    const malformed = await errorFor(json, '{"email": ');
    expect(answerOf(filter, malformed)).toEqual({
      status: 400,
      body: { error: { code: 'VALIDATION_FAILED', message: 'malformed JSON body' } },
    });
    const large = await errorFor(json, JSON.stringify({ text: 'x'.repeat(200) }));
    expect(answerOf(filter, large)).toEqual({
      status: 413,
      body: { error: { code: 'PAYLOAD_TOO_LARGE', message: 'request body too large' } },
    });
  });

  it('maps a corrupt gzip body to 400 VALIDATION_FAILED', async () => {
    const corrupt = Buffer.concat([gzipSync('{}').subarray(0, 10), Buffer.from('garbage')]);
    const error = await errorFor({ ...json, 'content-encoding': 'gzip' }, corrupt);
    expect(answerOf(filter, error)).toEqual({
      status: 400,
      body: { error: { code: 'VALIDATION_FAILED', message: 'malformed request body' } },
    });
  });

  it('leaves a text/plain body unparsed (the schema then refuses the missing body)', async () => {
    caught = 'untouched';
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: '{"a":1}',
    });
    expect(res.status).toBe(204);
    expect(caught).toBeUndefined();
  });
});

describe(`${ApiExceptionFilter.name}`, () => {
  it('answers API errors with their status and counts input-guard refusals', async () => {
    const metrics = new Metrics('test');
    const filter = new ApiExceptionFilter(metrics);
    expect(
      answerOf(filter, new RefusedInputError('name', 'must not contain U+0000 (NUL)')),
    ).toEqual({
      status: 400,
      body: {
        error: {
          code: 'VALIDATION_FAILED',
          message: 'name: must not contain U+0000 (NUL)',
          details: [{ path: 'name', message: 'must not contain U+0000 (NUL)' }],
        },
      },
    });
    expect(answerOf(filter, new ApiError('VALIDATION_FAILED', 'name: too short'))).toMatchObject({
      status: 400,
    });
    expect(answerOf(filter, new ApiError('UNSUPPORTED_MEDIA_TYPE', 'no'))).toMatchObject({
      status: 415,
    });
    const counted = (await metrics.registry.getSingleMetric('chat_input_rejected_total')?.get())
      ?.values;
    expect(counted).toEqual([expect.objectContaining({ labels: { channel: 'http' }, value: 1 })]);
  });

  it('maps Nest exceptions by status and hides anything else behind 500 INTERNAL', () => {
    const filter = new ApiExceptionFilter();
    expect(answerOf(filter, new BadRequestException('bad'))).toEqual({
      status: 400,
      body: { error: { code: 'VALIDATION_FAILED', message: 'bad' } },
    });
    expect(answerOf(filter, new NotFoundException('Cannot GET /x'))).toMatchObject({
      status: 404,
      body: { error: { code: 'NOT_FOUND' } },
    });
    expect(answerOf(filter, new Error('secret'))).toEqual({
      status: 500,
      body: { error: { code: 'INTERNAL', message: 'internal error' } },
    });
    expect(bodyParserError(new BadRequestException('bad'))).toBeNull();
    expect(bodyParserError(new Error('x'))).toBeNull();
  });
});
