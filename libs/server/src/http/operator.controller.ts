import { Body, Controller, Get, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import { operatorSnapshot, type OperatorSnapshot, type OperatorView } from '@chat/domain';
import { RateLimit } from '../limits/rate-limit.guard';
import { ChatRuntime } from '../runtime/chat-runtime';
import { loginBody, setStatusBody } from '../schemas/http.schemas';
import { ApiError } from '../use-cases/api-error';
import { OperatorAuthUseCase } from '../use-cases/operator-auth.use-case';
import { OperatorAuthGuard, type RequestWithOperator } from './guards';
import { parseInput } from './parse';

@Controller('l/o')
export class OperatorController {
  constructor(
    private readonly auth: OperatorAuthUseCase,
    private readonly runtime: ChatRuntime,
  ) {}

  @Post('login')
  @HttpCode(200)
  @RateLimit('logins')
  login(@Body() body: unknown): Promise<{ token: string; operator: OperatorView }> {
    const { email, password } = parseInput(loginBody, body);
    return this.auth.login(email, password);
  }

  @Post('set-status')
  @HttpCode(200)
  @UseGuards(OperatorAuthGuard)
  async setStatus(
    @Req() req: RequestWithOperator,
    @Body() body: unknown,
  ): Promise<{ operator: OperatorView }> {
    const { status } = parseInput(setStatusBody, body);
    return { operator: await this.auth.setStatus(req.operator, status) };
  }

  /** The same full update the delta socket sends on connect. */
  @Get('me')
  @UseGuards(OperatorAuthGuard)
  me(@Req() req: RequestWithOperator): OperatorSnapshot {
    const snapshot = operatorSnapshot(this.runtime.state, req.operator.operatorId);
    if (!snapshot) throw new ApiError('UNAUTHORIZED', 'operator no longer exists');
    return snapshot;
  }
}
