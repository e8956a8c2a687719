/**
 * The bare relay: the least a node must do on the message path, to measure ours against.
 * socket.io → this process → amqplib fanout (confirmed, persistent, Nagle off) → the operators'
 * relay process → socket.io; with `--pg`, a batched PostgreSQL insert (one multi-row statement
 * per 2 ms or 200 rows) before the ack. No validation, no state, no auth beyond the handshake's
 * `to` (which operator gets the visitor's messages).
 *
 *   node bare-relay.js --role in  --port P --amqp URL --exchange X [--pg URL --table T]
 *   node bare-relay.js --role out --port P --amqp URL --exchange X
 */
import { connect, type ConfirmChannel } from 'amqplib';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { Pool } from 'pg';
import { Server } from 'socket.io';

const { values } = parseArgs({
  options: {
    role: { type: 'string' },
    port: { type: 'string' },
    amqp: { type: 'string' },
    exchange: { type: 'string' },
    pg: { type: 'string' },
    table: { type: 'string' },
  },
});
const role = values.role;
const port = Number(values.port);
const exchange = values.exchange ?? 'bare';
if ((role !== 'in' && role !== 'out') || !Number.isInteger(port) || !values.amqp) {
  process.stderr.write('usage: bare-relay --role in|out --port P --amqp URL --exchange X\n');
  process.exit(2);
}

/** The handshake's `to`: which operator the visitor's messages go to. */
function toOf(auth: unknown): string {
  const to = (auth as { to?: unknown } | undefined)?.to;
  return typeof to === 'string' ? to : '';
}

interface RelayedMessage {
  id: string;
  clientMessageId: string;
  text: string;
  to: string;
  author: { kind: 'visitor' };
}

/** Rows waiting for the next multi-row insert, each with the ack it holds up. */
class InsertBatcher {
  private rows: { message: RelayedMessage; done: (error?: Error) => void }[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly pool: Pool,
    private readonly table: string,
  ) {}

  add(message: RelayedMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      this.rows.push({ message, done: (error) => (error ? reject(error) : resolve()) });
      if (this.rows.length >= 200) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), 2);
    });
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const rows = this.rows;
    this.rows = [];
    if (rows.length === 0) return;
    this.pool
      .query(
        `INSERT INTO ${this.table} (id, client_message_id, text) ` +
          `SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING`,
        [
          rows.map((r) => r.message.id),
          rows.map((r) => r.message.clientMessageId),
          rows.map((r) => r.message.text),
        ],
      )
      .then(
        () => rows.forEach((r) => r.done()),
        (error: unknown) =>
          rows.forEach((r) => r.done(error instanceof Error ? error : new Error(String(error)))),
      );
  }
}

function confirmedPublish(channel: ConfirmChannel, body: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    channel.publish(exchange, '', body, { persistent: true }, (error: unknown) =>
      error ? reject(error instanceof Error ? error : new Error('nacked')) : resolve(),
    );
  });
}

async function main(): Promise<void> {
  const http = createServer((req, res) => {
    res.writeHead(req.url === '/readyz' ? 200 : 404).end();
  });
  const io = new Server(http, {
    path: role === 'in' ? '/ws/v/chat' : '/ws/o/delta',
    transports: ['websocket'],
  });
  const connection = await connect(values.amqp ?? '', { noDelay: true });
  if (role === 'in') {
    const channel = await connection.createConfirmChannel();
    await channel.assertExchange(exchange, 'fanout', { durable: true });
    const batcher =
      values.pg && values.table
        ? new InsertBatcher(new Pool({ connectionString: values.pg, max: 4 }), values.table)
        : null;
    io.on('connection', (socket) => {
      const to = toOf(socket.handshake.auth);
      socket.on(
        'message.send',
        (payload: { clientMessageId: string; text: string }, ack: (answer: unknown) => void) => {
          const message: RelayedMessage = {
            id: randomUUID(),
            clientMessageId: payload.clientMessageId,
            text: payload.text,
            to,
            author: { kind: 'visitor' },
          };
          const body = Buffer.from(JSON.stringify(message));
          Promise.all([confirmedPublish(channel, body), batcher?.add(message)]).then(
            () => ack({ ok: true, data: { id: message.id } }),
            () => ack({ ok: false, error: { code: 'UNAVAILABLE' } }),
          );
        },
      );
    });
  } else {
    const channel = await connection.createChannel();
    await channel.assertExchange(exchange, 'fanout', { durable: true });
    const { queue } = await channel.assertQueue('', { exclusive: true });
    await channel.bindQueue(queue, exchange, '');
    await channel.prefetch(1000);
    io.on('connection', (socket) => {
      void socket.join(`op:${toOf(socket.handshake.auth)}`);
    });
    await channel.consume(queue, (delivery) => {
      if (!delivery) return;
      const message = JSON.parse(delivery.content.toString('utf8')) as RelayedMessage;
      io.to(`op:${message.to}`).emit('state.delta', { items: [{ kind: 'message', message }] });
      channel.ack(delivery);
    });
  }
  http.listen(port, '127.0.0.1');
  const stop = (): void => {
    void io.close();
    void connection.close().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`bare relay failed: ${String(error)}\n`);
  process.exit(1);
});
