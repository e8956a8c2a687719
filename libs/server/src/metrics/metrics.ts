import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The node's Prometheus metrics (`GET /metrics`). One registry per node (not prom-client's global
 * one), so that several nodes started in one test process never share counters. Every counter the
 * node keeps is declared here, so what can be watched is one file away.
 */
export class Metrics {
  readonly registry = new Registry();

  /** Events the journal could not write for a permanent reason, moved to the dead-letter store. */
  readonly deadLetters = new Counter({
    name: 'chat_dead_letters_total',
    help: 'Events moved to the dead-letter store, by queue and reason',
    labelNames: ['queue', 'reason'] as const,
    registers: [this.registry],
  });

  /** Requests and socket events refused by a per-client limit. */
  readonly rateLimited = new Counter({
    name: 'chat_rate_limited_total',
    help: 'Requests, socket events and connections refused with RATE_LIMITED, by limit',
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });

  /** Client input refused before validation (depth, characters, prototype keys). */
  readonly inputRejected = new Counter({
    name: 'chat_input_rejected_total',
    help: 'Client payloads refused with VALIDATION_FAILED before reaching a use case, by channel',
    labelNames: ['channel'] as const,
    registers: [this.registry],
  });

  /** Broker messages dropped on arrival: bad signature, unknown signer, wrong shape. */
  readonly busRejected = new Counter({
    name: 'chat_bus_rejected_total',
    help: 'Broker messages dropped on arrival, by kind and reason',
    labelNames: ['kind', 'reason'] as const,
    registers: [this.registry],
  });

  /** Age of the oldest event this node took for persistence and has not written yet. */
  readonly persistenceBacklogAge = new Gauge({
    name: 'chat_persistence_stalled_seconds',
    help: 'Seconds since the journal writer of this node last made progress while work waits (0 when idle)',
    registers: [this.registry],
  });

  constructor(nodeName: string) {
    this.registry.setDefaultLabels({ node: nodeName });
    collectDefaultMetrics({ register: this.registry });
  }

  /** The exposition text for a scrape. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
