import { Controller, Get, HttpCode, Res } from '@nestjs/common';
import { type Response } from 'express';
import { NodeHealth } from '../runtime/node-health';
import { type PersistenceProgress } from '../runtime/persistence-worker';

@Controller()
export class HealthController {
  constructor(private readonly health: NodeHealth) {}

  /** Liveness: the process answers. */
  @Get('healthz')
  @HttpCode(200)
  healthz(): { status: 'ok'; node: string } {
    return { status: 'ok', node: this.health.nodeName };
  }

  /**
   * Readiness: state loaded, every dependency this node needs to serve is reachable, and the
   * journal writer is not stalled (`persistence` says how long work has waited, and how much).
   */
  @Get('readyz')
  readyz(@Res({ passthrough: true }) res: Response): {
    ready: boolean;
    checks: Record<string, boolean>;
    persistence?: PersistenceProgress;
  } {
    const { checks, persistence } = this.health.readiness();
    const ready = Object.values(checks).every(Boolean);
    res.status(ready ? 200 : 503);
    return persistence === undefined ? { ready, checks } : { ready, checks, persistence };
  }
}
