import type { MessageView } from '@chat/domain';
import {
  analyseJournal,
  HoldingSampler,
  type JournalRow,
  Ledger,
  measureFault,
  type SentMessage,
} from './ledger';

const view = (
  cmid: string,
  id: string,
  kind: 'visitor' | 'operator',
  chatId = 'chat-1',
): MessageView => ({
  id,
  chatId,
  clientMessageId: cmid,
  author: { kind, id: kind === 'visitor' ? 'v-1' : 'o-1', name: kind },
  text: `chaos ${cmid}`,
  at: 0,
  clock: '000000000000001.000000.n',
});

const operatorA = { side: 'operator' as const, key: 'operator:a' };
const visitor1 = { side: 'visitor' as const, key: 'visitor:chat-1' };

function send(ledger: Ledger, cmid: string, side: 'visitor' | 'operator', at: number, site = 's1') {
  return ledger.recordSend({ cmid, side, siteId: site, chatId: `chat-${site}`, sentAt: at });
}

describe('Ledger', () => {
  it('counts a message delivered only when the other side receives it', () => {
    const ledger = new Ledger();
    send(ledger, 'v-1', 'visitor', 100);
    ledger.recordAck('v-1', view('v-1', 'm1', 'visitor'), 150);
    ledger.recordReceipt(visitor1, view('v-1', 'm1', 'visitor'), 140); // the sender's own echo
    expect(ledger.ackedNotDelivered().map((m) => m.cmid)).toEqual(['v-1']);
    ledger.recordReceipt(operatorA, view('v-1', 'm1', 'visitor'), 160);
    expect(ledger.ackedNotDelivered()).toEqual([]);
    expect(ledger.sent.get('v-1')).toMatchObject({
      ackedAt: 150,
      deliveredAt: 160,
      messageId: 'm1',
    });
  });

  it('refuses a reused clientMessageId, and keeps rejected messages apart from lost ones', () => {
    const ledger = new Ledger();
    send(ledger, 'o-1', 'operator', 1);
    expect(() => send(ledger, 'o-1', 'operator', 2)).toThrow('reused');
    ledger.recordError('o-1', 'CHAT_CLOSED');
    expect(ledger.ackedNotDelivered()).toEqual([]);
    expect(ledger.unsettled()).toEqual([]);
    send(ledger, 'o-2', 'operator', 3);
    expect(ledger.unsettled().map((m) => m.cmid)).toEqual(['o-2']);
  });

  it('finds a message shown twice: the same id, or one clientMessageId under two ids', () => {
    const ledger = new Ledger();
    send(ledger, 'v-1', 'visitor', 1);
    send(ledger, 'v-2', 'visitor', 1);
    ledger.recordReceipt(operatorA, view('v-1', 'm1', 'visitor'), 2);
    ledger.recordReceipt(operatorA, view('v-1', 'm1', 'visitor'), 3);
    ledger.recordReceipt(operatorA, view('v-2', 'm2', 'visitor'), 2);
    ledger.recordReceipt(operatorA, view('v-2', 'm3', 'visitor'), 2);
    // Another client receiving the same message once is not a duplicate.
    ledger.recordReceipt({ side: 'operator', key: 'operator:b' }, view('v-2', 'm2', 'visitor'), 2);
    expect(ledger.duplicates()).toEqual([
      { receiver: 'operator:a', what: 'id m1', count: 2 },
      { receiver: 'operator:a', what: 'cmid visitor:v-1:v-2', count: 2 },
    ]);
  });

  it('indexes messages by chat and counts receipts of messages it never sent', () => {
    const ledger = new Ledger();
    send(ledger, 'v-1', 'visitor', 1, 'a');
    send(ledger, 'v-2', 'visitor', 1, 'b');
    expect(ledger.sentTo('chat-a').map((m: SentMessage) => m.cmid)).toEqual(['v-1']);
    ledger.recordReceipt(operatorA, view('other', 'mx', 'visitor'), 1);
    ledger.recordReceipt(
      operatorA,
      { ...view('sys', 'my', 'visitor'), author: { kind: 'system', id: null, name: 's' } },
      1,
    );
    expect(ledger.unknownReceipts).toBe(1);
  });
});

describe('HoldingSampler', () => {
  it('records a chat in two operators lists at one sample, and an operator over the limit', () => {
    const sampler = new HoldingSampler();
    sampler.sample(
      [
        { operatorId: 'a', maxChats: 2, chatIds: ['c1', 'c2'] },
        { operatorId: 'b', maxChats: 2, chatIds: ['c3'] },
      ],
      10,
    );
    expect(sampler.doubleHolds.size).toBe(0);
    expect(sampler.capacityExcesses.size).toBe(0);
    sampler.sample(
      [
        { operatorId: 'a', maxChats: 2, chatIds: ['c1', 'c2', 'c4'] },
        { operatorId: 'b', maxChats: 2, chatIds: ['c3', 'c1'] },
      ],
      20,
    );
    sampler.sample([{ operatorId: 'a', maxChats: 2, chatIds: ['c1', 'c2', 'c4', 'c5'] }], 30);
    expect(sampler.samples).toBe(3);
    expect([...sampler.doubleHolds.values()]).toEqual([
      { chatId: 'c1', operatorIds: ['a', 'b'], firstAt: 20, samples: 1 },
    ]);
    expect([...sampler.capacityExcesses.values()]).toEqual([
      { operatorId: 'a', maxChats: 2, held: 4, firstAt: 20, samples: 2 },
    ]);
  });
});

