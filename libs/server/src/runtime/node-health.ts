import { type ClusterBus } from '@chat/messaging';

/** What `/readyz` reports: a node takes clients only when its state is loaded and its bus is up. */
export class NodeHealth {
  private stateLoaded = false;
  private draining = false;

  constructor(
    readonly nodeName: string,
    private readonly bus: ClusterBus,
  ) {}

  markStateLoaded(): void {
    this.stateLoaded = true;
  }

  markDraining(): void {
    this.draining = true;
  }

  checks(): Record<string, boolean> {
    return { state: this.stateLoaded, bus: this.bus.connected, accepting: !this.draining };
  }
}
