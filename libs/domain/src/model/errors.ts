/** Error codes the domain reports; edges map them to HTTP statuses and socket error replies. */
export const DOMAIN_ERROR_CODES = [
  'SITE_NOT_FOUND',
  'DEPARTMENT_NOT_FOUND',
  'OPERATOR_NOT_FOUND',
  'CHAT_NOT_FOUND',
  'CHAT_NOT_WAITING',
  'CHAT_CLOSED',
  'CHAT_NOT_CLOSED',
  'NOT_CHAT_OPERATOR',
  'OPERATOR_AT_CAPACITY',
  'OPERATOR_UNAVAILABLE',
  'OPERATOR_DISABLED',
  'ALREADY_RATED',
  'NO_OPERATORS_ONLINE',
  'EMAIL_TAKEN',
  'FORBIDDEN',
  /** a transfer must name exactly one target: an operator or a department */
  'INVALID_TRANSFER',
] as const;

export type DomainErrorCode = (typeof DOMAIN_ERROR_CODES)[number];

export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}
