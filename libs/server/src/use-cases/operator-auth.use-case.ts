import { Injectable } from '@nestjs/common';
import { operatorSnapshot, type OperatorStatus, type OperatorView } from '@chat/domain';
import { PasswordHasher } from '../auth/password-hasher';
import { type OperatorPrincipal } from '../auth/principal';
import { TokenService } from '../auth/token.service';
import { ChatRuntime } from '../runtime/chat-runtime';
import { ApiError } from './api-error';

@Injectable()
export class OperatorAuthUseCase {
  constructor(
    private readonly runtime: ChatRuntime,
    private readonly hasher: PasswordHasher,
    private readonly tokens: TokenService,
  ) {}

  /** Same answer for an unknown e-mail and a wrong password: no account probing. */
  async login(email: string, password: string): Promise<{ token: string; operator: OperatorView }> {
    const wanted = email.trim().toLowerCase();
    const record = [...this.runtime.state.operators.values()].find(
      (o) => o.profile?.value.email.toLowerCase() === wanted,
    );
    const profile = record?.profile?.value;
    const ok = profile ? await this.hasher.verify(profile.passwordHash, password) : false;
    if (!profile || !ok) throw new ApiError('UNAUTHORIZED', 'wrong e-mail or password');
    if (profile.disabled) throw new ApiError('OPERATOR_DISABLED', 'this operator is disabled');
    const token = this.tokens.issueOperator({ operatorId: profile.id, siteId: profile.siteId });
    return { token, operator: this.view(profile.id) };
  }

  async setStatus(principal: OperatorPrincipal, status: OperatorStatus): Promise<OperatorView> {
    const profile = this.runtime.state.operators.get(principal.operatorId)?.profile?.value;
    if (!profile || profile.siteId !== principal.siteId) {
      throw new ApiError('UNAUTHORIZED', 'operator no longer exists');
    }
    if (profile.disabled) throw new ApiError('OPERATOR_DISABLED', 'this operator is disabled');
    await this.runtime.commit('operator.status.set', {
      operatorId: profile.id,
      siteId: profile.siteId,
      status,
    });
    return this.view(profile.id);
  }

  private view(operatorId: string): OperatorView {
    const snapshot = operatorSnapshot(this.runtime.state, operatorId);
    if (!snapshot) throw new ApiError('OPERATOR_NOT_FOUND', 'operator not found');
    return snapshot.me;
  }
}
