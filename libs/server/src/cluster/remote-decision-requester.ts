import {
  DOMAIN_ERROR_CODES,
  DomainError,
  type DomainErrorCode,
  type DomainEvent,
  type EventEnvelope,
} from '@chat/domain';
import { type NodeRpc, RpcNodeUnreachableError, RpcRemoteError } from '@chat/messaging';
import { type ChatRuntime } from '../runtime/chat-runtime';
import { DecisionRequester, type TakeRequest, type TransferRequest } from '../runtime/decisions';
import { ApiError } from '../use-cases/api-error';
import { DECISION_METHODS } from './decision-schemas';

const DOMAIN_CODES: ReadonlySet<string> = new Set(DOMAIN_ERROR_CODES);
const RETRY_PAUSE_MS = 150;

export interface DecisionRoute {
  /** the node that decides now, as this node sees it (null while nobody can) */
  actingMaster(): string | null;
  /** this node's own decider, used when this node is the acting master */
  local: DecisionRequester;
  /** true while this node itself leads */
  isLocal(): boolean;
}

/**
 * A cluster node's way to decide: while this node leads, its own decider; otherwise it asks the
 * acting master over the node RPC and waits. The master plans and commits the decision (so two
 * nodes can never both win one chat or one free slot); its answer is the committed `chat.assigned`
 * event, applied here at once so that the client's reply and this node's state agree even before
 * the fan-out delivers the same event.
 *
 * During a failover the acting master may be unknown, unreachable or still taking over: such
 * fast refusals are retried (asking again who leads) until `timeoutMs` has passed; a request that
 * reached a master but got no answer is not repeated (it may have been decided).
 */
export class RemoteDecisionRequester extends DecisionRequester {
  constructor(
    private readonly rpc: NodeRpc,
    private readonly runtime: ChatRuntime,
    private readonly route: DecisionRoute,
    private readonly timeoutMs: number,
  ) {
    super();
  }

  take(request: TakeRequest): Promise<EventEnvelope<'chat.assigned'>> {
    return this.decide(DECISION_METHODS.take, request, () => this.route.local.take(request));
  }

  transfer(request: TransferRequest): Promise<EventEnvelope<'chat.assigned'>> {
    return this.decide(DECISION_METHODS.transfer, request, () =>
      this.route.local.transfer(request),
    );
  }

  private async decide(
    method: string,
    request: TakeRequest | TransferRequest,
    local: () => Promise<EventEnvelope<'chat.assigned'>>,
  ): Promise<EventEnvelope<'chat.assigned'>> {
    const deadline = Date.now() + this.timeoutMs;
    let lastProblem = 'no acting master';
    for (;;) {
      if (this.route.isLocal()) return local();
      const master = this.route.actingMaster();
      const left = deadline - Date.now();
      if (master !== null && left > 0) {
        try {
          return this.applied(
            method,
            await this.rpc.request<DomainEvent>(master, method, request, { timeoutMs: left }),
          );
        } catch (error) {
          if (error instanceof RpcRemoteError && DOMAIN_CODES.has(error.code)) {
            throw new DomainError(error.code as DomainErrorCode, error.message);
          }
          lastProblem = `${master}: ${error instanceof Error ? error.message : String(error)}`;
          if (!isFastRefusal(error)) break;
        }
      }
      if (Date.now() + RETRY_PAUSE_MS >= deadline) break;
      await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
    }
    throw new ApiError('UNAVAILABLE', 'the acting master could not decide now; try again', {
      reason: lastProblem,
    });
  }

  private applied(method: string, event: DomainEvent): EventEnvelope<'chat.assigned'> {
    if (event.type !== 'chat.assigned') {
      throw new ApiError('INTERNAL', `the master answered ${method} with ${event.type}`);
    }
    this.runtime.applyRemote(event);
    return event;
  }
}

/** Refusals that prove the request was not decided: safe to ask again (maybe someone else). */
function isFastRefusal(error: unknown): boolean {
  if (error instanceof RpcNodeUnreachableError) return true;
  return error instanceof RpcRemoteError && error.code === 'UNAVAILABLE';
}
