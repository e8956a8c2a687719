import { type CanActivate, type ExecutionContext, Injectable, Inject } from '@nestjs/common';
import { timingSafeEqual } from 'node:crypto';
import { type Request } from 'express';
import { type OperatorPrincipal } from '../auth/principal';
import { TokenService } from '../auth/token.service';
import { ApiError } from '../use-cases/api-error';

export const ADMIN_API_KEY = Symbol('ADMIN_API_KEY');

export type RequestWithOperator = Request & { operator: OperatorPrincipal };

export function bearerToken(header: string | undefined): string | null {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return match?.[1] ?? null;
}

@Injectable()
export class OperatorAuthGuard implements CanActivate {
  constructor(private readonly tokens: TokenService) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<RequestWithOperator>();
    const principal = this.tokens.verify(bearerToken(req.headers.authorization));
    if (principal?.role !== 'operator') {
      throw new ApiError('UNAUTHORIZED', 'an operator bearer token is required');
    }
    req.operator = principal;
    return true;
  }
}

@Injectable()
export class AdminKeyGuard implements CanActivate {
  private readonly expected: Buffer;

  constructor(@Inject(ADMIN_API_KEY) adminApiKey: string) {
    this.expected = Buffer.from(adminApiKey);
  }

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<Request>();
    const given = Buffer.from(String(req.headers['x-admin-key'] ?? ''));
    if (given.length !== this.expected.length || !timingSafeEqual(given, this.expected)) {
      throw new ApiError('UNAUTHORIZED', 'a valid X-Admin-Key header is required');
    }
    return true;
  }
}
