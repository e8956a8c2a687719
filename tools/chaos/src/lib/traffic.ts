/**
 * Continuous chat traffic through nginx with the client library: operators who answer every
 * visitor message in the chats they hold, and visitor "slots" that each start a chat, send a
 * message every few hundred ms, close the chat after a while and start the next. Everything
 * sent, acknowledged and received goes into the {@link Ledger}; a sampler records what every
 * operator holds every 100 ms.
 */
import { OperatorClient, VisitorClient, type ClientOptions } from '@chat/client';
import type { ChatView, MessageView } from '@chat/domain';
import { httpJson, sleep } from '@chat/testing';
import { HoldingSampler, type Ledger, type Receiver } from './ledger';

export interface OperatorAccount {
  readonly id: string;
  readonly email: string;
  readonly password: string;
  readonly maxChats: number;
}

export interface SiteSetup {
  readonly siteId: string;
  /** The slave nginx sends this site's sessions to (while it is up). */
  readonly slave: string;
  readonly operators: readonly OperatorAccount[];
}

export interface TrafficOptions {
  /** nginx: every client goes through it, with `?site=`. */
  readonly entry: string;
  readonly sites: readonly SiteSetup[];
  readonly visitorsPerSite: number;
  /** A visitor sends one message every [min, max] ms. */
  readonly sendEveryMs: readonly [number, number];
  /** A chat is closed after [min, max] ms of traffic, and the slot starts a new one. */
  readonly chatLifetimeMs: readonly [number, number];
  readonly ledger: Ledger;
  readonly log: (line: string) => void;
}

/** Client settings: reconnect fast, give up on an ack after a few seconds (then re-send). */
const CLIENT_TUNING: Partial<ClientOptions> = {
  reconnectDelayMs: 200,
  reconnectDelayMaxMs: 2000,
  ackTimeoutMs: 5000,
  transports: ['websocket'],
};

const random = ([min, max]: readonly [number, number]): number =>
  min + Math.floor(Math.random() * (max - min + 1));

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : error instanceof Error ? error.name : 'ERROR';
}

class OperatorActor {
  client: OperatorClient | null = null;
  private readonly replied = new Set<string>();
  private seq = 0;
  /** Consoles opened so far: each is its own receiver (a new console shows everything anew). */
  private generation = 0;
  readonly sends = new Set<Promise<void>>();

  constructor(
    private readonly traffic: Traffic,
    readonly index: number,
    readonly siteId: string,
    readonly account: OperatorAccount,
  ) {}

  get holding(): string[] {
    return this.client?.snapshot?.chats.map((c) => c.id) ?? [];
  }

  get maxChats(): number {
    return this.client?.snapshot?.me.maxChats ?? this.account.maxChats;
  }

  /** A new console (a new socket, so a new session): the old client is closed. */
  async restart(entry: string): Promise<void> {
    this.client?.close();
    this.client = null;
    await this.start(entry);
  }

  async start(entry: string): Promise<void> {
    const login = await httpJson('POST', `${entry}/l/o/login`, {
      email: this.account.email,
      password: this.account.password,
    });
    if (login.status !== 200) {
      throw new Error(
        `login of ${this.account.email}: ${login.status} ${JSON.stringify(login.body)}`,
      );
    }
    const token = (login.body as { token: string }).token;
    const client = new OperatorClient({
      ...CLIENT_TUNING,
      baseUrl: entry,
      token,
      query: { site: this.siteId },
    });
    this.client = client;
    this.generation += 1;
    const receiver = {
      side: 'operator' as const,
      key: `operator:${this.account.id}#${this.generation}`,
    };
    client.on('message', (chatId: string, message: MessageView) =>
      this.received(receiver, chatId, message),
    );
    client.on('chat', (chat: ChatView) => {
      if (chat.status === 'assigned' && chat.operator?.id === this.account.id) {
        this.traffic.ledger.recordChatAssigned(chat.id, this.account.id, Date.now());
      }
    });
    await client.connect();
    const online = await httpJson(
      'POST',
      `${entry}/l/o/set-status?site=${this.siteId}`,
      { status: 'online' },
      { authorization: `Bearer ${token}` },
    );
    if (online.status !== 200) {
      throw new Error(`set-status of ${this.account.email}: ${online.status}`);
    }
  }

  private received(receiver: Receiver, chatId: string, message: MessageView): void {
    const { ledger } = this.traffic;
    ledger.recordReceipt(receiver, message, Date.now());
    if (
      message.author.kind !== 'visitor' ||
      !this.traffic.sending ||
      this.replied.has(message.id) ||
      !this.holding.includes(chatId)
    ) {
      return;
    }
    this.replied.add(message.id);
    this.reply(chatId, message);
  }

  private reply(chatId: string, to: MessageView): void {
    const client = this.client;
    if (!client) return;
    this.seq += 1;
    const cmid = `o${this.index}-${this.seq}`;
    const { ledger } = this.traffic;
    ledger.recordSend({ cmid, side: 'operator', siteId: this.siteId, chatId, sentAt: Date.now() });
    const send = client.send(chatId, `chaos ${cmid} re ${to.clientMessageId}`, cmid).then(
      (view) => ledger.recordAck(cmid, view, Date.now()),
      (error: unknown) => ledger.recordError(cmid, errorCode(error)),
    );
    this.sends.add(send);
    void send.finally(() => this.sends.delete(send));
  }
}

