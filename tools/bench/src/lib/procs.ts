/**
 * CPU and memory of processes, read from /proc (Linux): what each server-side process spent
 * during a run, so that a figure per message can be given whatever else the machine does.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux everywhere). */
const TICKS_PER_SECOND = 100;

/** CPU time (user + system) of one process in ms; null when it is gone. */
export function cpuMsOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (2nd field) may hold spaces: split after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1000) / TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/** Resident set size of one process in KiB; null when it is gone. */
export function rssKibOf(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    return match?.[1] ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/** Pids whose command name (`/proc/<pid>/comm`) is one of `names`: the shared services. */
export function pidsNamed(names: readonly string[]): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
      if (names.includes(comm)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** A named group of processes whose CPU is measured together (a node, the broker, the database). */
export interface ProcessGroup {
  readonly name: string;
  readonly pids: () => number[];
}

/** CPU ms per group between `start()` and `stop()`; processes that ended count what they had. */
export class CpuMeter {
  private readonly before = new Map<number, number>();

  constructor(private readonly groups: readonly ProcessGroup[]) {}

  start(): void {
    this.before.clear();
    for (const group of this.groups) {
      for (const pid of group.pids()) this.before.set(pid, cpuMsOf(pid) ?? 0);
    }
  }

  stop(): Record<string, number> {
    const result: Record<string, number> = {};
    for (const group of this.groups) {
      let total = 0;
      for (const pid of group.pids()) {
        const now = cpuMsOf(pid);
        if (now !== null) total += now - (this.before.get(pid) ?? 0);
      }
      result[group.name] = total;
    }
    return result;
  }
}
