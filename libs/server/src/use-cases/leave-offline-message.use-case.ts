import { Injectable } from '@nestjs/common';
import { newId } from '@chat/domain';
import { ChatRuntime } from '../runtime/chat-runtime';
import { type OfflineMessageBody } from '../schemas/http.schemas';
import { requireSiteAndDepartment } from './site-scope';

/** When nobody is online a visitor leaves a message; it is stored for the site's operators. */
@Injectable()
export class LeaveOfflineMessageUseCase {
  constructor(private readonly runtime: ChatRuntime) {}

  async execute(body: OfflineMessageBody): Promise<{ id: string }> {
    const state = this.runtime.state;
    const departmentId = body.departmentId ?? null;
    requireSiteAndDepartment(state, body.siteId, departmentId);
    const id = newId();
    await this.runtime.commit('offline.message.left', {
      id,
      siteId: body.siteId,
      departmentId,
      name: body.name,
      email: body.email,
      text: body.text,
    });
    return { id };
  }
}
