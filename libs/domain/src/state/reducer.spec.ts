import { formatStamp, stampWallMs } from '../clock/hlc';
import {
  assigned,
  BASE_MS,
  closed,
  ev,
  message,
  operator,
  operatorAuthor,
  rated,
  sessionClosed,
  sessionOpened,
  site,
  started,
  stateOf,
  status,
  visitorAuthor,
} from '../test-support/builders';
import { operatorLoad } from './queries';
import { applyEvent, createState } from './reducer';

describe(`${createState.name}`, () => {
  it('starts empty at revision 0', () => {
    const sut = createState();
    expect(sut.sites.size + sut.departments.size + sut.operators.size + sut.chats.size).toBe(0);
    expect(sut.revision).toBe(0);
  });
});

describe(`${applyEvent.name}`, () => {
  describe('last-writer-wins registers', () => {
    it('keeps the newer site whatever the order and bumps the revision only on change', () => {
      const older = ev('site.upserted', { site: { id: 's1', name: 'Old' } }, { wall: 1000 });
      const newer = ev('site.upserted', { site: { id: 's1', name: 'New' } }, { wall: 2000 });
      const sut = createState();

      expect(applyEvent(sut, newer)).toEqual({
        changed: true,
        changes: [{ kind: 'site', siteId: 's1' }],
      });
      expect(applyEvent(sut, older)).toEqual({ changed: false, changes: [] });
      expect(applyEvent(sut, newer)).toEqual({ changed: false, changes: [] });

      expect(sut.sites.get('s1')?.value.name).toBe('New');
      expect(sut.revision).toBe(1);
    });

    it('breaks clock ties by event id', () => {
      const a = ev('site.upserted', { site: { id: 's1', name: 'A' } }, { wall: 1000, id: 'a' });
      const b = ev('site.upserted', { site: { id: 's1', name: 'B' } }, { wall: 1000, id: 'b' });
      expect(stateOf([a, b]).sites.get('s1')?.value.name).toBe('B');
      expect(stateOf([b, a]).sites.get('s1')?.value.name).toBe('B');
    });

    it('keeps the latest operator status and profile', () => {
      const sut = stateOf([
        status('o1', 's1', 'offline', { wall: 3000 }),
        status('o1', 's1', 'online', { wall: 2000 }),
        operator('o1', 's1', { name: 'New' }, { wall: 5000 }),
        operator('o1', 's1', { name: 'Old' }, { wall: 4000 }),
      ]);
      expect(sut.operators.get('o1')?.status?.value).toBe('offline');
      expect(sut.operators.get('o1')?.profile?.value.name).toBe('New');
    });
  });

  describe('sessions', () => {
    it('treats a session as open iff opened and not closed, whatever the order', () => {
      const open = sessionOpened('o1', 's1', 'x');
      const close = sessionClosed('o1', 's1', 'x');
      for (const order of [
        [open, close],
        [close, open],
      ]) {
        const sut = stateOf(order);
        expect(sut.operators.get('o1')?.sessionsOpened.has('x')).toBe(false);
        expect(sut.operators.get('o1')?.sessionsClosed.has('x')).toBe(true);
      }
    });

    it('reports an opened session as an operator change once', () => {
      const sut = createState();
      const open = sessionOpened('o1', 's1', 'x');
      expect(applyEvent(sut, open).changes).toEqual([
        { kind: 'operator', siteId: 's1', operatorId: 'o1' },
      ]);
      expect(applyEvent(sut, open).changed).toBe(false);
    });
  });

  describe('chats', () => {
    it('creates a placeholder for a chat whose start has not arrived yet', () => {
      const sut = stateOf([message('c1', 's1', 'm1', 'k1')]);
      expect(sut.chats.get('c1')).toMatchObject({ siteId: 's1', started: false, visitor: null });

      applyEvent(sut, started('c1', 's1', 'd1'));
      expect(sut.chats.get('c1')).toMatchObject({
        started: true,
        initialDepartmentId: 'd1',
        visitor: { id: 'visitor-of-c1' },
      });
      expect(sut.chats.get('c1')?.messages.map((m) => m.id)).toEqual(['m1']);
    });

    it('lets the highest epoch win even against a later clock', () => {
      const deposed = assigned('c1', 's1', 'o-old', 1, { wall: BASE_MS + 9_000_000 });
      const master = assigned('c1', 's1', 'o-new', 2, { wall: BASE_MS + 1 });
      for (const order of [
        [deposed, master],
        [master, deposed],
      ]) {
        const sut = stateOf([started('c1', 's1'), ...order]);
        expect(sut.chats.get('c1')?.assignment).toMatchObject({ operatorId: 'o-new', epoch: 2 });
        expect(operatorLoad(sut, 'o-new')).toBe(1);
        expect(operatorLoad(sut, 'o-old')).toBe(0);
      }
    });

    it('within an epoch, the later decision wins', () => {
      const first = assigned('c1', 's1', 'o1', 3, { wall: 1000 });
      const second = assigned('c1', 's1', null, 3, { wall: 2000 });
      expect(stateOf([second, first]).chats.get('c1')?.assignment?.operatorId).toBeNull();
    });

    it('records every decision once in the audit, sorted by clock', () => {
      const a = assigned('c1', 's1', 'o1', 1, { wall: 2000 });
      const b = assigned('c1', 's1', 'o2', 1, { wall: 1000 });
      const sut = stateOf([a, b, a, b]);
      expect(sut.chats.get('c1')?.audit.map((entry) => entry.eventId)).toEqual([b.id, a.id]);
      expect(sut.chats.get('c1')?.audit[1]).toMatchObject({ operatorId: 'o1', reason: 'auto' });
    });

    it('reports the chat and both operators on a reassignment, and tracks lastAssignedAt', () => {
      const sut = stateOf([started('c1', 's1'), assigned('c1', 's1', 'o1', 1, { wall: 1000 })]);
      const reassign = assigned('c1', 's1', 'o2', 1, { wall: 2000 });

      const result = applyEvent(sut, reassign);

      expect(result.changes).toEqual([
        {
          kind: 'chat',
          siteId: 's1',
          chatId: 'c1',
          before: { status: 'assigned', operatorId: 'o1' },
        },
        { kind: 'operator', siteId: 's1', operatorId: 'o1' },
        { kind: 'operator', siteId: 's1', operatorId: 'o2' },
      ]);
      expect(sut.operators.get('o1')?.lastAssignedAt).toBe(1000);
      expect(sut.operators.get('o2')?.lastAssignedAt).toBe(2000);
    });

    it('keeps lastAssignedAt at the maximum even for decisions that lost', () => {
      const sut = stateOf([
        assigned('c1', 's1', 'o1', 5, { wall: 1000 }),
        assigned('c2', 's1', 'o1', 1, { wall: 7000 }),
        assigned('c2', 's1', 'o9', 9, { wall: 3000 }),
      ]);
      expect(sut.operators.get('o1')?.lastAssignedAt).toBe(7000);
    });

    it('keeps the earliest close and keeps a closed chat closed', () => {
      const byVisitor = closed('c1', 's1', visitorAuthor('c1'), { wall: 2000 });
      const byOperator = closed('c1', 's1', operatorAuthor('o1'), { wall: 1000 });
      const sut = stateOf([started('c1', 's1'), assigned('c1', 's1', 'o1'), byVisitor, byOperator]);
      expect(sut.chats.get('c1')?.closed).toMatchObject({ eventId: byOperator.id });
      expect(operatorLoad(sut, 'o1')).toBe(0);

      expect(applyEvent(sut, assigned('c1', 's1', 'o2', 7)).changed).toBe(true);
      expect(sut.chats.get('c1')?.closed).not.toBeNull();
      expect(operatorLoad(sut, 'o2')).toBe(0);
    });

    it('keeps the latest rating, also on a closed chat', () => {
      const sut = stateOf([
        started('c1', 's1'),
        closed('c1', 's1', visitorAuthor('c1')),
        rated('c1', 's1', 5, { wall: 9000 }),
        rated('c1', 's1', 1, { wall: 8000 }),
      ]);
      expect(sut.chats.get('c1')?.rating?.rating).toBe(5);
    });

    it('changes nothing for an offline message', () => {
      const sut = createState();
      const result = applyEvent(
        sut,
        ev('offline.message.left', {
          id: 'x',
          siteId: 's1',
          departmentId: null,
          name: 'n',
          email: 'e@x',
          text: 't',
        }),
      );
      expect(result).toEqual({ changed: false, changes: [] });
      expect(sut.revision).toBe(0);
    });
  });

  describe('messages', () => {
    it('keeps messages sorted by (clock, id) and reports only the message', () => {
      const sut = stateOf([started('c1', 's1')]);
      const late = message('c1', 's1', 'm-b', 'k1', visitorAuthor('c1'), { wall: 3000 });
      const early = message('c1', 's1', 'm-c', 'k2', visitorAuthor('c1'), { wall: 1000 });
      const tie = message('c1', 's1', 'm-a', 'k3', visitorAuthor('c1'), { wall: 3000 });

      expect(applyEvent(sut, late).changes).toEqual([
        { kind: 'message', siteId: 's1', chatId: 'c1', messageId: 'm-b' },
      ]);
      applyEvent(sut, early);
      applyEvent(sut, tie);

      expect(sut.chats.get('c1')?.messages.map((m) => m.id)).toEqual(['m-c', 'm-a', 'm-b']);
      expect(sut.chats.get('c1')?.messages[0]).toMatchObject({
        chatId: 'c1',
        clientMessageId: 'k2',
        clock: formatStamp(1000, 0, 'node-a'),
      });
    });

    it('applies the same message once', () => {
      const sut = stateOf([started('c1', 's1')]);
      const added = message('c1', 's1', 'm1', 'k1');
      applyEvent(sut, added);
      const revision = sut.revision;
      expect(applyEvent(sut, added)).toEqual({ changed: false, changes: [] });
      expect(sut.chats.get('c1')?.messages).toHaveLength(1);
      expect(sut.revision).toBe(revision);
    });

    it('keeps the smaller of two server messages for one client message, in any order', () => {
      const first = message('c1', 's1', 'm-1', 'same', visitorAuthor('c1'), { wall: 1000 });
      const retry = message('c1', 's1', 'm-2', 'same', visitorAuthor('c1'), { wall: 2000 });
      for (const order of [
        [first, retry],
        [retry, first],
        [retry, first, retry],
      ]) {
        const sut = stateOf(order);
        expect(sut.chats.get('c1')?.messages.map((m) => m.id)).toEqual(['m-1']);
      }
    });

    it('does not dedupe the same client id from different authors', () => {
      const sut = stateOf([
        message('c1', 's1', 'm-1', 'same', visitorAuthor('c1')),
        message('c1', 's1', 'm-2', 'same', operatorAuthor('o1')),
      ]);
      expect(sut.chats.get('c1')?.messages).toHaveLength(2);
    });

    it('accepts messages on a closed chat', () => {
      const sut = stateOf([started('c1', 's1'), closed('c1', 's1', visitorAuthor('c1'))]);
      expect(applyEvent(sut, message('c1', 's1', 'm1', 'k1')).changed).toBe(true);
    });
  });

  it('derives the wall time of assignments from their stamp', () => {
    const event = assigned('c1', 's1', 'o1', 1, { wall: 4242 });
    expect(stampWallMs(event.clock)).toBe(4242);
    expect(stateOf([event]).operators.get('o1')?.lastAssignedAt).toBe(4242);
  });

  it('keeps sites apart', () => {
    const sut = stateOf([site('s1'), site('s2')]);
    expect([...sut.sites.keys()].sort()).toEqual(['s1', 's2']);
  });
});
