import { Controller, Get, Res, UseGuards } from '@nestjs/common';
import { type Response } from 'express';
import { AdminKeyGuard } from '../http/guards';
import { Metrics } from './metrics';

/** Prometheus scrape endpoint; the admin key guards it like every other operator-of-the-node API. */
@Controller()
@UseGuards(AdminKeyGuard)
export class MetricsController {
  constructor(private readonly metrics: Metrics) {}

  @Get('metrics')
  async scrape(@Res() res: Response): Promise<void> {
    const { contentType, body } = await this.metrics.render();
    res.status(200).type(contentType).send(body);
  }
}
