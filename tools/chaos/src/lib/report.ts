/** The chaos run's figures, as printed and as written to JSON for docs/reliability.md. */
import type { FaultResult } from './ledger';

export interface ChaosCounts {
  /** acknowledged to the sender, never received by the other side */
  readonly ackedNotDelivered: number;
  /** a client shown the same message twice (same id, or one clientMessageId under two ids) */
  readonly deliveredTwice: number;
  /** acknowledged, but no row in the schema's `messages` table */
  readonly missingFromPostgres: number;
  /** chats held by two operators: at one sample of the clients, or in the journal's history */
  readonly chatsHeldByTwo: number;
  /** operators over maxChats: at one sample of the clients, or replaying the journal */
  readonly capacityViolations: number;
}

export interface ChaosReport {
  readonly date: string;
  readonly machine: { readonly cpus: number; readonly node: string; readonly platform: string };
  readonly durationMs: number;
  readonly traffic: {
    readonly sites: number;
    readonly operators: number;
    readonly visitorSlots: number;
    readonly chatsStarted: number;
    readonly chatStartFailures: number;
    readonly messagesSent: number;
    readonly messagesAcked: number;
    /** given up on by the client with an error (not acknowledged: not counted as lost) */
    readonly messagesRejected: Record<string, number>;
    /** neither acknowledged nor rejected when the drain ended */
    readonly messagesUnsettled: number;
    readonly holdingSamples: number;
  };
  readonly counts: ChaosCounts;
  readonly details: {
    readonly ackedNotDelivered: string[];
    readonly deliveredTwice: string[];
    readonly missingFromPostgres: string[];
    readonly chatsHeldByTwoSampled: string[];
    readonly chatsHeldByTwoJournal: string[];
    readonly capacitySampled: string[];
    readonly capacityJournal: string[];
  };
  readonly convergence: { readonly converged: boolean | null; readonly detail: string };
  readonly faults: FaultResult[];
}

const seconds = (ms: number | null): string => (ms === null ? '—' : `${(ms / 1000).toFixed(1)} s`);

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The printed form: the five counts (each must be 0), then one row per fault. */
export function formatReport(report: ChaosReport): string {
  const c = report.counts;
  const t = report.traffic;
  const rejected = Object.entries(t.messagesRejected)
    .map(([code, n]) => `${code} ${n}`)
    .join(', ');
  const counts = table(
    ['check', 'count', 'expected'],
    [
      ['acknowledged but never delivered to the other side', String(c.ackedNotDelivered), '0'],
      ['delivered twice', String(c.deliveredTwice), '0'],
      ['acknowledged but missing from PostgreSQL', String(c.missingFromPostgres), '0'],
      ['chats ever held by two operators', String(c.chatsHeldByTwo), '0'],
      ['capacity violations', String(c.capacityViolations), '0'],
    ],
  );
  const faults = table(
    [
      'fault',
      'at',
      'lasted',
      'resume (first site)',
      'resume (all sites)',
      'longest stall',
      'msgs sent/done',
      'chats started/assigned',
      'max assign wait',
      'chat starts refused',
    ],
    report.faults.map((f) => [
      f.name,
      seconds(f.injectedAtMs),
      seconds(f.durationMs),
      seconds(f.resumeFirstMs),
      seconds(f.resumeAllSitesMs),
      seconds(f.longestStallMs),
      `${f.messagesSent}/${f.messagesCompleted}`,
      `${f.chatsStarted}/${f.chatsAssigned}`,
      seconds(f.maxAssignWaitMs),
      Object.entries(f.chatStartFailures)
        .map(([why, n]) => `${why} ${n}`)
        .join(', ') || '0',
    ]),
  );
  const notes = report.faults
    .filter((f) => f.notes.length > 0)
    .map((f) => `  ${f.name}: ${f.notes.join('; ')}`);
  const problems = report.faults.flatMap((f) => f.problems.map((p) => `  ${f.name}: ${p}`));
  const details = Object.entries(report.details)
    .filter(([, list]) => list.length > 0)
    .map(([name, list]) => `  ${name} (${list.length}): ${list.slice(0, 10).join(', ')}`);
  return [
    `Chaos run ${report.date}: ${seconds(report.durationMs)} on ${report.machine.cpus} CPUs, node ${report.machine.node}`,
    `traffic: ${t.sites} sites, ${t.operators} operators, ${t.visitorSlots} visitors at a time, ` +
      `${t.chatsStarted} chats (${t.chatStartFailures} start failures), ${t.messagesSent} messages sent, ` +
      `${t.messagesAcked} acknowledged, rejected: ${rejected || 'none'}, unsettled: ${t.messagesUnsettled}, ` +
      `${t.holdingSamples} holding samples`,
    '',
    counts,
    '',
    faults,
    ...(notes.length > 0 ? ['', 'notes:', ...notes] : []),
    '',
    problems.length > 0 ? 'PROBLEMS after the faults:' : 'no problem after any fault',
    ...problems,
    ...(details.length > 0 ? ['', 'details:', ...details] : []),
    '',
    `convergence after the drain: ${report.convergence.converged === null ? 'unknown' : String(report.convergence.converged)} (${report.convergence.detail})`,
  ].join('\n');
}