describe('analyseJournal', () => {
  let n = 0;
  const row = (
    chatId: string,
    type: string,
    clock: string,
    data: JournalRow['data'] = {},
  ): JournalRow => ({ id: `e${String(++n).padStart(3, '0')}`, chatId, type, clock, data });
  const assigned = (
    chatId: string,
    clock: string,
    operatorId: string | null,
    reason = 'auto',
    epoch = 1,
  ) => row(chatId, 'chat.assigned', clock, { operatorId, epoch, audit: { reason } });

  it('accepts transfers and requeues, and flags a second operator without either', () => {
    const findings = analyseJournal(
      [
        assigned('c1', '01', 'a'),
        assigned('c1', '02', 'b', 'transfer'),
        assigned('c2', '01', 'a'),
        assigned('c2', '02', null, 'requeue'),
        assigned('c2', '03', 'b'),
        assigned('c3', '01', 'a'),
        assigned('c3', '02', 'b'),
        assigned('c4', '01', 'a'),
        assigned('c4', '02', 'a'),
      ],
      new Map(),
    );
    expect(findings.doubleAssigned).toEqual([{ chatId: 'c3', operatorIds: ['a', 'b'] }]);
    expect(findings.assignments).toBe(9);
  });

  it('orders decisions by epoch first, as the reducer does', () => {
    // Epoch 2 decided for b before (by clock) epoch 1's late decision for a: still two operators.
    const findings = analyseJournal(
      [assigned('c1', '05', 'a', 'auto', 1), assigned('c1', '03', 'b', 'auto', 2)],
      new Map(),
    );
    expect(findings.doubleAssigned).toEqual([{ chatId: 'c1', operatorIds: ['a', 'b'] }]);
  });

  it('replays loads in clock order: closes free a slot, a stale epoch does not count', () => {
    const max = new Map([['a', 2]]);
    const ok = analyseJournal(
      [
        assigned('c1', '01', 'a'),
        assigned('c2', '02', 'a'),
        row('c1', 'chat.closed', '03'),
        assigned('c3', '04', 'a'),
        assigned('c3', '05', 'a', 'auto', 0), // an older epoch's late decision changes nothing
      ],
      max,
    );
    expect(ok.capacityExceeded).toEqual([]);
    const over = analyseJournal(
      [assigned('c1', '01', 'a'), assigned('c2', '02', 'a'), assigned('c3', '03', 'a')],
      max,
    );
    expect(over.capacityExceeded).toEqual([{ operatorId: 'a', held: 3, maxChats: 2, clock: '03' }]);
  });
});

describe('measureFault', () => {
  it('measures the time to resume per site, the longest stall and the chats of the window', () => {
    const ledger = new Ledger();
    const done = (cmid: string, site: string, sent: number, acked: number, delivered: number) => {
      send(ledger, cmid, 'visitor', sent, site);
      ledger.recordAck(cmid, view(cmid, `id-${cmid}`, 'visitor'), acked);
      ledger.recordReceipt(operatorA, view(cmid, `id-${cmid}`, 'visitor'), delivered);
    };
    done('a0', 'a', 900, 950, 960); // before the fault
    done('a1', 'a', 1100, 1200, 1300); // site a: resumes 300 ms after the fault
    done('b1', 'b', 1050, 4000, 3000); // site b: 3000 ms
    done('a2', 'a', 1500, 5000, 5100); // a stall of 3800 ms on site a
    send(ledger, 'b2', 'visitor', 1600, 'b'); // never acknowledged
    ledger.recordChatStarted('c1', 'a', 1100);
    ledger.recordChatAssigned('c1', 'op', 1600);
    ledger.recordChatStarted('c2', 'b', 1200);
    ledger.recordChatStartFailure(1300, 'NO_OPERATORS_ONLINE');
    ledger.recordChatStartFailure(9000, 'NO_OPERATORS_ONLINE'); // after the window

    const result = measureFault(
      ledger,
      ['a', 'b'],
      { name: 'x', injectedAt: 1000, undoneAt: 2000, endsAt: 6000, notes: [], problems: [] },
      0,
    );
    expect(result).toMatchObject({
      injectedAtMs: 1000,
      durationMs: 1000,
      resumeFirstMs: 300,
      resumeAllSitesMs: 3000,
      longestStallMs: 3800,
      messagesSent: 4,
      messagesCompleted: 3,
      chatsStarted: 2,
      chatsAssigned: 1,
      maxAssignWaitMs: 500,
      chatStartFailures: { NO_OPERATORS_ONLINE: 1 },
    });
  });

  it('reports a site that never resumed as null', () => {
    const ledger = new Ledger();
    send(ledger, 'a1', 'visitor', 1100, 'a');
    const result = measureFault(
      ledger,
      ['a'],
      { name: 'x', injectedAt: 1000, undoneAt: null, endsAt: 2000, notes: [], problems: [] },
      0,
    );
    expect(result.resumeFirstMs).toBeNull();
    expect(result.resumeAllSitesMs).toBeNull();
    expect(result.longestStallMs).toBe(1000);
    expect(result.durationMs).toBeNull();
  });
});