class VisitorSlot {
  /** Every client this slot opened whose chat still has something outstanding. */
  readonly clients: { client: VisitorClient; chatId: string }[] = [];
  readonly sends = new Set<Promise<void>>();
  private seq = 0;
  private loop: Promise<void> = Promise.resolve();

  constructor(
    private readonly traffic: Traffic,
    readonly name: string,
    readonly siteId: string,
  ) {}

  start(): void {
    this.loop = this.run().catch((error: unknown) => {
      this.traffic.options.log(`visitor slot ${this.name} stopped: ${String(error)}`);
    });
  }

  get done(): Promise<void> {
    return this.loop;
  }

  private async run(): Promise<void> {
    let chats = 0;
    while (this.traffic.sending) {
      chats += 1;
      const started = await this.startChat(`${this.name} #${chats}`);
      if (!started) return;
      await this.chat(started.chatId, started.token);
    }
  }

  private async startChat(name: string): Promise<{ chatId: string; token: string } | null> {
    const { entry } = this.traffic.options;
    let failures = 0;
    while (this.traffic.sending) {
      const at = Date.now();
      try {
        const res = await httpJson('POST', `${entry}/l/v/chats?site=${this.siteId}`, {
          siteId: this.siteId,
          name,
        });
        if (res.status === 201) {
          const body = res.body as { chatId: string; token: string; chat: ChatView };
          this.traffic.ledger.recordChatStarted(body.chatId, this.siteId, at);
          if (body.chat.status === 'assigned' && body.chat.operator) {
            this.traffic.ledger.recordChatAssigned(body.chatId, body.chat.operator.id, Date.now());
          }
          return body;
        }
        const body = res.body as { error?: { code?: string } } | undefined;
        this.fail(at, body?.error?.code ?? `HTTP ${res.status}`, failures++);
      } catch (error) {
        this.fail(at, errorCode(error), failures++);
      }
      await sleep(500);
    }
    return null;
  }

  private fail(at: number, why: string, failures: number): void {
    this.traffic.ledger.recordChatStartFailure(at, why);
    if (failures % 20 === 0) this.traffic.options.log(`start chat (${this.name}): ${why}`);
  }

  private async chat(chatId: string, token: string): Promise<void> {
    const { ledger, options } = this.traffic;
    const client = new VisitorClient({
      ...CLIENT_TUNING,
      baseUrl: options.entry,
      token,
      query: { site: this.siteId },
    });
    const entry = { client, chatId };
    this.clients.push(entry);
    const receiver = { side: 'visitor' as const, key: `visitor:${chatId}` };
    client.on('message', (message: MessageView) =>
      ledger.recordReceipt(receiver, message, Date.now()),
    );
    client.on('chat', (chat: ChatView) => {
      if (chat.status === 'assigned' && chat.operator) {
        ledger.recordChatAssigned(chat.id, chat.operator.id, Date.now());
      }
    });
    await this.connect(client);

    const endsAt = Date.now() + random(options.chatLifetimeMs);
    while (this.traffic.sending && Date.now() < endsAt) {
      if (client.pending.length < 10) this.send(client, chatId);
      await sleep(random(options.sendEveryMs));
    }
    if (!this.traffic.sending) return; // the drain keeps this chat open

    // Close only once everything this visitor sent is acknowledged (a message re-sent after the
    // close would be refused, CHAT_CLOSED) and has reached an operator (an operator who missed a
    // message of a chat closed meanwhile could never get it: closed chats leave the console).
    await this.until(() => client.pending.length === 0, Number.POSITIVE_INFINITY);
    const delivered = (): boolean =>
      ledger
        .sentTo(chatId)
        .every((m) => m.side !== 'visitor' || m.ackedAt === null || m.deliveredAt !== null);
    await this.until(delivered, 15_000);
    if (!this.traffic.sending) return;
    for (let attempt = 1; attempt <= 5; attempt += 1) {
      try {
        await client.closeChat('chaos: chat over');
        ledger.recordChatClosed(chatId, Date.now());
        break;
      } catch (error) {
        const code = errorCode(error);
        if (code === 'CHAT_CLOSED') break;
        if (attempt === 5) options.log(`close chat ${chatId} (${this.name}): ${code}`);
        await sleep(500);
      }
    }
    // Keep the client until every operator reply it was owed has arrived; the final drain closes
    // the rest.
    const owed = (): boolean =>
      ledger
        .sentTo(chatId)
        .every(
          (m) =>
            m.side !== 'operator' ||
            (m.ackedAt === null ? m.error !== null : m.deliveredAt !== null),
        );
    await this.until(owed, 15_000);
    if (owed() && client.pending.length === 0) {
      client.close();
      this.clients.splice(this.clients.indexOf(entry), 1);
    }
  }

