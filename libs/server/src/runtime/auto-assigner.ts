import { Logger } from '@nestjs/common';
import {
  planAutoAssignments,
  planTake,
  planTransfer,
  type AssignmentDecision,
  type EventEnvelope,
} from '@chat/domain';
import { type ChatRuntime } from './chat-runtime';
import { DecisionRequester, type TakeRequest, type TransferRequest } from './decisions';

export interface AutoAssignerOptions {
  graceMs: number;
  /** how often grace periods are re-checked when nothing else happens */
  tickMs: number;
  now?: () => number;
}

/**
 * The master's duty: auto-assignment, manual takes and transfers. Each decision is planned and
 * applied in one synchronous step (`ChatRuntime.commit` applies before it awaits), so two
 * requests can never both see the same free slot: one chat, one operator, limits kept.
 */
export class AutoAssigner extends DecisionRequester {
  private readonly logger = new Logger(AutoAssigner.name);
  private scheduled = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly startedAt: number;
  private readonly now: () => number;

  constructor(
    private readonly runtime: ChatRuntime,
    private readonly epoch: () => number,
    private readonly options: AutoAssignerOptions,
  ) {
    super();
    this.now = options.now ?? Date.now;
    this.startedAt = this.now();
  }

  start(): void {
    this.runtime.onChanges(() => this.schedule());
    this.timer = setInterval(() => this.schedule(), this.options.tickMs);
    this.timer.unref();
    this.schedule();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  take(request: TakeRequest): Promise<EventEnvelope<'chat.assigned'>> {
    return this.commitDecision(planTake(this.runtime.state, request));
  }

  transfer(request: TransferRequest): Promise<EventEnvelope<'chat.assigned'>> {
    return this.commitDecision(planTransfer(this.runtime.state, request));
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
    const decisions = planAutoAssignments(this.runtime.state, {
      nowMs: this.now(),
      graceMs: this.options.graceMs,
      absenceFloorMs: this.startedAt,
    });
    for (const decision of decisions) {
      this.commitDecision(decision).catch((error: unknown) =>
        this.logger.error({ err: error, chatId: decision.chatId }, 'assignment not confirmed'),
      );
    }
  }

  private commitDecision(decision: AssignmentDecision): Promise<EventEnvelope<'chat.assigned'>> {
    return this.runtime.commit('chat.assigned', { ...decision, epoch: this.epoch() });
  }
}
