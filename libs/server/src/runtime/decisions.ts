import { type AssignmentDecision, type EventEnvelope } from '@chat/domain';

export interface TakeRequest {
  operatorId: string;
  chatId: string;
}

export interface TransferRequest {
  requestedBy: string;
  chatId: string;
  toOperatorId?: string;
  toDepartmentId?: string;
}

/**
 * Decisions that need one decider (manual takes, transfers). In a standalone node the local
 * `AutoAssigner` decides; in a cluster a slave sends the request to the acting master and waits
 * for its decision. Rejections are `DomainError`s either way.
 */
export abstract class DecisionRequester {
  abstract take(request: TakeRequest): Promise<EventEnvelope<'chat.assigned'>>;
  abstract transfer(request: TransferRequest): Promise<EventEnvelope<'chat.assigned'>>;
}

export type { AssignmentDecision };
