import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpException,
  Logger,
} from '@nestjs/common';
import { type Response } from 'express';
import { type Metrics } from '../metrics/metrics';
import { RefusedInputError } from '../schemas/input-guard';
import {
  type ApiErrorBody,
  type ApiErrorCode,
  httpStatusOf,
  toApiError,
} from '../use-cases/api-error';

const CODE_BY_STATUS: Record<number, ApiErrorCode> = {
  400: 'VALIDATION_FAILED',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
};

type Mapped = { status: number; body: ApiErrorBody };

/** The errors of `express.json()` (body-parser and raw-body), by their `type`. */
const BODY_ERRORS: Record<string, Mapped> = {
  'encoding.unsupported': {
    status: 415,
    body: {
      code: 'UNSUPPORTED_MEDIA_TYPE',
      message: 'unsupported Content-Encoding: send identity, gzip, deflate or br',
    },
  },
  'charset.unsupported': {
    status: 415,
    body: { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'unsupported charset: send UTF-8 JSON' },
  },
  'entity.parse.failed': {
    status: 400,
    body: { code: 'VALIDATION_FAILED', message: 'malformed JSON body' },
  },
  'entity.too.large': {
    status: 413,
    body: { code: 'PAYLOAD_TOO_LARGE', message: 'request body too large' },
  },
  'request.size.invalid': {
    status: 400,
    body: { code: 'VALIDATION_FAILED', message: 'request body does not match Content-Length' },
  },
  'request.aborted': {
    status: 400,
    body: { code: 'VALIDATION_FAILED', message: 'request aborted' },
  },
};

/**
 * Maps a body-parser failure (it carries `type`, and `status`/`statusCode` with `expose`) to the
 * documented error; null for anything else. A 4xx without a known type (a corrupt gzip body) is
 * answered by its status. Used by the filter and by the body-error middleware in `bootstrap.ts`,
 * which must answer before Nest turns a JSON SyntaxError into a plain BadRequestException.
 */
export function bodyParserError(exception: unknown): Mapped | null {
  if (typeof exception !== 'object' || exception === null || exception instanceof HttpException) {
    return null;
  }
  const e = exception as {
    type?: unknown;
    status?: unknown;
    statusCode?: unknown;
    expose?: unknown;
    message?: unknown;
  };
  if (typeof e.type === 'string' && Object.hasOwn(BODY_ERRORS, e.type)) {
    return BODY_ERRORS[e.type] ?? null;
  }
  const status = typeof e.status === 'number' ? e.status : e.statusCode;
  if (typeof status !== 'number' || status < 400 || status >= 500 || e.expose !== true) return null;
  const code = CODE_BY_STATUS[status] ?? 'VALIDATION_FAILED';
  return {
    status: httpStatusOf(code),
    body: {
      code,
      message:
        status === 400 || typeof e.message !== 'string' ? 'malformed request body' : e.message,
    },
  };
}

/** Every HTTP error leaves as `{ "error": { "code", "message", "details"? } }`. */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger(ApiExceptionFilter.name);

  /** `metrics` counts the payloads the input guard refused (`chat_input_rejected_total`). */
  constructor(private readonly metrics?: Metrics) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const { status, body } = this.map(exception);
    res.status(status).json({ error: body });
  }

  private map(exception: unknown): Mapped {
    if (exception instanceof RefusedInputError) {
      this.metrics?.inputRejected.inc({ channel: 'http' });
    }
    const known = toApiError(exception);
    if (known) return { status: httpStatusOf(known.code), body: known };
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const code = CODE_BY_STATUS[status] ?? (status >= 500 ? 'INTERNAL' : 'VALIDATION_FAILED');
      return { status, body: { code, message: exception.message } };
    }
    const body = bodyParserError(exception);
    if (body) return body;
    this.logger.error({ err: exception }, 'unhandled error');
    return { status: 500, body: { code: 'INTERNAL', message: 'internal error' } };
  }
}
