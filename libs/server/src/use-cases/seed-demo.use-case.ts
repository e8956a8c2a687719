import { Injectable, Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { ChatRuntime } from '../runtime/chat-runtime';
import { AdminUseCase } from './admin.use-case';

export interface DemoSeed {
  siteId: string;
  departmentId: string;
  operators: { email: string; password: string }[];
}

/** First run: an empty database gets a demo site with two operators, credentials printed once. */
@Injectable()
export class SeedDemoUseCase {
  private readonly logger = new Logger(SeedDemoUseCase.name);

  constructor(
    private readonly runtime: ChatRuntime,
    private readonly admin: AdminUseCase,
  ) {}

  async seedIfEmpty(): Promise<DemoSeed | null> {
    if (this.runtime.state.sites.size > 0) return null;
    const site = await this.admin.createSite('Demo site');
    const department = await this.admin.createDepartment(site.id, 'Support');
    const operators = [
      { name: 'Alice Operator', email: 'alice@demo.local' },
      { name: 'Bob Operator', email: 'bob@demo.local' },
    ].map((o) => ({ ...o, password: randomBytes(9).toString('base64url') }));
    for (const o of operators) {
      await this.admin.createOperator(site.id, {
        name: o.name,
        email: o.email,
        password: o.password,
        departmentIds: [department.id],
        maxChats: 3,
      });
    }
    this.logger.log({ siteId: site.id }, 'seeded a demo site');
    return {
      siteId: site.id,
      departmentId: department.id,
      operators: operators.map(({ email, password }) => ({ email, password })),
    };
  }
}
