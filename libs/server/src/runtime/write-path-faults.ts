import { Logger } from '@nestjs/common';
import { type DomainEvent } from '@chat/domain';
import { StatePublisher } from './state-publisher';

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

const never = (): Promise<never> => new Promise<never>(() => undefined);

/**
 * A {@link StatePublisher} around the real one, registered only when a fault point is armed (so a
 * normal node pays nothing): an armed message's confirmation is held or ends the process.
 */
export class FaultPointStatePublisher extends StatePublisher {
  private readonly logger = new Logger(FaultPointStatePublisher.name);

  constructor(
    private readonly inner: StatePublisher,
    private readonly point: FaultPoint,
    private readonly trigger: string,
  ) {
    super();
    this.logger.warn({ point, trigger }, 'FAULT POINT ARMED: for tests only');
  }

  async publish(event: DomainEvent): Promise<void> {
    const armed = event.type === 'chat.message.added' && event.data.text.includes(this.trigger);
    if (!armed) return this.inner.publish(event);
    if (this.point === 'hold-before-publish') return never();
    await this.inner.publish(event);
    if (this.point === 'kill-after-publish') {
      this.logger.warn('fault point kill-after-publish reached: SIGKILL');
      process.kill(process.pid, 'SIGKILL');
    }
    return never();
  }
}
