#!/usr/bin/env node
// Micro-benchmark of a committed event's confirmed publish on the real RabbitMQ (a fresh vhost):
// "two" = the state fan-out and the persistence queue, two confirmed publishes in parallel (the
// write path before issue 9); "one" = one confirmed publish to the fan-out with the persistence
// queue bound to it (the write path now). A node consumes its state queue and a worker consumes the
// persistence queue meanwhile, as in a cluster. Needs the build (npm run build) and rabbitmqctl.
//
//   node tools/bench/write-path-publish.mjs [events=3000] [concurrency=1,16]
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';

const require = createRequire(import.meta.url);
const { RabbitMqClusterBus, RabbitMqWorkQueue } = require('../../dist/libs/messaging/src/index.js');

const EVENTS = Number(process.argv[2] ?? 3000);
const CONCURRENCY = (process.argv[3] ?? '1,16').split(',').map(Number);
const BASE = process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function run(mode, concurrency, vhostUrl) {
  const cluster = `b${randomUUID().slice(0, 8)}`;
  const queue = new RabbitMqWorkQueue({ url: vhostUrl, prefix: `${cluster}.` });
  const bus = new RabbitMqClusterBus({
    url: vhostUrl,
    clusterName: cluster,
    nodeName: 'n1',
    instanceId: randomUUID(),
    boundWorkQueues: mode === 'one' ? [queue.queueName('chat.persistence')] : [],
  });
  let persisted = 0;
  bus.subscribe(() => undefined);
  queue.consume('chat.persistence', { batchSize: 200, lingerMs: 2 }, async (batch) => {
    persisted += batch.length;
  });
  await bus.start();
  await queue.start();
  const latencies = [];
  let next = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const worker = async () => {
    while (next < EVENTS) {
      next += 1;
      const event = {
        id: randomUUID(),
        type: 'chat.message.added',
        origin: 'n1',
        data: { text: 'x'.repeat(80) },
      };
      const started = process.hrtime.bigint();
      if (mode === 'one') await bus.publish(event);
      else
        await Promise.all([bus.publish(event), queue.publish('chat.persistence', event.id, event)]);
      latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  while (persisted < EVENTS) await new Promise((r) => setTimeout(r, 20));
  await queue.stop();
  await bus.stop();
  latencies.sort((a, b) => a - b);
  return {
    mode,
    concurrency,
    perSecond: Math.round(EVENTS / seconds),
    p50: percentile(latencies, 50).toFixed(2),
    p99: percentile(latencies, 99).toFixed(2),
    cpuUsPerEvent: Math.round((cpu.user + cpu.system) / EVENTS),
  };
}

const vhost = `bench-${randomUUID().slice(0, 8)}`;
execFileSync('rabbitmqctl', ['-q', 'add_vhost', vhost]);
execFileSync('rabbitmqctl', ['-q', 'set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*']);
try {
  const url = `${BASE}/${encodeURIComponent(vhost)}`;
  console.log(`${EVENTS} events per run, ${cpus().length} cores, node ${process.version}`);
  console.log('mode  conc  events/s  p50 ms  p99 ms  client CPU µs/event');
  for (const concurrency of CONCURRENCY) {
    for (const mode of ['two', 'one', 'two', 'one']) {
      const r = await run(mode, concurrency, url);
      console.log(
        `${r.mode.padEnd(5)} ${String(r.concurrency).padStart(4)} ${String(r.perSecond).padStart(9)} ${r.p50.padStart(7)} ${r.p99.padStart(7)} ${String(r.cpuUsPerEvent).padStart(8)}`,
      );
    }
  }
} finally {
  execFileSync('rabbitmqctl', ['-q', 'delete_vhost', vhost]);
}
