import { DomainError, type DomainErrorCode } from '@chat/domain';
import { RabbitMqNotConnectedError } from '@chat/messaging';

/** Codes the edges add to the domain's: every error reply carries one of these. */
export type ApiErrorCode =
  | DomainErrorCode
  | 'VALIDATION_FAILED'
  | 'UNAUTHORIZED'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'NOT_FOUND'
  | 'RATE_LIMITED'
  | 'UNKNOWN_EVENT'
  | 'UNAVAILABLE'
  | 'DEAD_LETTER_NOT_FOUND'
  | 'REPLAY_FAILED'
  | 'INTERNAL';

export interface ApiErrorBody {
  code: ApiErrorCode;
  message: string;
  details?: unknown;
}

export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const HTTP_STATUS: Partial<Record<ApiErrorCode, number>> = {
  VALIDATION_FAILED: 400,
  UNKNOWN_EVENT: 400,
  INVALID_TRANSFER: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_CHAT_OPERATOR: 403,
  NOT_FOUND: 404,
  SITE_NOT_FOUND: 404,
  DEPARTMENT_NOT_FOUND: 404,
  OPERATOR_NOT_FOUND: 404,
  CHAT_NOT_FOUND: 404,
  DEAD_LETTER_NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  REPLAY_FAILED: 422,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
};

export function httpStatusOf(code: ApiErrorCode): number {
  return HTTP_STATUS[code] ?? 409;
}

/** Maps anything thrown by a use case to the error body clients receive; null = a bug. */
export function toApiError(error: unknown): ApiErrorBody | null {
  if (error instanceof ApiError) {
    return error.details === undefined
      ? { code: error.code, message: error.message }
      : { code: error.code, message: error.message, details: error.details };
  }
  if (error instanceof DomainError) return { code: error.code, message: error.message };
  // The broker is unreachable right now (restart, cut-off): nothing was accepted, try again.
  if (error instanceof RabbitMqNotConnectedError) {
    return { code: 'UNAVAILABLE', message: 'the message broker is unreachable; try again' };
  }
  return null;
}
