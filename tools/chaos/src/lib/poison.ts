/**
 * The chaos fault "poison input under traffic": a burst of inputs that once wedged a node or
 * looped for ever (issue 9), sent while the traffic runs. Every HTTP and socket input must get an
 * error reply at once; every broker message must be dropped or dead-lettered, never applied and
 * never redelivered for ever. Returns what went wrong (nothing, when all is well).
 */
import { httpJson, SocketRecorder } from '@chat/testing';
import { connect } from 'amqplib';
import { request } from 'node:http';
import { randomUUID } from 'node:crypto';

export interface PoisonTarget {
  /** nginx, as clients reach the cluster */
  readonly entry: string;
  readonly siteId: string;
  /** the cluster's vhost URL, for the broker messages */
  readonly amqpUrl: string;
  /** `<MQ_NODE_ID_PREFIX><cluster_name>` */
  readonly brokerBase: string;
}

export interface PoisonResult {
  readonly sent: number;
  readonly problems: string[];
}

const NUL = 'nul\u0000byte';
const SURROGATE = 'lone \ud800 surrogate';
const REPLY_WITHIN_MS = 3000;

/** JSON nested 10,000 deep, as text (building it as an object and stringifying it recurses). */
const DEEP_JSON = '['.repeat(10_000) + ']'.repeat(10_000);

/** A POST whose raw body and headers are ours (httpJson would re-encode the body). */
function rawPost(
  url: string,
  body: string,
  headers: Record<string, string>,
): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers, timeout: REPLY_WITHIN_MS }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer')));
    req.on('error', reject);
    req.end(body);
  });
}

export async function sendPoison(target: PoisonTarget, rounds: number): Promise<PoisonResult> {
  const problems: string[] = [];
  let sent = 0;
  const chats = `${target.entry}/l/v/chats?site=${target.siteId}`;
  const expectRefused = async (what: string, attempt: Promise<{ status: number }>) => {
    sent += 1;
    try {
      const { status } = await attempt;
      if (status < 400 || status >= 500) problems.push(`${what}: HTTP ${status}`);
    } catch (error) {
      problems.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
    }
  };

  for (let round = 0; round < rounds; round += 1) {
    const siteId = target.siteId;
    await Promise.all([
      expectRefused('NUL in a name', httpJson('POST', chats, { siteId, name: NUL })),
      expectRefused('lone surrogate', httpJson('POST', chats, { siteId, name: SURROGATE })),
      expectRefused(
        'NUL in a field key',
        httpJson('POST', chats, { siteId, name: 'Eve', fields: { [NUL]: 'x' } }),
      ),
      expectRefused(
        '__proto__ field',
        rawPost(chats, `{"siteId":"${siteId}","name":"Eve","fields":{"__proto__":{"x":1}}}`, {
          'content-type': 'application/json',
        }),
      ),
      expectRefused(
        'nested 10,000 deep',
        rawPost(chats, `{"siteId":"${siteId}","name":"Eve","fields":${DEEP_JSON}}`, {
          'content-type': 'application/json',
        }),
      ),
      expectRefused(
        'unknown Content-Encoding',
        rawPost(chats, JSON.stringify({ siteId, name: 'Eve' }), {
          'content-type': 'application/json',
          'content-encoding': 'x-unknown',
        }),
      ),
      expectRefused(
        'latin1 charset',
        rawPost(chats, JSON.stringify({ siteId, name: 'Eve' }), {
          'content-type': 'application/json; charset=latin1',
        }),
      ),
      expectRefused(
        'NUL in an offline message',
        httpJson('POST', `${target.entry}/l/v/offline-messages?site=${siteId}`, {
          siteId,
          name: 'Eve',
          email: 'eve@example.test',
          text: NUL,
        }),
      ),
    ]);
  }

  problems.push(...(await socketPoison(target, rounds, () => (sent += 1))));
  problems.push(...(await brokerPoison(target, rounds, () => (sent += 1))));
  return { sent, problems };
}

