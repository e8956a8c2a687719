import { Logger } from '@nestjs/common';
import {
  overruleStaleDecision,
  planAutoAssignments,
  planEpochFence,
  planTake,
  planTransfer,
  type AssignmentDecision,
  type EventEnvelope,
} from '@chat/domain';
import { ApiError } from '../use-cases/api-error';
import { type ChatRuntime } from './chat-runtime';
import { DecisionRequester, type TakeRequest, type TransferRequest } from './decisions';

export interface AutoAssignerOptions {
  graceMs: number;
  /** how often grace periods are re-checked when nothing else happens */
  tickMs: number;
  now?: () => number;
}

/**
 * The acting master's duty: auto-assignment, manual takes and transfers. Each decision is planned
 * and applied in one synchronous step (`ChatRuntime.commit` applies before it awaits), so two
 * requests can never both see the same free slot: one chat, one operator, limits kept.
 *
 * It runs on every node of a cluster but decides only while `epoch()` gives an epoch (this node
 * leads with a fresh lease); a standalone node always decides with epoch 1.
 */
export class AutoAssigner extends DecisionRequester {
  private readonly logger = new Logger(AutoAssigner.name);
  private scheduled = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly startedAt: number;
  private readonly now: () => number;

  constructor(
    private readonly runtime: ChatRuntime,
    /** the epoch to decide with now, or null when this node must not decide */
    private readonly epoch: () => number | null,
    private readonly options: AutoAssignerOptions,
  ) {
    super();
    this.now = options.now ?? Date.now;
    this.startedAt = this.now();
  }

  start(): void {
    this.runtime.onChanges((_changes, event) => {
      if (event.type === 'chat.assigned') this.overruleIfStale(event);
      this.schedule();
    });
    this.timer = setInterval(() => this.schedule(), this.options.tickMs);
    this.timer.unref();
    this.schedule();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  take(request: TakeRequest): Promise<EventEnvelope<'chat.assigned'>> {
    const epoch = this.requireEpoch();
    return this.commitDecision(planTake(this.runtime.state, request), epoch);
  }

  transfer(request: TransferRequest): Promise<EventEnvelope<'chat.assigned'>> {
    const epoch = this.requireEpoch();
    return this.commitDecision(planTransfer(this.runtime.state, request), epoch);
  }

  /**
   * A new acting master's first act: re-assert every held chat under `epoch` (see
   * `planEpochFence`). Resolves when the broker confirmed every fence.
   */
  async fence(epoch: number): Promise<number> {
    const decisions = planEpochFence(this.runtime.state);
    await Promise.all(decisions.map((decision) => this.commitDecision(decision, epoch)));
    return decisions.length;
  }

  /** Runs a pass now (e.g. right after taking over) instead of at the next change or tick. */
  kick(): void {
    this.schedule();
  }

  /** Coalesces bursts of changes into one pass of the policy. */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.runPass();
    });
  }

  private runPass(): void {
    const epoch = this.epoch();
    if (epoch === null) return;
    const decisions = planAutoAssignments(this.runtime.state, {
      nowMs: this.now(),
      graceMs: this.options.graceMs,
      absenceFloorMs: this.startedAt,
    });
    for (const decision of decisions) this.commitInBackground(decision, epoch);
  }

  /** A deposed master's decision won a chat here: put the chat back in the queue at once. */
  private overruleIfStale(event: EventEnvelope<'chat.assigned'>): void {
    const epoch = this.epoch();
    if (epoch === null || event.data.epoch >= epoch) return;
    const decision = overruleStaleDecision(
      this.runtime.state,
      { chatId: event.data.chatId, eventId: event.id, epoch: event.data.epoch },
      epoch,
    );
    if (decision) {
      this.logger.warn({ chatId: decision.chatId, stale: event.data.epoch, epoch }, 'overruled');
      this.commitInBackground(decision, epoch);
    }
  }

  private requireEpoch(): number {
    const epoch = this.epoch();
    if (epoch === null) throw new ApiError('UNAVAILABLE', 'this node is not the acting master');
    return epoch;
  }

  private commitInBackground(decision: AssignmentDecision, epoch: number): void {
    this.commitDecision(decision, epoch).catch((error: unknown) =>
      this.logger.error({ err: error, chatId: decision.chatId }, 'assignment not confirmed'),
    );
  }

  private commitDecision(
    decision: AssignmentDecision,
    epoch: number,
  ): Promise<EventEnvelope<'chat.assigned'>> {
    return this.runtime.commit('chat.assigned', { ...decision, epoch });
  }
}
