import { type DomainEvent, type EventEnvelope } from '@chat/domain';
import { isEmptyBatch, messageClientKey, planBatch } from './journal-batch';
import { buildScenario } from './test-support/scenario';

const scenario = buildScenario();
const { ids } = scenario;

function ofType<T extends DomainEvent['type']>(type: T): EventEnvelope<T>[] {
  return scenario.events.filter((e) => e.type === type) as EventEnvelope<T>[];
}

describe('planBatch', () => {
  it('skips ephemeral events and an empty remainder', () => {
    const sessions = scenario.events.filter((e) => e.type.startsWith('operator.session.'));
    expect(sessions.length).toBeGreaterThan(0);
    expect(isEmptyBatch(planBatch(sessions))).toBe(true);
    expect(isEmptyBatch(planBatch(scenario.events))).toBe(false);
  });

  it('keeps the latest write per configuration row', () => {
    const batch = planBatch([...scenario.events].reverse());
    expect(batch.sites).toHaveLength(1);
    expect(batch.sites[0]?.name).toBe('Acme');
    const renamed = batch.operatorProfiles.find((o) => o.id === ids.operatorIds[2]);
    expect(renamed).toMatchObject({ name: 'Renamed', maxChats: 5, disabled: true });
    const op1 = batch.operatorStatuses.find((o) => o.id === ids.operatorIds[1]);
    expect(op1?.status).toBe('away');
  });

  it('keeps the earliest of two messages with one client key, in any order', () => {
    const messages = ofType('chat.message.added');
    const forward = planBatch(messages).messages;
    const backward = planBatch([...messages].reverse()).messages;
    expect(forward).toEqual(backward);
    expect(forward).toHaveLength(messages.length - 1);
    const duplicates = messages.filter(
      (m) => m.data.clientMessageId === ids.duplicateClientMessageId,
    );
    const kept = forward.filter((m) => m.clientMessageId === ids.duplicateClientMessageId);
    expect(kept.map((m) => m.id)).toEqual([duplicates[0]?.data.messageId]);
    expect(new Set(forward.map(messageClientKey)).size).toBe(forward.length);
  });

  it('counts an event once and lists touched chats and lock keys sorted', () => {
    const batch = planBatch([...scenario.events, ...scenario.events]);
    expect(batch.chatEvents).toHaveLength(
      scenario.events.filter((e) =>
        ['chat.started', 'chat.assigned', 'chat.closed', 'chat.rated'].includes(e.type),
      ).length,
    );
    expect(batch.chatIds).toHaveLength(5);
    expect(batch.chatIds).toEqual([...batch.chatIds].sort());
    expect(batch.lockKeys).toEqual([...new Set(batch.lockKeys)].sort());
    expect(batch.lockKeys).toEqual(expect.arrayContaining([ids.siteId, ...batch.chatIds]));
    expect(batch.offlineMessages).toHaveLength(1);
  });
});
