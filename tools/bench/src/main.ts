/**
 * `npm run bench`: scenario 1 of the benchmark issue, cross-node delivery and ack latency at fixed
 * offered rates, ours against the bare relay with a batched PostgreSQL insert, in the same run,
 * alternating per rate. Prints a table, writes tmp/bench/report.{json,md}. `--smoke` runs one
 * short low rate and fails (exit 1) on any loss, never on timing.
 *
 *   npm run bench -- [--rates 200,1000,2000] [--seconds 10] [--visitors 100] [--operators 25]
 *   npm run bench -- --smoke
 *   npm run bench -- --node-env PERSIST_LINGER_MS=50     (added to our nodes' environment)
 *   npm run bench -- --profile /tmp/prof                 (our nodes' CPU profiles, at exit)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { nowMs, percentile } from './lib/clock';
import { CpuMeter, rssKibOf } from './lib/procs';
import { SERVICE_NAMES, startBare, startOurs, type Target } from './lib/targets';

const ROOT = join(__dirname, '../../../..');
const OUT_DIR = join(ROOT, 'tmp/bench');

const { values } = parseArgs({
  options: {
    rates: { type: 'string', default: '200,1000,2000' },
    seconds: { type: 'string', default: '10' },
    visitors: { type: 'string', default: '100' },
    operators: { type: 'string', default: '25' },
    smoke: { type: 'boolean', default: false },
    /** KEY=VALUE for our nodes' environment (tuning experiments), repeatable */
    'node-env': { type: 'string', multiple: true, default: [] },
    /** a directory: our nodes write CPU profiles there when they stop */
    profile: { type: 'string' },
  },
});
const smoke = values.smoke;
const rates = (smoke ? '100' : values.rates).split(',').map(Number);
const seconds = smoke ? 5 : Number(values.seconds);
const visitors = Number(values.visitors);
const operators = Number(values.operators);
const nodeEnv = Object.fromEntries(
  values['node-env'].map((pair) => {
    const at = pair.indexOf('=');
    if (at < 1) throw new Error(`--node-env takes KEY=VALUE, got "${pair}"`);
    return [pair.slice(0, at), pair.slice(at + 1)];
  }),
);

const t0 = Date.now();
function log(line: string): void {
  process.stdout.write(`[bench +${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}\n`);
}

export interface RunResult {
  target: string;
  offered: number;
  sent: number;
  acked: number;
  delivered: number;
  achievedPerSecond: number;
  e2eMs: { p50: number; p99: number; p999: number };
  ackMs: { p50: number; p99: number; p999: number };
  lost: { ackedNotDelivered: number; deliveredTwice: number; missingFromPostgres: number };
  errors: Record<string, number>;
  /** CPU of every server-side process, the shared RabbitMQ and PostgreSQL included, per message */
  cpuUsPerMessage: number;
  /** CPU of the target's own processes only (nodes or relays), per message */
  ownCpuUsPerMessage: number;
  cpuMsByProcess: Record<string, number>;
  rssMib: Record<string, number>;
}

const spread = (values: number[]): { p50: number; p99: number; p999: number } => {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
  };
};

async function measure(target: Target, offered: number): Promise<RunResult> {
  const meter = new CpuMeter(target.groups);
  await target.operators.collect(); // forget anything from before
  const runId = `${target.name.replace(/\W/g, '')}-${offered}-${Date.now().toString(36)}`;
  meter.start();
  const sent = await target.visitors.run(runId, offered, seconds);
  const started = nowMs();
  // Deliveries after the last ack: wait until everything acked arrived, bounded.
  let received = await target.operators.collect();
  const byCmid = new Map<string, number[]>();
  const acked = sent.filter((r) => r.ackAt !== null);
  for (;;) {
    for (const r of received) byCmid.set(r.cmid, [...(byCmid.get(r.cmid) ?? []), r.at - r.sentAt]);
    if (acked.every((r) => byCmid.has(r.cmid)) || nowMs() - started > 10_000) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
    received = await target.operators.collect();
  }
  const cpu = meter.stop();
  const rss: Record<string, number> = {};
  for (const group of target.groups) {
    rss[group.name] = Math.round(
      group.pids().reduce((sum, pid) => sum + (rssKibOf(pid) ?? 0), 0) / 1024,
    );
  }
  // The journal writes asynchronously: give it a moment, then count what is there.
  const cmids = acked.map((r) => r.cmid);
  let stored = 0;
  const until = nowMs() + 20_000;
  while ((stored = await target.stored(cmids)) < cmids.length && nowMs() < until) {
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const errors: Record<string, number> = {};
  for (const r of sent) if (r.error) errors[r.error] = (errors[r.error] ?? 0) + 1;
  const e2e = [...byCmid.values()].map((list) => list[0] ?? 0);
  const total = Object.values(cpu).reduce((a, b) => a + b, 0);
  const own = target.groups
    .filter((g) => !SERVICE_NAMES.has(g.name))
    .reduce((sum, g) => sum + (cpu[g.name] ?? 0), 0);
  return {
    target: target.name,
    offered,
    sent: sent.length,
    acked: acked.length,
    delivered: byCmid.size,
    achievedPerSecond: Math.round(byCmid.size / seconds),
    e2eMs: spread(e2e),
    ackMs: spread(acked.map((r) => (r.ackAt ?? 0) - r.sentAt)),
    lost: {
      ackedNotDelivered: acked.filter((r) => !byCmid.has(r.cmid)).length,
      deliveredTwice: [...byCmid.values()].filter((list) => list.length > 1).length,
      missingFromPostgres: cmids.length - stored,
    },
    errors,
    cpuUsPerMessage: Math.round((total * 1000) / Math.max(1, sent.length)),
    ownCpuUsPerMessage: Math.round((own * 1000) / Math.max(1, sent.length)),
    cpuMsByProcess: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, Math.round(v)])),
    rssMib: rss,
  };
}

