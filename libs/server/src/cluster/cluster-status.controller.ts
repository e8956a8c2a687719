import { Controller, Get, UseGuards } from '@nestjs/common';
import { AdminKeyGuard } from '../http/guards';
import { ClusterNode, type ClusterStatus } from './cluster-node';

/** `GET /l/cluster/status`: nodes, roles, load, replication lag and state digests (admin key). */
@Controller('l/cluster')
@UseGuards(AdminKeyGuard)
export class ClusterStatusController {
  constructor(private readonly cluster: ClusterNode) {}

  @Get('status')
  status(): Promise<ClusterStatus> {
    return this.cluster.status();
  }
}
