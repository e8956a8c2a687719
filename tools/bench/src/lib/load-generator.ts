/**
 * A load generator process (forked by the harness, one for the visitors and one for the
 * operators, so that the clients' own CPU is apart from the servers'). It speaks plain
 * socket.io-client, the same to our nodes and to the bare baselines: `message.send` with an ack
 * on the visitor channel, `state.delta` message items on the operator channel.
 */
import { io, type Socket } from 'socket.io-client';
import { benchText, nowMs, parseBenchText } from './clock';

export interface ClientSpec {
  readonly url: string;
  readonly path: string;
  readonly auth: Record<string, unknown>;
  readonly query?: Record<string, string>;
}

export type GeneratorCommand =
  | { cmd: 'connect'; clients: ClientSpec[] }
  | { cmd: 'run'; runId: string; rate: number; seconds: number }
  | { cmd: 'collect' }
  | { cmd: 'close' };

export interface SentRecord {
  readonly cmid: string;
  readonly sentAt: number;
  ackAt: number | null;
  error: string | null;
}

export interface ReceivedRecord {
  readonly cmid: string;
  readonly sentAt: number;
  readonly at: number;
}

export type GeneratorReply =
  | { type: 'connected'; count: number }
  | { type: 'sent'; records: SentRecord[] }
  | { type: 'received'; records: ReceivedRecord[] }
  | { type: 'error'; message: string };

interface DeltaItem {
  kind: string;
  message?: { text?: unknown; author?: { kind?: unknown } };
}

const sockets: Socket[] = [];
let received: ReceivedRecord[] = [];

function reply(message: GeneratorReply): void {
  process.send?.(message);
}

async function connectAll(clients: readonly ClientSpec[]): Promise<void> {
  // A few at a time: hundreds of simultaneous handshakes only measure the handshake.
  for (let i = 0; i < clients.length; i += 20) {
    await Promise.all(clients.slice(i, i + 20).map((spec) => connectOne(spec)));
  }
}

function connectOne(spec: ClientSpec): Promise<void> {
  const socket = io(spec.url, {
    path: spec.path,
    auth: spec.auth,
    ...(spec.query ? { query: spec.query } : {}),
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  sockets.push(socket);
  socket.on('state.delta', (delta: { items?: DeltaItem[] }) => {
    const at = nowMs();
    for (const item of delta.items ?? []) {
      if (item.kind !== 'message' || item.message?.author?.kind !== 'visitor') continue;
      const parsed =
        typeof item.message.text === 'string' ? parseBenchText(item.message.text) : null;
      if (parsed) received.push({ ...parsed, at });
    }
  });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (error: Error) => reject(error));
  });
}

/** Sends `rate` messages per second, spread over every socket in turn, for `seconds`. */
async function run(runId: string, rate: number, seconds: number): Promise<SentRecord[]> {
  const records: SentRecord[] = [];
  const total = Math.round(rate * seconds);
  const started = nowMs();
  let next = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const due = Math.min(total, Math.floor(((nowMs() - started) * rate) / 1000));
      while (next < due) {
        const socket = sockets[next % sockets.length];
        if (!socket) break;
        const cmid = `${runId}-${next}`;
        const sentAt = nowMs();
        const record: SentRecord = { cmid, sentAt, ackAt: null, error: null };
        records.push(record);
        socket.emit(
          'message.send',
          { clientMessageId: cmid, text: benchText(sentAt, cmid) },
          (answer: { ok?: boolean; error?: { code?: string } }) => {
            if (answer.ok === true) record.ackAt = nowMs();
            else record.error = answer.error?.code ?? 'ERROR';
          },
        );
        next += 1;
      }
      if (next >= total) {
        clearInterval(timer);
        resolve();
      }
    };
    const timer = setInterval(tick, 1);
  });
  // Acks still on their way: wait for them, bounded.
  const deadline = nowMs() + 15_000;
  while (records.some((r) => r.ackAt === null && r.error === null) && nowMs() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  return records;
}

process.on('message', (command: GeneratorCommand) => {
  const handle = async (): Promise<void> => {
    switch (command.cmd) {
      case 'connect':
        await connectAll(command.clients);
        reply({ type: 'connected', count: sockets.length });
        return;
      case 'run':
        reply({ type: 'sent', records: await run(command.runId, command.rate, command.seconds) });
        return;
      case 'collect': {
        const records = received;
        received = [];
        reply({ type: 'received', records });
        return;
      }
      case 'close':
        for (const socket of sockets) socket.close();
        process.exit(0);
    }
  };
  handle().catch((error: unknown) =>
    reply({ type: 'error', message: error instanceof Error ? error.message : String(error) }),
  );
});
