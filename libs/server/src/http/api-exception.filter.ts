import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpException,
  Logger,
} from '@nestjs/common';
import { ThrottlerException } from '@nestjs/throttler';
import { type Response } from 'express';
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
  429: 'RATE_LIMITED',
};

/** Every HTTP error leaves as `{ "error": { "code", "message", "details"? } }`. */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger(ApiExceptionFilter.name);

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const { status, body } = this.map(exception);
    res.status(status).json({ error: body });
  }

  private map(exception: unknown): { status: number; body: ApiErrorBody } {
    const known = toApiError(exception);
    if (known) return { status: httpStatusOf(known.code), body: known };
    if (exception instanceof ThrottlerException) {
      return { status: 429, body: { code: 'RATE_LIMITED', message: 'too many requests' } };
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const code = CODE_BY_STATUS[status] ?? (status >= 500 ? 'INTERNAL' : 'VALIDATION_FAILED');
      return { status, body: { code, message: exception.message } };
    }
    this.logger.error({ err: exception }, 'unhandled error');
    return { status: 500, body: { code: 'INTERNAL', message: 'internal error' } };
  }
}
