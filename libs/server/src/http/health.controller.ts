import { Controller, Get, HttpCode, Res } from '@nestjs/common';
import { type Response } from 'express';
import { NodeHealth } from '../runtime/node-health';

@Controller()
export class HealthController {
  constructor(private readonly health: NodeHealth) {}

  /** Liveness: the process answers. */
  @Get('healthz')
  @HttpCode(200)
  healthz(): { status: 'ok'; node: string } {
    return { status: 'ok', node: this.health.nodeName };
  }

  /** Readiness: state loaded and every dependency this node needs to serve is reachable. */
  @Get('readyz')
  readyz(@Res({ passthrough: true }) res: Response): {
    ready: boolean;
    checks: Record<string, boolean>;
  } {
    const checks = this.health.checks();
    const ready = Object.values(checks).every(Boolean);
    res.status(ready ? 200 : 503);
    return { ready, checks };
  }
}
