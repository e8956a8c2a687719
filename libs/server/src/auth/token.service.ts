import { JwtService } from '@nestjs/jwt';
import { z } from 'zod';
import { type OperatorPrincipal, type Principal, type VisitorPrincipal } from './principal';

const claimsSchema = z.discriminatedUnion('role', [
  z.object({ role: z.literal('operator'), sub: z.string(), sid: z.string() }),
  z.object({ role: z.literal('visitor'), sub: z.string(), sid: z.string(), cid: z.string() }),
]);

/** Issues and checks the bearer tokens of operators and visitors (HS256 JWT). */
export class TokenService {
  constructor(
    private readonly jwt: JwtService,
    readonly ttlSeconds: number,
  ) {}

  issueOperator(p: Omit<OperatorPrincipal, 'role'>): string {
    return this.jwt.sign({ role: 'operator', sub: p.operatorId, sid: p.siteId });
  }

  issueVisitor(p: Omit<VisitorPrincipal, 'role'>): string {
    // A visitor keeps the token for the chat's life and the rating after it.
    return this.jwt.sign(
      { role: 'visitor', sub: p.visitorId, sid: p.siteId, cid: p.chatId },
      { expiresIn: Math.max(this.ttlSeconds, 7 * 24 * 3600) },
    );
  }

  /** The principal of a valid token, or null for a missing, malformed, forged or expired one. */
  verify(token: unknown): Principal | null {
    if (typeof token !== 'string' || token.length === 0 || token.length > 4096) return null;
    let payload: unknown;
    try {
      payload = this.jwt.verify(token);
    } catch {
      return null;
    }
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success) return null;
    const c = claims.data;
    return c.role === 'operator'
      ? { role: 'operator', operatorId: c.sub, siteId: c.sid }
      : { role: 'visitor', visitorId: c.sub, siteId: c.sid, chatId: c.cid };
  }
}
