import { Injectable } from '@nestjs/common';
import {
  newId,
  operatorSnapshot,
  type Department,
  type OperatorProfile,
  type OperatorView,
  type Site,
} from '@chat/domain';
import { PasswordHasher } from '../auth/password-hasher';
import { ChatRuntime } from '../runtime/chat-runtime';
import { type CreateOperatorBody, type UpdateOperatorBody } from '../schemas/http.schemas';
import { ApiError } from './api-error';

/** Sites, departments and operators, managed with the admin key. */
@Injectable()
export class AdminUseCase {
  constructor(
    private readonly runtime: ChatRuntime,
    private readonly hasher: PasswordHasher,
  ) {}

  listSites(): Site[] {
    return [...this.runtime.state.sites.values()].map((s) => s.value);
  }

  async createSite(name: string): Promise<Site> {
    const site: Site = { id: newId(), name };
    await this.runtime.commit('site.upserted', { site });
    return site;
  }

  listDepartments(siteId: string): Department[] {
    this.requireSite(siteId);
    return [...this.runtime.state.departments.values()]
      .map((d) => d.value)
      .filter((d) => d.siteId === siteId);
  }

  async createDepartment(siteId: string, name: string): Promise<Department> {
    this.requireSite(siteId);
    const department: Department = { id: newId(), siteId, name };
    await this.runtime.commit('department.upserted', { department });
    return department;
  }

  listOperators(siteId: string): OperatorView[] {
    this.requireSite(siteId);
    return [...this.runtime.state.operators.values()]
      .filter((o) => o.profile?.value.siteId === siteId)
      .map((o) => this.view(o.id));
  }

  async createOperator(siteId: string, body: CreateOperatorBody): Promise<OperatorView> {
    this.requireSite(siteId);
    this.requireDepartments(siteId, body.departmentIds);
    this.requireFreeEmail(body.email, null);
    const operator: OperatorProfile = {
      id: newId(),
      siteId,
      name: body.name,
      email: body.email.toLowerCase(),
      passwordHash: await this.hasher.hash(body.password),
      departmentIds: [...new Set(body.departmentIds)],
      maxChats: body.maxChats,
      disabled: false,
    };
    await this.runtime.commit('operator.upserted', { operator });
    return this.view(operator.id);
  }

  async updateOperator(operatorId: string, body: UpdateOperatorBody): Promise<OperatorView> {
    const current = this.runtime.state.operators.get(operatorId)?.profile?.value;
    if (!current) throw new ApiError('OPERATOR_NOT_FOUND', 'no such operator');
    if (body.departmentIds) this.requireDepartments(current.siteId, body.departmentIds);
    const operator: OperatorProfile = {
      ...current,
      name: body.name ?? current.name,
      departmentIds: body.departmentIds ? [...new Set(body.departmentIds)] : current.departmentIds,
      maxChats: body.maxChats ?? current.maxChats,
      disabled: body.disabled ?? current.disabled,
      passwordHash:
        body.password !== undefined ? await this.hasher.hash(body.password) : current.passwordHash,
    };
    await this.runtime.commit('operator.upserted', { operator });
    return this.view(operatorId);
  }

  private view(operatorId: string): OperatorView {
    const me = operatorSnapshot(this.runtime.state, operatorId)?.me;
    if (!me) throw new ApiError('OPERATOR_NOT_FOUND', 'no such operator');
    return me;
  }

  private requireSite(siteId: string): void {
    if (!this.runtime.state.sites.has(siteId)) throw new ApiError('SITE_NOT_FOUND', 'no such site');
  }

  private requireDepartments(siteId: string, ids: readonly string[]): void {
    for (const id of ids) {
      if (this.runtime.state.departments.get(id)?.value.siteId !== siteId) {
        throw new ApiError('DEPARTMENT_NOT_FOUND', `no department ${id} on this site`);
      }
    }
  }

  private requireFreeEmail(email: string, exceptOperatorId: string | null): void {
    const wanted = email.toLowerCase();
    for (const o of this.runtime.state.operators.values()) {
      if (o.id !== exceptOperatorId && o.profile?.value.email.toLowerCase() === wanted) {
        throw new ApiError('EMAIL_TAKEN', 'an operator with this e-mail exists');
      }
    }
  }
}