/** A chat of its own, and poison on its visitor socket; the chat is closed afterwards. */
async function socketPoison(
  target: PoisonTarget,
  rounds: number,
  count: () => void,
): Promise<string[]> {
  const problems: string[] = [];
  const started = await httpJson('POST', `${target.entry}/l/v/chats?site=${target.siteId}`, {
    siteId: target.siteId,
    name: 'Poison visitor',
  });
  if (started.status !== 201) return [`a chat for the socket poison: HTTP ${started.status}`];
  const { token } = started.body as { token: string };
  const url = new URL(target.entry);
  const socket = await SocketRecorder.connect(url.origin, '/ws/v/chat', token, {
    query: { site: target.siteId },
  });
  try {
    // As JSON text, sent raw: socket.io-client cannot serialise a 10,000-deep payload itself.
    const payloads: [string, string][] = [
      ['NUL text', JSON.stringify({ clientMessageId: 'p-nul', text: NUL })],
      ['lone surrogate text', JSON.stringify({ clientMessageId: 'p-sur', text: SURROGATE })],
      ['nested 10,000 deep', `{"clientMessageId":"p-deep","text":${DEEP_JSON}}`],
      ['NUL client id', JSON.stringify({ clientMessageId: NUL, text: 'hello' })],
      ['__proto__ key', '{"clientMessageId":"p-proto","__proto__":{"text":"x"}}'],
    ];
    for (let round = 0; round < rounds; round += 1) {
      for (const [what, payload] of payloads) {
        count();
        try {
          const reply = await socket.requestRaw<{ ok: boolean; error?: { code: string } }>(
            'message.send',
            payload,
            REPLY_WITHIN_MS,
          );
          if (reply.ok || reply.error?.code === 'INTERNAL') {
            problems.push(`socket ${what}: ${JSON.stringify(reply)}`);
          }
        } catch (error) {
          problems.push(
            `socket ${what}: ${error instanceof Error ? error.message : String(error)}`,
          );
        }
      }
    }
    const history = await socket.request<{ ok: boolean; data?: { messages?: unknown[] } }>(
      'chat.sync',
      { afterMessageId: null },
      REPLY_WITHIN_MS,
    );
    const stored = history.data?.messages?.length ?? -1;
    if (stored !== 0) problems.push(`socket poison: the chat holds ${stored} messages, not 0`);
    await socket.request('chat.close', { reason: 'poison done' }, REPLY_WITHIN_MS).catch(() => {
      problems.push('socket poison: the chat did not close');
    });
  } finally {
    socket.close();
  }
  return problems;
}

/**
 * Straight onto the broker, as someone holding only the RabbitMQ credentials: garbage and forged
 * events on the state fan-out, garbage into the persistence queue.
 */
async function brokerPoison(
  target: PoisonTarget,
  rounds: number,
  count: () => void,
): Promise<string[]> {
  const problems: string[] = [];
  const connection = await connect(target.amqpUrl);
  try {
    const channel = await connection.createConfirmChannel();
    const state = `${target.brokerBase}.state`;
    const persistence = `${target.brokerBase}.chat.persistence`;
    const forged = (): Buffer =>
      Buffer.from(
        JSON.stringify({
          id: randomUUID(),
          type: 'chat.message.added',
          origin: 'master',
          clock: `${Date.now().toString(16).padStart(12, '0')}-0000-master`,
          data: { chatId: randomUUID(), siteId: target.siteId, messageId: randomUUID() },
        }),
      );
    for (let round = 0; round < rounds; round += 1) {
      const bodies: [string, string, Buffer][] = [
        [state, 'not JSON on the state fan-out', Buffer.from('{not json')],
        [state, 'a forged, unsigned event', forged()],
        ['', 'not JSON in the persistence queue', Buffer.from('\u0000\u0001garbage')],
        ['', 'a wrong-shape event in the persistence queue', forged()],
      ];
      for (const [exchange, what, body] of bodies) {
        count();
        try {
          channel.publish(exchange, exchange === '' ? persistence : '', body, {
            messageId: randomUUID(),
            persistent: true,
            contentType: 'application/json',
          });
        } catch (error) {
          problems.push(
            `broker ${what}: ${error instanceof Error ? error.message : String(error)}`,
          );
        }
      }
    }
    await channel.waitForConfirms();
    await channel.close();
  } finally {
    await connection.close();
  }
  return problems;
}