const f = (n: number): string => (Number.isNaN(n) ? '—' : n < 10 ? n.toFixed(2) : n.toFixed(1));

function table(results: RunResult[]): string {
  const lines = [
    '| offered msg/s | target | achieved/s | e2e p50 / p99 / p999 ms | ack p50 / p99 ms | CPU µs/msg: all / own | lost (not delivered / twice / not in PG) | errors |',
    '| ---: | --- | ---: | --- | --- | ---: | --- | --- |',
  ];
  for (const r of results) {
    lines.push(
      `| ${r.offered} | ${r.target} | ${r.achievedPerSecond} | ${f(r.e2eMs.p50)} / ${f(r.e2eMs.p99)} / ${f(r.e2eMs.p999)} | ${f(r.ackMs.p50)} / ${f(r.ackMs.p99)} | ${r.cpuUsPerMessage} / ${r.ownCpuUsPerMessage} | ${r.lost.ackedNotDelivered} / ${r.lost.deliveredTwice} / ${r.lost.missingFromPostgres} | ${JSON.stringify(r.errors)} |`,
    );
  }
  const ratios = [
    '',
    '| offered msg/s | e2e p99 ours ÷ bare+pg | CPU/msg ours ÷ bare+pg |',
    '| ---: | ---: | ---: |',
  ];
  for (const rate of rates) {
    const ours = results.find((r) => r.target === 'ours' && r.offered === rate);
    const bare = results.find((r) => r.target === 'bare+pg' && r.offered === rate);
    if (!ours || !bare) continue;
    ratios.push(
      `| ${rate} | ${(ours.e2eMs.p99 / bare.e2eMs.p99).toFixed(1)}× | ${(ours.cpuUsPerMessage / Math.max(1, bare.cpuUsPerMessage)).toFixed(1)}× |`,
    );
  }
  return [...lines, ...ratios].join('\n');
}

async function main(): Promise<void> {
  log(
    `${cpus().length} cores, node ${process.version}; rates ${rates.join(', ')}, ${seconds} s each`,
  );
  const options = {
    root: ROOT,
    visitors,
    operators,
    nodeEnv,
    ...(values.profile ? { profileDir: values.profile } : {}),
    log,
  };
  if (values['node-env'].length > 0)
    log(`our nodes' environment adds ${values['node-env'].join(' ')}`);
  const targets: Target[] = [];
  const results: RunResult[] = [];
  try {
    targets.push(await startBare(options));
    targets.push(await startOurs(options));
    for (const rate of rates) {
      for (const target of targets) {
        log(`${target.name} at ${rate} msg/s for ${seconds} s`);
        const result = await measure(target, rate);
        results.push(result);
        log(
          `  achieved ${result.achievedPerSecond}/s, e2e p50 ${f(result.e2eMs.p50)} p99 ${f(result.e2eMs.p99)} ms, ` +
            `ack p99 ${f(result.ackMs.p99)} ms, ${result.cpuUsPerMessage} µs CPU/msg, lost ${JSON.stringify(result.lost)}`,
        );
      }
    }
  } finally {
    for (const target of targets) await target.stop().catch(() => undefined);
  }
  const text = table(results);
  process.stdout.write(`\n${text}\n\n`);
  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(
    join(OUT_DIR, 'report.json'),
    `${JSON.stringify({ at: new Date().toISOString(), cores: cpus().length, node: process.version, seconds, visitors, operators, results }, null, 2)}\n`,
  );
  writeFileSync(join(OUT_DIR, 'report.md'), `${text}\n`);
  const losses = results.filter(
    (r) =>
      r.lost.ackedNotDelivered + r.lost.deliveredTwice + r.lost.missingFromPostgres > 0 ||
      r.acked < r.sent,
  );
  if (losses.length > 0) {
    log(`LOSS: ${losses.map((r) => `${r.target}@${r.offered}`).join(', ')}`);
    process.exitCode = 1;
  }
}

main()
  .catch((error: unknown) => {
    process.stderr.write(
      `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  })
  .finally(() => setTimeout(() => process.exit(), 1000).unref());
