import { type ClusterBus } from '@chat/messaging';
import { type PersistenceProgress } from './persistence-worker';

/** Where the node's readiness reads the journal writer's progress. */
export interface PersistenceReadiness {
  readonly source: { progress(): PersistenceProgress };
  /** Work waiting longer than this without a successful write makes `/readyz` answer 503. */
  readonly stallMs: number;
}

/** What `/readyz` reports: a node takes clients only when its state is loaded and its bus is up. */
export class NodeHealth {
  private stateLoaded = false;
  private draining = false;

  constructor(
    readonly nodeName: string,
    private readonly bus: ClusterBus,
    private readonly persistence: PersistenceReadiness | null = null,
  ) {}

  markStateLoaded(): void {
    this.stateLoaded = true;
  }

  markDraining(): void {
    this.draining = true;
  }

  /**
   * What the cluster membership reads (snapshots, the `ready` of heartbeats, who may lead). Never
   * the database: PostgreSQL down makes every node's journal stall at once, and the cluster must
   * go on chatting and assigning meanwhile.
   */
  checks(): Record<string, boolean> {
    return { state: this.stateLoaded, bus: this.bus.connected, accepting: !this.draining };
  }

  /**
   * What `/readyz` reports: {@link checks} plus `persistence`, false once events have waited for
   * the journal longer than the stall setting (the database is down, or the writer is stuck).
   */
  readiness(): { checks: Record<string, boolean>; persistence?: PersistenceProgress } {
    const checks = this.checks();
    if (!this.persistence) return { checks };
    const progress = this.persistence.source.progress();
    return {
      checks: { ...checks, persistence: progress.stalledForMs <= this.persistence.stallMs },
      persistence: progress,
    };
  }
}
