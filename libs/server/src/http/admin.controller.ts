import {
  Body,
  Controller,
  Get,
  HttpCode,
  Param,
  Patch,
  Post,
  Query,
  UseGuards,
} from '@nestjs/common';
import {
  DEAD_LETTER_STATUSES,
  type OfflineMessage,
  TypeOrmOfflineMessages,
} from '@chat/persistence';
import { z } from 'zod';
import { type Department, type OperatorView, type Site } from '@chat/domain';
import { id } from '../schemas/common';
import {
  createDepartmentBody,
  createOperatorBody,
  createSiteBody,
  updateOperatorBody,
} from '../schemas/http.schemas';
import { AdminUseCase } from '../use-cases/admin.use-case';
import { type DeadLetterView, DeadLettersUseCase } from '../use-cases/dead-letters.use-case';
import { AdminKeyGuard } from './guards';
import { parseInput } from './parse';

const deadLetterQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  before: id.optional(),
  status: z.enum(DEAD_LETTER_STATUSES).optional(),
});

@Controller('l/admin')
@UseGuards(AdminKeyGuard)
export class AdminController {
  constructor(
    private readonly admin: AdminUseCase,
    private readonly offlineMessages: TypeOrmOfflineMessages,
    private readonly deadLetters: DeadLettersUseCase,
  ) {}

  @Get('sites')
  sites(): Site[] {
    return this.admin.listSites();
  }

  @Post('sites')
  @HttpCode(201)
  createSite(@Body() body: unknown): Promise<Site> {
    return this.admin.createSite(parseInput(createSiteBody, body).name);
  }

  @Get('sites/:siteId/departments')
  departments(@Param('siteId') siteId: string): Department[] {
    return this.admin.listDepartments(parseInput(id, siteId));
  }

  @Post('sites/:siteId/departments')
  @HttpCode(201)
  createDepartment(@Param('siteId') siteId: string, @Body() body: unknown): Promise<Department> {
    return this.admin.createDepartment(
      parseInput(id, siteId),
      parseInput(createDepartmentBody, body).name,
    );
  }

  @Get('sites/:siteId/operators')
  operators(@Param('siteId') siteId: string): OperatorView[] {
    return this.admin.listOperators(parseInput(id, siteId));
  }

  @Post('sites/:siteId/operators')
  @HttpCode(201)
  createOperator(@Param('siteId') siteId: string, @Body() body: unknown): Promise<OperatorView> {
    return this.admin.createOperator(parseInput(id, siteId), parseInput(createOperatorBody, body));
  }

  @Patch('operators/:operatorId')
  updateOperator(
    @Param('operatorId') operatorId: string,
    @Body() body: unknown,
  ): Promise<OperatorView> {
    return this.admin.updateOperator(
      parseInput(id, operatorId),
      parseInput(updateOperatorBody, body),
    );
  }

  /** Messages visitors left while nobody was online, newest first (read from the database). */
  @Get('sites/:siteId/offline-messages')
  async offline(
    @Param('siteId') siteId: string,
    @Query('limit') limit?: string,
  ): Promise<OfflineMessage[]> {
    const site = parseInput(id, siteId);
    this.admin.listDepartments(site); // answers SITE_NOT_FOUND for an unknown site
    const max = parseInput(z.coerce.number().int().min(1).max(500).default(50), limit);
    return this.offlineMessages.listBySite(site, { limit: max });
  }

  /** Events the journal could not write, newest first; `before` is the previous `nextCursor`. */
  @Get('dead-letters')
  deadLetterList(
    @Query() query: unknown,
  ): Promise<{ items: DeadLetterView[]; nextCursor: string | null }> {
    return this.deadLetters.list(parseInput(deadLetterQuery, query));
  }

  /** Writes a dead letter's event through the journal again (after the cause was fixed). */
  @Post('dead-letters/:id/retry')
  @HttpCode(200)
  retryDeadLetter(@Param('id') deadLetterId: string): Promise<DeadLetterView> {
    return this.deadLetters.retry(parseInput(id, deadLetterId));
  }
}
