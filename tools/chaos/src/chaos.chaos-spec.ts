/**
 * The chaos suite (`npm run test:chaos`, issue 4): a master and three slaves behind the real nginx,
 * on the real RabbitMQ (a fresh vhost, each node through its own TCP proxy) and PostgreSQL (a fresh
 * schema), with continuous traffic from the client library: operators answering every visitor
 * message, visitors chatting, chats starting and closing. Faults, one after the other, traffic
 * running: kill -9 a slave, kill -9 the master, SIGSTOP/SIGCONT the master, restart RabbitMQ, stop
 * and start PostgreSQL, cut one slave off the broker, rolling restart of every node. Then the
 * traffic stops and drains, and the suite prints and checks: acknowledged but never delivered,
 * delivered twice, missing from PostgreSQL, chats held by two operators, capacity violations (all
 * must be 0), and the time to resume after each fault. Method and figures: docs/reliability.md.
 *
 * The machine's shared RabbitMQ and PostgreSQL are stopped and started (as root): afterAll starts
 * them again whatever happened, before anything else.
 */
import type { ClusterStatus } from '@chat/server';
import {
  CLIENT_LIMITS_OFF,
  checkBroker,
  describeError,
  httpJson,
  requireService,
  ServiceFaults,
  sleep,
  TEST_DATABASE_URL,
  waitFor,
} from '@chat/testing';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { ChaosCluster } from './lib/chaos-cluster';
import {
  analyseJournal,
  type FaultResult,
  type FaultWindow,
  type JournalRow,
  Ledger,
  measureFault,
} from './lib/ledger';
import { type ChaosReport, formatReport } from './lib/report';
import { sendPoison } from './lib/poison';
import { type SiteSetup, Traffic } from './lib/traffic';

const ROOT = join(__dirname, '../../..');
const OUT_DIR = join(ROOT, 'tmp/chaos');
const NODES = ['master', 'slave1', 'slave2', 'slave3'];
const MASTER = 'master';
const ADMIN_KEY = 'chaos-suite-admin-key-0123456789';
const ADMIN = { 'x-admin-key': ADMIN_KEY };

/** Traffic shape: 3 sites (one per slave), 2 operators of 3 chats each, 5 visitors per site. */
const SITES = 3;
const OPERATORS_PER_SITE = 2;
const MAX_CHATS = 3;
const VISITORS_PER_SITE = 5;

/** Pauses of the scenario, ms. */
const WARM_UP = 8000;
const SETTLE = 8000;
const DOWN = 6000; // a killed node stays down this long before it is started again
const PAUSED = 5000; // SIGSTOP, more than NODE_DEADLINE_MS
const BROKER_DOWN = 5000;
const POSTGRES_DOWN = 60_000;
const CUT = 10_000;
/** A message with this text trips the slaves' write-path fault point (kill after the publish). */
const KILL_TRIGGER = '#chaos-kill-after-publish';
/** Rounds of the poison burst (each: 8 HTTP, 5 socket, 4 broker inputs). */
const POISON_ROUNDS = 25;

const t0 = Date.now();
function log(line: string): void {
  process.stdout.write(`[chaos +${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}\n`);
}

interface Mark {
  /** The fault is in effect now (when that is later than the start of `run`). */
  injected(): void;
  /** The fault is over (the node is back, the service answers, the link forwards). */
  undone(): void;
  note(text: string): void;
}

interface Fault {
  readonly name: string;
  /** Injects the fault and undoes it. */
  run(mark: Mark): Promise<void>;
}

