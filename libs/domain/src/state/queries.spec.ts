import {
  assigned,
  closed,
  message,
  onlineOperator,
  operatorAuthor,
  operator,
  sessionClosed,
  sessionOpened,
  started,
  stateOf,
  status,
  visitorAuthor,
} from '../test-support/builders';
import {
  chatDepartmentId,
  chatStatus,
  findMessage,
  findMessageByClientId,
  isOperatorAvailable,
  isOperatorConnected,
  openSessionCount,
  operatorAbsentSinceMs,
  operatorLoad,
  waitingSinceMs,
} from './queries';
import { applyEvent } from './reducer';
import type { ChatRecord, ChatState, OperatorRecord } from './state';

function chat(state: ChatState, id: string): ChatRecord {
  const record = state.chats.get(id);
  if (!record) {
    throw new Error(`no chat ${id}`);
  }
  return record;
}

function op(state: ChatState, id: string): OperatorRecord {
  const record = state.operators.get(id);
  if (!record) {
    throw new Error(`no operator ${id}`);
  }
  return record;
}

describe(`${chatStatus.name}`, () => {
  it('is waiting, then assigned, then closed', () => {
    const state = stateOf([started('c1', 's1')]);
    expect(chatStatus(chat(state, 'c1'))).toBe('waiting');
    applyEvent(state, assigned('c1', 's1', 'o1'));
    expect(chatStatus(chat(state, 'c1'))).toBe('assigned');
    applyEvent(state, assigned('c1', 's1', null));
    expect(chatStatus(chat(state, 'c1'))).toBe('waiting');
    applyEvent(state, closed('c1', 's1', visitorAuthor('c1')));
    expect(chatStatus(chat(state, 'c1'))).toBe('closed');
  });
});

describe(`${chatDepartmentId.name}`, () => {
  it("is the start's department until an assignment names one", () => {
    const state = stateOf([started('c1', 's1', 'd1')]);
    expect(chatDepartmentId(chat(state, 'c1'))).toBe('d1');
    applyEvent(state, assigned('c1', 's1', null, 1, { departmentId: 'd2' }));
    expect(chatDepartmentId(chat(state, 'c1'))).toBe('d2');
  });
});

describe(`${waitingSinceMs.name}`, () => {
  it('counts from the start, or from the requeue that put the chat back', () => {
    const state = stateOf([started('c1', 's1', null, { wall: 1000 })]);
    expect(waitingSinceMs(chat(state, 'c1'))).toBe(1000);
    applyEvent(state, assigned('c1', 's1', 'o1', 1, { wall: 2000 }));
    applyEvent(state, assigned('c1', 's1', null, 1, { wall: 5000 }));
    expect(waitingSinceMs(chat(state, 'c1'))).toBe(5000);
  });

  it('is null for a chat not started', () => {
    expect(waitingSinceMs(chat(stateOf([assigned('c1', 's1', 'o1')]), 'c1'))).toBeNull();
  });
});

describe(`${operatorLoad.name}`, () => {
  it('counts started, non-closed chats assigned to the operator', () => {
    const state = stateOf([
      started('c1', 's1'),
      assigned('c1', 's1', 'o1'),
      started('c2', 's1'),
      assigned('c2', 's1', 'o1'),
      assigned('c3', 's1', 'o1'), // not started
      started('c4', 's1'),
      assigned('c4', 's1', 'o1'),
      closed('c4', 's1', visitorAuthor('c4')),
    ]);
    expect(operatorLoad(state, 'o1')).toBe(2);
    applyEvent(state, started('c3', 's1'));
    expect(operatorLoad(state, 'o1')).toBe(3);
    applyEvent(state, assigned('c1', 's1', 'o2', 2));
    expect(operatorLoad(state, 'o1')).toBe(2);
    expect(operatorLoad(state, 'o2')).toBe(1);
    expect(operatorLoad(state, 'nobody')).toBe(0);
  });
});

describe(`${openSessionCount.name}`, () => {
  it('counts opened sessions that were not closed', () => {
    const state = stateOf([
      sessionOpened('o1', 's1', 'a'),
      sessionOpened('o1', 's1', 'b'),
      sessionClosed('o1', 's1', 'a'),
    ]);
    expect(openSessionCount(op(state, 'o1'))).toBe(1);
    expect(isOperatorConnected(op(state, 'o1'))).toBe(true);
  });
});

describe(`${operatorAbsentSinceMs.name}`, () => {
  it('is null while connected', () => {
    expect(operatorAbsentSinceMs(op(stateOf([sessionOpened('o1', 's1', 'a')]), 'o1'))).toBeNull();
  });

  it('is the latest session close, else the status time', () => {
    const state = stateOf([status('o1', 's1', 'online', { wall: 500 })]);
    expect(operatorAbsentSinceMs(op(state, 'o1'))).toBe(500);
    applyEvent(state, sessionClosed('o1', 's1', 'a', { wall: 3000 }));
    applyEvent(state, sessionClosed('o1', 's1', 'b', { wall: 2000 }));
    expect(operatorAbsentSinceMs(op(state, 'o1'))).toBe(3000);
  });

  it('is null when nothing is known', () => {
    expect(operatorAbsentSinceMs(op(stateOf([operator('o1', 's1')]), 'o1'))).toBeNull();
  });
});

describe(`${isOperatorAvailable.name}`, () => {
  it('needs a profile, not disabled, online, connected and below the limit', () => {
    const state = stateOf([...onlineOperator('o1', 's1', { maxChats: 1 })]);
    expect(isOperatorAvailable(state, 'o1')).toBe(true);

    applyEvent(state, started('c1', 's1'));
    applyEvent(state, assigned('c1', 's1', 'o1'));
    expect(isOperatorAvailable(state, 'o1')).toBe(false);

    expect(isOperatorAvailable(stateOf(onlineOperator('o2', 's1', { disabled: true })), 'o2')).toBe(
      false,
    );
    expect(
      isOperatorAvailable(
        stateOf([...onlineOperator('o3', 's1'), status('o3', 's1', 'away')]),
        'o3',
      ),
    ).toBe(false);
    expect(
      isOperatorAvailable(
        stateOf([...onlineOperator('o4', 's1'), sessionClosed('o4', 's1', 'session-o4')]),
        'o4',
      ),
    ).toBe(false);
    expect(isOperatorAvailable(stateOf([sessionOpened('o5', 's1', 'x')]), 'o5')).toBe(false);
  });
});

describe(`${findMessageByClientId.name}`, () => {
  it('finds the kept message of an author by client id, whatever the arrival order', () => {
    const later = message('c1', 's1', 'm-2', 'dup', visitorAuthor('c1'), { wall: 2_000_000 });
    const earlier = message('c1', 's1', 'm-1', 'dup', visitorAuthor('c1'), { wall: 1_000_000 });
    const state = stateOf([started('c1', 's1'), later, earlier]);
    const sut = chat(state, 'c1');
    expect(findMessageByClientId(sut, visitorAuthor('c1'), 'dup')?.id).toBe('m-1');
    expect(findMessageByClientId(sut, operatorAuthor('o1'), 'dup')).toBeUndefined();
    expect(findMessageByClientId(sut, visitorAuthor('c1'), 'other')).toBeUndefined();
    expect(findMessage(sut, 'm-1')?.clientMessageId).toBe('dup');
    expect(findMessage(sut, 'm-2')).toBeUndefined();
  });
});
