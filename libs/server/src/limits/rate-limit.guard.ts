import {
  applyDecorators,
  type CanActivate,
  type ExecutionContext,
  Injectable,
  SetMetadata,
  UseGuards,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { type Request, type Response } from 'express';
import { ClientLimits, rateLimitedError } from './client-limits';
import { type HttpLimitName } from './rate-limits';

const RATE_LIMIT = 'chat:rate-limit';

/**
 * Counts the route on `limit` per client IP; over the budget it answers `429` with
 * `Retry-After` (seconds) and `{ "error": { "code": "RATE_LIMITED", "message", "details" } }`,
 * before the body is validated or the use case runs.
 */
export const RateLimit = (limit: HttpLimitName): MethodDecorator & ClassDecorator =>
  applyDecorators(SetMetadata(RATE_LIMIT, limit), UseGuards(RateLimitGuard));

@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(
    private readonly limits: ClientLimits,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const limit = this.reflector.getAllAndOverride<HttpLimitName | undefined>(RATE_LIMIT, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (!limit) return true;
    const http = context.switchToHttp();
    const refusal = await this.limits.consume(
      limit,
      this.limits.clientKey(http.getRequest<Request>()),
    );
    if (!refusal) return true;
    const seconds = Math.max(1, Math.ceil((refusal.retryAfterMs ?? 1000) / 1000));
    http.getResponse<Response>().setHeader('Retry-After', String(seconds));
    throw rateLimitedError(refusal);
  }
}