describe('chaos: a cluster under faults, traffic running', () => {
  const ledger = new Ledger();
  let services: ServiceFaults | undefined;
  let cluster: ChaosCluster | undefined;
  let traffic: Traffic | undefined;
  let sites: SiteSetup[] = [];
  let report: ChaosReport | undefined;
  let scenarioError: unknown;
  /** How many faults the scenario runs (every one must be in the report). */
  let plannedFaults = 0;

  const admin = async <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => {
    const response = await httpJson(method, `${cluster?.entry ?? ''}${path}`, body, ADMIN);
    if (response.status >= 300) {
      throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(response.body)}`);
    }
    return response.body as T;
  };

  /** Sites until each slave serves one (nginx hashes the site), each with its operators. */
  const createSites = async (c: ChaosCluster): Promise<SiteSetup[]> => {
    const bySlave = new Map<string, string>();
    for (let i = 0; i < 40 && bySlave.size < SITES; i += 1) {
      const site = await admin<{ id: string }>('POST', '/l/admin/sites', { name: `Chaos ${i}` });
      const probe = await httpJson('GET', `${c.entry}/l/v/sites/${site.id}/availability`);
      const slave = probe.headers['x-chat-node'] ?? '';
      if (!bySlave.has(slave)) bySlave.set(slave, site.id);
    }
    if (bySlave.size < SITES)
      log(`only ${bySlave.size} slaves got a site: ${[...bySlave.keys()].join(', ')}`);
    const result: SiteSetup[] = [];
    let n = 0;
    for (const [slave, siteId] of [...bySlave.entries()].sort()) {
      const operators = [];
      for (let i = 0; i < OPERATORS_PER_SITE; i += 1) {
        const email = `op${i}@chaos-${n}.test`;
        const password = `password-chaos-${n}-${i}`;
        const created = await admin<{ id: string }>('POST', `/l/admin/sites/${siteId}/operators`, {
          name: `Chaos ${n} operator ${i}`,
          email,
          password,
          maxChats: MAX_CHATS,
        });
        operators.push({ id: created.id, email, password, maxChats: MAX_CHATS });
      }
      result.push({ siteId, slave, operators });
      n += 1;
    }
    log(`sites: ${result.map((s) => `${s.siteId.slice(-6)} on ${s.slave}`).join(', ')}`);
    return result;
  };

  /** Waits until every running node answers /readyz 200; returns how long it took. */
  const allReady = async (c: ChaosCluster, timeoutMs = 60_000): Promise<number> => {
    const started = Date.now();
    await waitFor(
      async () => {
        for (const node of NODES.filter((n) => c.isRunning(n))) {
          const ready = await httpJson('GET', `${c.url(node)}/readyz`);
          if (ready.status !== 200) return false;
        }
        return true;
      },
      { timeoutMs, intervalMs: 200, description: 'every node ready' },
    );
    return Date.now() - started;
  };

  /**
   * After a fault has settled: every operator whose console is connected and resynced must be
   * shown online and connected by every running node (that is what availability and assignment
   * read), and every node must find each site available. Checked for up to 10 s; when it still
   * fails, the problem is recorded with what each node shows, and the consoles of the operators
   * concerned are reconnected, so that the next fault starts from a healthy cluster.
   */
  const checkOperators = async (c: ChaosCluster, t: Traffic): Promise<string[]> => {
    const deadline = Date.now() + 10_000;
    /** what is wrong → the nodes that show it */
    let wrong = new Map<string, string[]>();
    let reconnect = new Set<string>();
    const running = (): string[] => NODES.filter((n) => c.isRunning(n));
    for (;;) {
      wrong = new Map();
      reconnect = new Set();
      const add = (what: string, node: string): void => {
        wrong.set(what, [...(wrong.get(what) ?? []), node]);
      };
      for (const node of running()) {
        for (const [index, site] of sites.entries()) {
          try {
            const views = await httpJson(
              'GET',
              `${c.url(node)}/l/admin/sites/${site.siteId}/operators`,
              undefined,
              ADMIN,
            );
            if (views.status !== 200) throw new Error(`operators: HTTP ${views.status}`);
            const list = views.body as { id: string; status: string; connected: boolean }[];
            for (const view of list) {
              const actor = t.operators.find((o) => o.account.id === view.id);
              if (actor?.client?.ready && (!view.connected || view.status !== 'online')) {
                const shown = `${view.status}/${view.connected ? 'connected' : 'disconnected'}`;
                add(`operator ${actor.index} (site ${index}) shown ${shown}`, node);
                reconnect.add(view.id);
              }
            }
            const available = await httpJson(
              'GET',
              `${c.url(node)}/l/v/sites/${site.siteId}/availability`,
            );
            if ((available.body as { online?: boolean }).online !== true) {
              add(`site ${index} unavailable (NO_OPERATORS_ONLINE)`, node);
            }
          } catch (error) {
            add(describeError(error), node);
          }
        }
      }
      if (wrong.size === 0) return [];
      if (Date.now() > deadline) break;
      await sleep(500);
    }
    const everywhere = running().join(',');
    const what = [...wrong.entries()].map(
      ([problem, nodes]) =>
        `${problem} by ${nodes.join(',') === everywhere ? 'every node' : nodes.join(', ')}`,
    );
    const problem =
      `${reconnect.size} of ${t.operators.length} connected consoles not shown online and ` +
      `connected 10 s after the fault settled: ${what.join('; ')}; reconnected them`;
    await t.reconnectOperators([...reconnect]);
    return [problem];
  };

  const clusterStatus = async (): Promise<ClusterStatus> =>
    admin<ClusterStatus>('GET', '/l/cluster/status');

  const faultList = (c: ChaosCluster, s: ServiceFaults, t: Traffic): Fault[] => {
    const slaveOf = (index: number): string => sites[index % sites.length]?.slave ?? 'slave1';
    const restart = async (node: string, mark: Mark) => {
      await sleep(DOWN);
      const started = Date.now();
      await c.startNode(node);
      mark.undone();
      mark.note(
        `${node} down ${DOWN / 1000} s, ready ${((Date.now() - started) / 1000).toFixed(1)} s after its start`,
      );
    };
    return [
      {
        name: `kill -9 ${slaveOf(0)}`,
        run: async (mark) => {
          await c.kill9(slaveOf(0));
          await restart(slaveOf(0), mark);
        },
      },
      {
        name: 'kill -9 master',
        run: async (mark) => {
          await c.kill9(MASTER);
          await restart(MASTER, mark);
        },
      },
      {
        name: `SIGSTOP master ${PAUSED / 1000} s`,
        run: async (mark) => {
          c.pause(MASTER);
          await sleep(PAUSED);
          c.resume(MASTER);
          mark.undone();
        },
      },
      {
        name: 'restart RabbitMQ',
        run: async (mark) => {
          await s.stopBroker();
          mark.injected();
          await sleep(BROKER_DOWN);
          await s.startBroker();
          mark.undone();
          mark.note(`every node ready ${(await allReady(c)) / 1000} s after the broker`);
        },
      },
      {
        name: `stop PostgreSQL ${POSTGRES_DOWN / 1000} s`,
        run: async (mark) => {
          await s.stopPostgres();
          mark.injected();
          await sleep(POSTGRES_DOWN);
          await s.startPostgres();
          mark.undone();
        },
      },
      {
        name: `cut ${slaveOf(1)} off the broker ${CUT / 1000} s`,
        run: async (mark) => {
          c.proxy(slaveOf(1)).cut();
          await sleep(CUT);
          c.proxy(slaveOf(1)).restore();
          mark.undone();
          mark.note(`${slaveOf(1)} ready ${(await allReady(c)) / 1000} s after the link came back`);
        },
      },
      {
        name: `kill ${slaveOf(2)} between the publish and the ack`,
        run: async (mark) => {
          const node = slaveOf(2);
          const site = sites[2 % sites.length];
          if (!site) throw new Error('no site');
          const exited = c.expectExit(node);
          // A visitor on that slave sends the trigger: the slave dies once the broker confirmed
          // the message (the operator, on any slave, gets it) and before the visitor's ack.
          await waitFor(() => t.sendMarked(site.siteId, KILL_TRIGGER), {
            timeoutMs: 20_000,
            intervalMs: 200,
            description: `a connected visitor of site ${site.siteId}`,
          });
          await exited;
          mark.injected();
          mark.note(`${node} killed itself at the fault point kill-after-publish`);
          await restart(node, mark);
        },
      },
      {
        name: `poison input under traffic (${POISON_ROUNDS} rounds)`,
        run: async (mark) => {
          const site = sites[0];
          if (!site) throw new Error('no site');
          const result = await sendPoison(
            {
              entry: c.entry,
              siteId: site.siteId,
              amqpUrl: c.amqpUrl,
              brokerBase: 'chaos',
            },
            POISON_ROUNDS,
          );
          mark.undone();
          mark.note(`${result.sent} poison inputs, ${result.problems.length} answered wrongly`);
          if (result.problems.length > 0) {
            throw new Error(`poison answered wrongly: ${result.problems.slice(0, 5).join('; ')}`);
          }
        },
      },
      {
        name: 'rolling restart',
        run: async (mark) => {
          const order = [...NODES.filter((n) => n !== MASTER), MASTER];
          for (const node of order) {
            const started = Date.now();
            const stopped = Date.now();
            const how = await c.stopNode(node);
            const down = Date.now() - stopped;
            await c.startNode(node);
            mark.note(
              `${node} stopped (${how}) in ${(down / 1000).toFixed(1)} s, back in ${((Date.now() - started) / 1000).toFixed(1)} s`,
            );
            await sleep(2000);
          }
          mark.undone();
        },
      },
    ];
  };

  beforeAll(async () => {
    await requireService('postgres', async () => {
      const pg = new Client({ connectionString: TEST_DATABASE_URL });
      await pg.connect();
      await pg.end();
    });
    await requireService('rabbitmq', checkBroker);
    try {
      execFileSync(process.execPath, [join(ROOT, 'tools/cluster/nginx.mjs'), '--which'], {
        stdio: 'ignore',
      });
    } catch {
      throw new Error('nginx is missing: run tools/cluster/ensure-nginx.sh (as root) first');
    }
    cluster = await ChaosCluster.start({
      root: ROOT,
      clusterName: 'chaos',
      nodes: NODES,
      master: MASTER,
      adminKey: ADMIN_KEY,
      jwtSecret: 'chaos-suite-jwt-secret-0123456789-abcdef',
      env: {
        HEARTBEAT_INTERVAL_MS: '500',
        NODE_DEADLINE_MS: '2000',
        OPERATOR_GRACE_MS: '60000',
        LOG_LEVEL: process.env['CHAOS_LOG_LEVEL'] ?? 'warn',
        LOGIN_RATE_LIMIT_PER_MINUTE: '1000',
        ...CLIENT_LIMITS_OFF,
        FAULT_POINT: 'kill-after-publish',
        FAULT_TRIGGER: KILL_TRIGGER,
      },
      log,
    });
    services = new ServiceFaults({ amqpUrl: cluster.amqpUrl, log });
    sites = await createSites(cluster);
    traffic = new Traffic({
      entry: cluster.entry,
      sites,
      visitorsPerSite: VISITORS_PER_SITE,
      sendEveryMs: [300, 500],
      chatLifetimeMs: [12_000, 25_000],
      ledger,
      log,
    });
    await traffic.startOperators();
    log(`cluster up: ${cluster.entry}, vhost ${cluster.vhostName}, schema ${cluster.schema}`);
  }, 240_000);

  afterAll(async () => {
    // The shared services first: other people's tests need them.
    const problems: string[] = [];
    await services?.restoreAll().catch((error: unknown) => problems.push(describeError(error)));
    traffic?.close();
    const failed =
      scenarioError !== undefined ||
      report === undefined ||
      Object.values(report.counts).some((n) => n > 0) ||
      report.faults.some((f) => f.resumeAllSitesMs === null || f.problems.length > 0) ||
      (cluster?.crashes.length ?? 0) > 0;
    if (cluster) {
      mkdirSync(OUT_DIR, { recursive: true });
      writeFileSync(join(OUT_DIR, 'node-logs.txt'), cluster.logs());
      if (failed) {
        process.stdout.write(
          `\n===== node logs (last 150 lines of each process) =====\n${cluster.logs(150)}\n`,
        );
      }
      log(`node logs: ${join(OUT_DIR, 'node-logs.txt')}`);
    }
    await cluster?.shutdown().catch((error: unknown) => problems.push(describeError(error)));
    if (problems.length > 0) throw new Error(problems.join('\n'));
  }, 240_000);

  it('runs every fault with traffic flowing, then drains and measures', async () => {
    const c = cluster;
    const s = services;
    const t = traffic;
    if (!c || !s || !t) throw new Error('the cluster did not start');
    try {
      t.start();
      const trafficStart = Date.now();
      log(`traffic: ${t.operators.length} operators, ${t.slots.length} visitors`);
      await sleep(WARM_UP);

      const windows: FaultWindow[] = [];
      const faults = faultList(c, s, t);
      plannedFaults = faults.length;
      for (const fault of faults) {
        const window: { -readonly [K in keyof FaultWindow]: FaultWindow[K] } = {
          name: fault.name,
          injectedAt: Date.now(),
          undoneAt: null,
          endsAt: 0,
          notes: [],
          problems: [],
        };
        windows.push(window);
        log(`fault: ${fault.name}`);
        try {
          await fault.run({
            injected: () => (window.injectedAt = Date.now()),
            undone: () => (window.undoneAt = Date.now()),
            note: (text) => {
              window.notes.push(text);
              log(`  ${text}`);
            },
          });
        } catch (error) {
          window.problems.push(`the fault itself failed: ${describeError(error)}`);
          log(`  ${fault.name} failed: ${describeError(error)}`);
          await s.restoreAll().catch(() => undefined);
          for (const proxy of c.proxies.values()) proxy.restore();
          for (const node of NODES) {
            if (!c.isRunning(node)) await c.startNode(node).catch(() => undefined);
          }
        }
        await allReady(c).catch((error: unknown) => {
          window.problems.push(`not every node ready: ${describeError(error)}`);
        });
        await sleep(SETTLE);
        window.endsAt = Date.now();
        window.problems.push(...(await checkOperators(c, t)));
        for (const problem of window.problems) log(`  PROBLEM: ${problem}`);
        const status = await clusterStatus().catch(() => null);
        const acting = status?.actingMaster;
        log(
          `  settled; acting master ${acting ? `${acting.node} epoch ${acting.epoch}` : '?'}, ` +
            `sent ${ledger.sent.size}, acked ${ledger.acked().length}, outstanding ${t.outstanding()}`,
        );
      }

      log('stopping the traffic, draining');
      await t.stopSending();
      const drained = await t.drain(60_000);
      log(`drained: ${drained.outstanding} outstanding, ${drained.undelivered} undelivered`);
      report = await buildReport(c, t, windows, trafficStart);
      const text = formatReport(report);
      process.stdout.write(`\n${text}\n\n`);
      mkdirSync(OUT_DIR, { recursive: true });
      writeFileSync(join(OUT_DIR, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
      writeFileSync(join(OUT_DIR, 'report.txt'), `${text}\n`);
      log(`report: ${join(OUT_DIR, 'report.json')}`);
    } catch (error) {
      scenarioError = error;
      throw error;
    }
    expect(report).toBeDefined();
  }, 540_000);

  const counts = (): ChaosReport['counts'] => {
    if (!report) throw new Error('no report: the scenario did not finish');
    return report.counts;
  };

  it('delivers every acknowledged message to the other side', () => {
    expect(report?.details.ackedNotDelivered).toEqual([]);
    expect(counts().ackedNotDelivered).toBe(0);
  });

  it('shows no message twice', () => {
    expect(report?.details.deliveredTwice).toEqual([]);
    expect(counts().deliveredTwice).toBe(0);
  });

  it('has every acknowledged message in PostgreSQL', () => {
    expect(report?.details.missingFromPostgres).toEqual([]);
    expect(counts().missingFromPostgres).toBe(0);
  });

  it('never gives a chat to two operators', () => {
    expect(report?.details.chatsHeldByTwoSampled).toEqual([]);
    expect(report?.details.chatsHeldByTwoJournal).toEqual([]);
    expect(counts().chatsHeldByTwo).toBe(0);
  });

  it('never puts an operator over their limit', () => {
    expect(report?.details.capacitySampled).toEqual([]);
    expect(report?.details.capacityJournal).toEqual([]);
    expect(counts().capacityViolations).toBe(0);
  });

  it('leaves the cluster healthy after every fault', () => {
    const problems = (report?.faults ?? []).flatMap((f) =>
      f.problems.map((p) => `${f.name}: ${p}`),
    );
    expect(problems).toEqual([]);
  });

  it('resumes after every fault, and no node crashed', () => {
    const stuck = (report?.faults ?? []).filter((f: FaultResult) => f.resumeAllSitesMs === null);
    expect(stuck.map((f) => f.name)).toEqual([]);
    expect(report?.faults).toHaveLength(plannedFaults);
    expect(cluster?.crashes).toEqual([]);
  });

  async function buildReport(
    c: ChaosCluster,
    t: Traffic,
    windows: FaultWindow[],
    trafficStart: number,
  ): Promise<ChaosReport> {
    const siteIds = sites.map((site) => site.siteId);
    const acked = ledger.acked();

    // PostgreSQL: wait (bounded) until every acknowledged message has its row.
    const pg = new Client({ connectionString: c.databaseUrl });
    await pg.connect();
    let missing: string[] = [];
    let journal: JournalRow[] = [];
    try {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const rows = await pg.query<{ chat_id: string; client_message_id: string }>(
          `SELECT chat_id, client_message_id FROM "${c.schema}".messages WHERE site_id = ANY($1)`,
          [siteIds],
        );
        const stored = new Set(rows.rows.map((r) => `${r.chat_id}/${r.client_message_id}`));
        missing = acked.filter((m) => !stored.has(`${m.chatId}/${m.cmid}`)).map((m) => m.cmid);
        if (missing.length === 0 || Date.now() > deadline) break;
        await sleep(1000);
      }
      await sleep(1000); // the chat events travel in the same batches
      const events = await pg.query<{
        id: string;
        chat_id: string;
        type: string;
        clock: string;
        data: JournalRow['data'];
      }>(
        `SELECT id, chat_id, type, clock, data FROM "${c.schema}".chat_events WHERE site_id = ANY($1)`,
        [siteIds],
      );
      journal = events.rows.map((r) => ({
        id: r.id,
        chatId: r.chat_id,
        type: r.type,
        clock: r.clock,
        data: r.data,
      }));
    } finally {
      await pg.end();
    }
    const maxChats = new Map(t.operators.map((o) => [o.account.id, o.account.maxChats]));
    const findings = analyseJournal(journal, maxChats);

    let convergence: ChaosReport['convergence'] = { converged: null, detail: 'not asked' };
    try {
      const status: ClusterStatus | undefined = await waitFor(
        async () => {
          const st = await clusterStatus();
          return st.converged && st.nodes.every((n) => n.alive && n.ready) ? st : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 500, description: 'every node alive with one digest' },
      );
      if (!status) throw new Error('no status');
      convergence = {
        converged: true,
        detail: `${status.nodes.length} nodes, acting master ${status.actingMaster?.node ?? '?'} epoch ${status.actingMaster?.epoch ?? '?'}`,
      };
    } catch (error) {
      convergence = { converged: false, detail: describeError(error) };
    }

    const duplicates = ledger.duplicates();
    const sampledDouble = [...t.sampler.doubleHolds.values()];
    const sampledCapacity = [...t.sampler.capacityExcesses.values()];
    const doubleChats = new Set([
      ...sampledDouble.map((d) => d.chatId),
      ...findings.doubleAssigned.map((d) => d.chatId),
    ]);
    const capacityOperators = new Set([
      ...sampledCapacity.map((e) => e.operatorId),
      ...findings.capacityExceeded.map((e) => e.operatorId),
    ]);
    const rejected: Record<string, number> = {};
    for (const m of ledger.sent.values()) {
      const key = `${m.side} ${m.error ?? ''}`;
      if (m.ackedAt === null && m.error !== null) rejected[key] = (rejected[key] ?? 0) + 1;
    }
    const ends = [...windows.slice(1).map((w) => w.injectedAt)];
    return {
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, node: process.version, platform: process.platform },
      durationMs: Date.now() - trafficStart,
      traffic: {
        sites: sites.length,
        operators: t.operators.length,
        visitorSlots: t.slots.length,
        chatsStarted: ledger.chats.size,
        chatStartFailures: ledger.chatStartFailures.length,
        messagesSent: ledger.sent.size,
        messagesAcked: acked.length,
        messagesRejected: rejected,
        messagesUnsettled: ledger.unsettled().length,
        holdingSamples: t.sampler.samples,
      },
      counts: {
        ackedNotDelivered: ledger.ackedNotDelivered().length,
        deliveredTwice: duplicates.length,
        missingFromPostgres: missing.length,
        chatsHeldByTwo: doubleChats.size,
        capacityViolations: capacityOperators.size,
      },
      details: {
        ackedNotDelivered: ledger
          .ackedNotDelivered()
          .map(
            (m) =>
              `${m.cmid} (chat ${m.chatId.slice(-6)}, acked +${((m.ackedAt ?? 0) - trafficStart) / 1000}s)`,
          ),
        deliveredTwice: duplicates.map((d) => `${d.receiver} ${d.what} x${d.count}`),
        missingFromPostgres: missing,
        chatsHeldByTwoSampled: sampledDouble.map(
          (d) => `${d.chatId} by ${d.operatorIds.join('+')} (${d.samples} samples)`,
        ),
        chatsHeldByTwoJournal: findings.doubleAssigned.map(
          (d) => `${d.chatId} by ${d.operatorIds.join('+')}`,
        ),
        capacitySampled: sampledCapacity.map(
          (e) => `${e.operatorId} held ${e.held}/${e.maxChats} (${e.samples} samples)`,
        ),
        capacityJournal: findings.capacityExceeded.map(
          (e) => `${e.operatorId} held ${e.held}/${e.maxChats} at ${e.clock}`,
        ),
      },
      convergence,
      faults: windows.map((w, i) =>
        measureFault(ledger, siteIds, { ...w, endsAt: ends[i] ?? w.endsAt }, trafficStart),
      ),
    };
  }
});
