import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { type NodeLoad } from '@chat/cluster';

/** Samples this process's load for heartbeats: event-loop delay since the last sample, memory. */
export class LoadSampler {
  private static readonly RESOLUTION_MS = 10;
  private readonly histogram: IntervalHistogram = monitorEventLoopDelay({
    resolution: LoadSampler.RESOLUTION_MS,
  });

  start(): void {
    this.histogram.enable();
  }

  stop(): void {
    this.histogram.disable();
  }

  sample(counts: Pick<NodeLoad, 'operatorSessions' | 'visitorSessions' | 'activeChats'>): NodeLoad {
    // The histogram records whole sampling intervals: the lag is what exceeds the resolution.
    const over = (ns: number): number => Math.max(0, ns / 1e6 - LoadSampler.RESOLUTION_MS);
    const mean = this.histogram.count > 0 ? over(this.histogram.mean) : 0;
    const max = this.histogram.count > 0 ? over(this.histogram.max) : 0;
    this.histogram.reset();
    const memory = process.memoryUsage();
    return {
      ...counts,
      eventLoopLagMs: Math.round(mean * 100) / 100,
      eventLoopLagMaxMs: Math.round(max * 100) / 100,
      rssBytes: memory.rss,
      heapUsedBytes: memory.heapUsed,
    };
  }
}
