import { v5, v7 } from 'uuid';

/** A new globally unique, time-ordered id (UUIDv7). */
export function newId(): string {
  return v7();
}

/** Source of unique ids; injectable so tests can use predictable ids. */
export abstract class IdGenerator {
  abstract next(): string;
}

export class UuidV7IdGenerator extends IdGenerator {
  next(): string {
    return v7();
  }
}

/** Namespaces of the name-based ids below (UUIDv5); fixed for ever, or ids would change. */
const MESSAGE_ID_NAMESPACE = '6f1d8a52-3c1e-4d0b-9a57-2b8f0e6c4d11';
const CHAT_ID_NAMESPACE = '0b7e4c2a-8d3f-4a61-b5c9-7e2d1f6a9c30';
const VISITOR_ID_NAMESPACE = 'c4a9e1d7-5b2f-4e83-a0d6-9f3b7c1e5a28';

/**
 * The server id of a message: derived from (chat, author, client message id), so every node that
 * accepts the same message, first send or re-send after a failover, gives it the same id, and a
 * client that deduplicates by id never shows it twice.
 */
export function messageIdFor(
  chatId: string,
  author: { kind: string; id: string | null },
  clientMessageId: string,
): string {
  return v5(
    JSON.stringify([chatId, author.kind, author.id, clientMessageId]),
    MESSAGE_ID_NAMESPACE,
  );
}

/**
 * The chat and visitor ids of a chat start with an idempotency key: every node derives the same
 * ids from (site, key), so a retried start finds the chat the first attempt opened, and two
 * attempts racing on two nodes open one chat (the reducer keeps the earliest start).
 */
export function chatStartIdsFor(
  siteId: string,
  idempotencyKey: string,
): { chatId: string; visitorId: string } {
  const name = JSON.stringify([siteId, idempotencyKey]);
  return { chatId: v5(name, CHAT_ID_NAMESPACE), visitorId: v5(name, VISITOR_ID_NAMESPACE) };
}
