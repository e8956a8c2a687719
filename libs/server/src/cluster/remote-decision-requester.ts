import {
  DOMAIN_ERROR_CODES,
  DomainError,
  type DomainErrorCode,
  type DomainEvent,
  type EventEnvelope,
} from '@chat/domain';
import { type NodeRpc, RpcRemoteError } from '@chat/messaging';
import { type ChatRuntime } from '../runtime/chat-runtime';
import { DecisionRequester, type TakeRequest, type TransferRequest } from '../runtime/decisions';
import { ApiError } from '../use-cases/api-error';
import { DECISION_METHODS } from './decision-schemas';

const DOMAIN_CODES: ReadonlySet<string> = new Set(DOMAIN_ERROR_CODES);

/**
 * A slave's way to decide: it asks the acting master over the node RPC and waits. The master
 * plans and commits the decision (so two slaves can never both win one chat or one free slot);
 * its answer is the committed `chat.assigned` event, applied here at once so that the client's
 * reply and this node's state agree even before the fan-out delivers the same event.
 */
export class RemoteDecisionRequester extends DecisionRequester {
  constructor(
    private readonly rpc: NodeRpc,
    private readonly runtime: ChatRuntime,
    /** the node that decides now */
    private readonly master: () => string,
    private readonly timeoutMs: number,
  ) {
    super();
  }

  take(request: TakeRequest): Promise<EventEnvelope<'chat.assigned'>> {
    return this.decide(DECISION_METHODS.take, request);
  }

  transfer(request: TransferRequest): Promise<EventEnvelope<'chat.assigned'>> {
    return this.decide(DECISION_METHODS.transfer, request);
  }

  private async decide(
    method: string,
    request: TakeRequest | TransferRequest,
  ): Promise<EventEnvelope<'chat.assigned'>> {
    const master = this.master();
    let event: DomainEvent;
    try {
      event = await this.rpc.request<DomainEvent>(master, method, request, {
        timeoutMs: this.timeoutMs,
      });
    } catch (error) {
      if (error instanceof RpcRemoteError && DOMAIN_CODES.has(error.code)) {
        throw new DomainError(error.code as DomainErrorCode, error.message);
      }
      throw new ApiError('UNAVAILABLE', `the master (${master}) could not decide now; try again`, {
        reason: error instanceof Error ? error.message : String(error),
      });
    }
    if (event.type !== 'chat.assigned') {
      throw new ApiError('INTERNAL', `the master answered ${method} with ${event.type}`);
    }
    this.runtime.applyRemote(event);
    return event;
  }
}
