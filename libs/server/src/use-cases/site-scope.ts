import { type ChatState } from '@chat/domain';
import { ApiError } from './api-error';

/** A visitor request names a site and maybe one of its departments: both must exist, together. */
export function requireSiteAndDepartment(
  state: ChatState,
  siteId: string,
  departmentId: string | null,
): void {
  if (!state.sites.has(siteId)) throw new ApiError('SITE_NOT_FOUND', 'no such site');
  if (departmentId !== null && state.departments.get(departmentId)?.value.siteId !== siteId) {
    throw new ApiError('DEPARTMENT_NOT_FOUND', 'no such department on this site');
  }
}
