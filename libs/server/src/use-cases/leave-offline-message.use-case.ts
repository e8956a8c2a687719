import { Injectable } from '@nestjs/common';
import { newId } from '@chat/domain';
import { ChatRuntime } from '../runtime/chat-runtime';
import { type OfflineMessageBody } from '../schemas/http.schemas';
import { ApiError } from './api-error';

/** When nobody is online a visitor leaves a message; it is stored for the site's operators. */
@Injectable()
export class LeaveOfflineMessageUseCase {
  constructor(private readonly runtime: ChatRuntime) {}

  async execute(body: OfflineMessageBody): Promise<{ id: string }> {
    const state = this.runtime.state;
    if (!state.sites.has(body.siteId)) throw new ApiError('SITE_NOT_FOUND', 'no such site');
    const departmentId = body.departmentId ?? null;
    if (
      departmentId !== null &&
      state.departments.get(departmentId)?.value.siteId !== body.siteId
    ) {
      throw new ApiError('DEPARTMENT_NOT_FOUND', 'no such department on this site');
    }
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
