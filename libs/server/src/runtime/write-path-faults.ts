import { Logger } from '@nestjs/common';

/**
 * Fault points on a message's write path, for end-to-end and chaos tests only: a node started with
 * `FAULT_POINT` stops at that point for every message whose text contains `FAULT_TRIGGER`, so a
 * test can kill it exactly between two steps (the chaos suite's random kills never land there).
 *
 * - `hold-before-publish`: applied (and pushed to this node's own clients) but never published;
 * - `hold-before-ack`: published and confirmed, the sender's ack never sent;
 * - `kill-after-publish`: the node SIGKILLs itself once the publish is confirmed, before the ack.
 */
export const FAULT_POINTS = [
  'hold-before-publish',
  'hold-before-ack',
  'kill-after-publish',
] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

export class WritePathFaults {
  private readonly logger = new Logger(WritePathFaults.name);

  constructor(
    private readonly point: FaultPoint | null,
    private readonly trigger: string,
  ) {
    if (point) this.logger.warn({ point, trigger }, 'FAULT POINT ARMED: for tests only');
  }

  /** True when this message must not be published (`hold-before-publish`). */
  holdsPublish(text: string): boolean {
    return this.armed('hold-before-publish', text);
  }

  /** Runs once the message's publish is confirmed: holds or kills when armed for it. */
  async afterPublish(text: string): Promise<void> {
    if (this.armed('kill-after-publish', text)) {
      this.logger.warn('fault point kill-after-publish reached: SIGKILL');
      process.kill(process.pid, 'SIGKILL');
    }
    if (this.armed('hold-before-ack', text)) await new Promise<never>(() => undefined);
  }

  private armed(point: FaultPoint, text: string): boolean {
    return this.point === point && text.includes(this.trigger);
  }
}