  private async connect(client: VisitorClient): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await client.connect();
        return;
      } catch (error) {
        if (attempt >= 20) throw error;
        await sleep(500);
      }
    }
  }

  /**
   * Sends one message now from this slot's open chat, with `marker` in its text (a fault point's
   * trigger); false when the slot has no connected chat at the moment.
   */
  sendMarked(marker: string): boolean {
    const open = this.clients.find((c) => c.client.ready);
    if (!open) return false;
    this.send(open.client, open.chatId, ` ${marker}`);
    return true;
  }

  private send(client: VisitorClient, chatId: string, suffix = ''): void {
    const { ledger } = this.traffic;
    this.seq += 1;
    const cmid = `${this.name}-${this.seq}`;
    ledger.recordSend({ cmid, side: 'visitor', siteId: this.siteId, chatId, sentAt: Date.now() });
    const send = client.send(`chaos ${cmid}${suffix}`, cmid).then(
      (view) => ledger.recordAck(cmid, view, Date.now()),
      (error: unknown) => ledger.recordError(cmid, errorCode(error)),
    );
    this.sends.add(send);
    void send.finally(() => this.sends.delete(send));
  }

  private async until(condition: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition() && Date.now() < deadline && this.traffic.sending) await sleep(100);
  }
}

export class Traffic {
  /** False once {@link stopSending} ran: no new messages, replies or chats. */
  sending = false;
  readonly sampler = new HoldingSampler();
  readonly operators: OperatorActor[] = [];
  readonly slots: VisitorSlot[] = [];
  private samplerTimer: NodeJS.Timeout | undefined;

  constructor(readonly options: TrafficOptions) {}

  get ledger(): Ledger {
    return this.options.ledger;
  }

  /** Logs every operator in, connects their consoles and sets them online. */
  async startOperators(): Promise<void> {
    let index = 0;
    for (const site of this.options.sites) {
      for (const account of site.operators) {
        const actor = new OperatorActor(this, index++, site.siteId, account);
        this.operators.push(actor);
        await actor.start(this.options.entry);
      }
    }
  }

  /** Opens a new console for each of these operators (see {@link OperatorActor.restart}). */
  async reconnectOperators(ids: readonly string[]): Promise<void> {
    for (const actor of this.operators.filter((o) => ids.includes(o.account.id))) {
      await actor.restart(this.options.entry);
    }
  }

  /** Starts the visitors and the 100 ms holding sampler. */
  start(): void {
    this.sending = true;
    this.samplerTimer = setInterval(() => this.sample(), 100);
    for (const [s, site] of this.options.sites.entries()) {
      for (let v = 0; v < this.options.visitorsPerSite; v += 1) {
        const slot = new VisitorSlot(this, `v${s}x${v}`, site.siteId);
        this.slots.push(slot);
        slot.start();
      }
    }
  }

  private sample(): void {
    const at = Date.now();
    const holdings = this.operators.map((o) => ({
      operatorId: o.account.id,
      maxChats: o.maxChats,
      chatIds: o.holding,
    }));
    for (const holding of holdings) {
      for (const chatId of holding.chatIds)
        this.ledger.recordChatAssigned(chatId, holding.operatorId, at);
    }
    this.sampler.sample(holdings, at);
  }

  /**
   * One visitor of the site sends a message with `marker` in its text at once (the chaos fault
   * that trips a node's write-path fault point); false when none of them has a connected chat.
   */
  sendMarked(siteId: string, marker: string): boolean {
    return this.slots.some((slot) => slot.siteId === siteId && slot.sendMarked(marker));
  }

  /** No new messages, replies or chats from now on; waits for the visitor loops to end. */
  async stopSending(): Promise<void> {
    this.sending = false;
    await Promise.all(this.slots.map((s) => s.done));
  }

  private visitorClients(): VisitorClient[] {
    return this.slots.flatMap((s) => s.clients.map((c) => c.client));
  }

  /** Messages still in some client's outbox, or sent and not settled. */
  outstanding(): number {
    const outboxes = this.visitorClients().reduce((n, c) => n + c.pending.length, 0);
    const sends =
      this.slots.reduce((n, s) => n + s.sends.size, 0) +
      this.operators.reduce((n, o) => n + o.sends.size, 0);
    return outboxes + sends;
  }

  /**
   * Waits (bounded) until every outbox is empty and every send settled, then until every
   * acknowledged message has reached the other side. Returns what was still outstanding.
   */
  async drain(timeoutMs: number): Promise<{ outstanding: number; undelivered: number }> {
    const deadline = Date.now() + timeoutMs;
    while (this.outstanding() > 0 && Date.now() < deadline) await sleep(200);
    while (this.ledger.ackedNotDelivered().length > 0 && Date.now() < deadline) await sleep(200);
    this.sample();
    return { outstanding: this.outstanding(), undelivered: this.ledger.ackedNotDelivered().length };
  }

  /** Stops the sampler and closes every client. */
  close(): void {
    clearInterval(this.samplerTimer);
    for (const client of this.visitorClients()) client.close();
    for (const operator of this.operators) operator.client?.close();
  }
}
